package main

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/fromscratch/fromscratch/ldso"
)

// appendJSON appends j as encoding/json would marshal it (same fields,
// order and omissions), without reflection: for thousands of files the
// encoding otherwise costs a fifth of the run. TestLddJSONEncoding checks
// it against json.Marshal.
func appendJSON(b []byte, j lddJSON) []byte {
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

func appendLibrary(b []byte, l ldso.Library) []byte {
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
