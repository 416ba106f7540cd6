package ldso

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestJSONEncoding: AppendJSON writes what json.Marshal writes.
func TestJSONEncoding(t *testing.T) {
	yes, no := true, false
	for _, j := range []JSON{
		{File: "/bin/ls", Interpreter: "/lib64/ld-linux-x86-64.so.2", InterpreterFound: &yes, Flavor: "glibc",
			Libraries: []Library{
				{Name: "libc.so.6", Path: "/lib/x86_64-linux-gnu/libc.so.6", Found: true, Realpath: "/usr/lib/x86_64-linux-gnu/libc.so.6", Via: "ld.so.cache", NeededBy: "/bin/ls"},
				{Name: "libgone.so", Error: "invalid ELF header", NeededBy: "/bin/ls"},
			}},
		{File: "/bin/busybox", Static: true, Libraries: []Library{}},
		{File: "odd \"name\"\\ <&> \x01 é \xff", Libraries: []Library{}, Error: "not an ELF file"},
		{File: "/x", Interpreter: "/lib/ld-musl-x86_64.so.1", InterpreterFound: &no, Flavor: "musl", Libraries: []Library{}},
	} {
		want, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		got := AppendJSON(nil, j)
		if string(got) != string(want) {
			t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
		}
		var back JSON
		if err := json.Unmarshal(got, &back); err != nil || !reflect.DeepEqual(back.Libraries, j.Libraries) && len(j.Libraries) > 0 {
			t.Errorf("round trip = %+v, %v", back, err)
		}
	}
}

// TestAppendString: every byte, alone and in a name, as json.Marshal
// writes it.
func TestAppendString(t *testing.T) {
	for c := range 256 {
		var names []string
		for n := range 20 { // the byte at every place of names of up to 20 bytes
			for at := 0; at <= n; at++ {
				names = append(names, strings.Repeat("a", at)+string([]byte{byte(c)})+strings.Repeat("b", n-at))
			}
		}
		for _, s := range names {
			want, _ := json.Marshal(s)
			if got := appendString(nil, s); string(got) != string(want) {
				t.Errorf("appendString(%q) = %s, want %s", s, got, want)
			}
		}
	}
}

// TestCollectLess: the collector is off while files are resolved, and its
// settings are restored after.
func TestCollectLess(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT set")
	}
	pct := debug.SetGCPercent(250)
	defer debug.SetGCPercent(pct)
	restore := CollectLess(1000)
	if got := debug.SetGCPercent(-1); got != -1 {
		t.Errorf("GC percent while resolving = %d, want -1 (off)", got)
	}
	if lim := debug.SetMemoryLimit(-1); lim <= 64<<20 || lim == math.MaxInt64 {
		t.Errorf("memory limit while resolving = %d", lim)
	}
	restore()
	if got := debug.SetGCPercent(250); got != 250 {
		t.Errorf("GC percent after = %d, want 250", got)
	}
	if lim := debug.SetMemoryLimit(-1); lim != math.MaxInt64 {
		t.Errorf("memory limit after = %d, want none", lim)
	}
}

// TestWriteJSON: the array of many files, encoded in pieces concurrently,
// is written in order, each object as json.Marshal writes it; an error of
// the writer is returned, and every piece is still waited for.
func TestWriteJSON(t *testing.T) {
	var files []string
	var results []*Result
	var errs []error
	for i := range 100 { // 7 pieces of 16
		files = append(files, "/bin/prog"+strings.Repeat("é", i%3)+string(rune('a'+i%26)))
		switch i % 3 {
		case 0:
			results, errs = append(results, &Result{Static: true}), append(errs, nil)
		case 1:
			results, errs = append(results, &Result{Interpreter: "/lib/ld.so", InterpreterFound: i%2 == 0, Flavor: "glibc",
				Libraries: []Library{{Name: "libc.so.6", Path: "/lib/libc.so.6", Found: true, Via: "default"}}}), append(errs, nil)
		default:
			results, errs = append(results, nil), append(errs, errors.New("not an ELF file <"+files[i]+">"))
		}
	}
	describe := func(err error) string { return "reason: " + err.Error() }
	var want bytes.Buffer
	want.WriteString("[\n")
	for i := range files {
		b, _ := json.Marshal(NewJSON(files[i], results[i], errs[i], describe))
		want.Write(b)
		if i < len(files)-1 {
			want.WriteByte(',')
		}
		want.WriteByte('\n')
	}
	want.WriteString("]\n")
	for _, procs := range []int{1, 2, 8} {
		prev := runtime.GOMAXPROCS(procs)
		var got bytes.Buffer
		err := WriteJSON(&got, files, results, errs, describe)
		if err != nil || got.String() != want.String() {
			t.Errorf("GOMAXPROCS %d: WriteJSON = %v:\n%s\nwant\n%s", procs, err, got.String(), want.String())
		}
		var back []JSON
		if err := json.Unmarshal(got.Bytes(), &back); err != nil || len(back) != len(files) || back[2].Error != describe(errs[2]) {
			t.Errorf("GOMAXPROCS %d: output is not the array of %d objects: %v", procs, len(files), err)
		}
		full := &shortWriter{room: 5000}
		if err := WriteJSON(full, files, results, errs, describe); !errors.Is(err, errFull) {
			t.Errorf("GOMAXPROCS %d: WriteJSON to a full writer = %v, want %v", procs, err, errFull)
		}
		runtime.GOMAXPROCS(prev)
	}
}

var errFull = errors.New("no space left")

// shortWriter takes room bytes, then fails.
type shortWriter struct{ room int }

func (w *shortWriter) Write(b []byte) (int, error) {
	if len(b) > w.room {
		n := w.room
		w.room = 0
		return n, errFull
	}
	w.room -= len(b)
	return len(b), nil
}
