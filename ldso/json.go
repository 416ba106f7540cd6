package ldso

import (
	"encoding/json"
	"io"
	"runtime"
	"strconv"
	"sync/atomic"
	"unicode/utf8"
)

// JSON is the stable JSON shape of one file's answer (see DESIGN.md), as
// `fromscratch ldd --json` prints it.
type JSON struct {
	File             string    `json:"file"`
	Static           bool      `json:"static"`
	Interpreter      string    `json:"interpreter"`
	InterpreterFound *bool     `json:"interpreter_found,omitempty"` // nil when static or on an error
	Flavor           string    `json:"loader,omitempty"`
	Libraries        []Library `json:"libraries"` // never nil
	Error            string    `json:"error,omitempty"`
}

// NewJSON is the JSON of one file's answer: res, or err in the words of
// describe.
func NewJSON(file string, res *Result, err error, describe func(error) string) JSON {
	j := JSON{File: file, Libraries: []Library{}}
	if err != nil {
		j.Error = describe(err)
		return j
	}
	j.Static = res.Static
	if res.Static {
		return j
	}
	j.Interpreter = res.Interpreter
	j.Flavor = res.Flavor
	found := res.InterpreterFound
	j.InterpreterFound = &found
	if len(res.Libraries) > 0 {
		j.Libraries = res.Libraries
	}
	return j
}

// WriteJSON writes the answers for files (results and errs as ResolveAll
// returns them, errors in the words of describe) as a JSON array, one
// object a line. For a whole system this is megabytes: pieces of a few
// files are encoded concurrently and written in order.
func WriteJSON(w io.Writer, files []string, results []*Result, errs []error, describe func(error) string) error {
	if _, err := io.WriteString(w, "[\n"); err != nil {
		return err
	}
	const per = 16 // files a piece
	// A file's object is about 1.5 KiB.
	size := min(len(files), per) * 2 << 10
	err := writeOrdered(w, len(files), per, size, func(b []byte, i int) []byte {
		b = AppendJSON(b, NewJSON(files[i], results[i], errs[i], describe))
		if i < len(files)-1 {
			b = append(b, ',')
		}
		return append(b, '\n')
	})
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, "]\n")
	return err
}

// writeOrdered writes n items, appended to a buffer by item, in order:
// pieces of per items are encoded concurrently through a few recycled
// buffers of about size bytes. It returns the first error of w, having
// waited for every piece.
func writeOrdered(w io.Writer, n, per, size int, item func(b []byte, i int) []byte) error {
	pieces := make([]chan *[]byte, (n+per-1)/per)
	for k := range pieces {
		pieces[k] = make(chan *[]byte, 1)
	}
	workers := min(runtime.GOMAXPROCS(0), len(pieces))
	// A worker takes a buffer before it takes a piece, so the first piece
	// not yet written always has one: the writer never waits forever.
	free := make(chan *[]byte, 2*workers)
	for range cap(free) {
		b := make([]byte, 0, size)
		free <- &b
	}
	var next atomic.Int64
	for range workers {
		go func() {
			for {
				b := <-free
				k := int(next.Add(1) - 1)
				if k >= len(pieces) {
					free <- b
					return
				}
				*b = (*b)[:0]
				for i := k * per; i < min((k+1)*per, n); i++ {
					*b = item(*b, i)
				}
				pieces[k] <- b
			}
		}()
	}
	var err error
	for _, c := range pieces {
		b := <-c
		if err == nil {
			_, err = w.Write(*b)
		}
		free <- b
	}
	return err
}

// AppendJSON appends j as encoding/json would marshal it (same fields,
// order and omissions), without reflection: for thousands of files the
// encoding otherwise costs a fifth of the run. TestJSONEncoding checks
// it against json.Marshal.
func AppendJSON(b []byte, j JSON) []byte {
	b = append(b, `{"file":`...)
	b = appendString(b, j.File)
	b = append(b, `,"static":`...)
	b = strconv.AppendBool(b, j.Static)
	b = append(b, `,"interpreter":`...)
	b = appendString(b, j.Interpreter)
	if j.InterpreterFound != nil {
		b = append(b, `,"interpreter_found":`...)
		b = strconv.AppendBool(b, *j.InterpreterFound)
	}
	if j.Flavor != "" {
		b = append(b, `,"loader":`...)
		b = appendString(b, j.Flavor)
	}
	b = append(b, `,"libraries":[`...)
	for i, l := range j.Libraries {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendLibrary(b, l)
	}
	b = append(b, ']')
	if j.Error != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, j.Error)
	}
	return append(b, '}')
}

func appendLibrary(b []byte, l Library) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, l.Name)
	b = append(b, `,"path":`...)
	b = appendString(b, l.Path)
	b = append(b, `,"found":`...)
	b = strconv.AppendBool(b, l.Found)
	for _, f := range [...]struct{ key, val string }{
		{`,"realpath":`, l.Realpath}, {`,"via":`, l.Via}, {`,"error":`, l.Error}, {`,"needed_by":`, l.NeededBy},
	} {
		if f.val != "" {
			b = append(b, f.key...)
			b = appendString(b, f.val)
		}
	}
	return append(b, '}')
}

// appendString appends s as a JSON string. Plain printable ASCII is copied;
// anything else goes through encoding/json, so escapes are its own.
func appendString(b []byte, s string) []byte {
	if !isPlainJSON(s) {
		q, _ := json.Marshal(s)
		return append(b, q...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// isPlainJSON reports whether json.Marshal copies s as it is (see
// plainJSON), eight bytes at a time: a run's output is megabytes of paths.
func isPlainJSON(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		c := s[i : i+8]
		if plainJSON[c[0]]&plainJSON[c[1]]&plainJSON[c[2]]&plainJSON[c[3]]&
			plainJSON[c[4]]&plainJSON[c[5]]&plainJSON[c[6]]&plainJSON[c[7]] == 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if plainJSON[s[i]] == 0 {
			return false
		}
	}
	return true
}

// plainJSON is 1 for the bytes json.Marshal copies as they are: printable
// ASCII but for '"', '\' and the HTML-escaped '<', '>' and '&'.
var plainJSON = func() (t [256]uint8) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = 1
	}
	for _, c := range `"\<>&` {
		t[c] = 0
	}
	return t
}()
