package main

import (
	"encoding/json"
	"math"
	"os"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/fromscratch/fromscratch/ldso"
)

// TestLddJSONEncoding: appendJSON writes what json.Marshal writes.
func TestLddJSONEncoding(t *testing.T) {
	yes, no := true, false
	for _, j := range []lddJSON{
		{File: "/bin/ls", Interpreter: "/lib64/ld-linux-x86-64.so.2", InterpreterFound: &yes, Flavor: "glibc",
			Libraries: []ldso.Library{
				{Name: "libc.so.6", Path: "/lib/x86_64-linux-gnu/libc.so.6", Found: true, Realpath: "/usr/lib/x86_64-linux-gnu/libc.so.6", Via: "ld.so.cache", NeededBy: "/bin/ls"},
				{Name: "libgone.so", Error: "invalid ELF header", NeededBy: "/bin/ls"},
			}},
		{File: "/bin/busybox", Static: true, Libraries: []ldso.Library{}},
		{File: "odd \"name\"\\ <&> \x01 é \xff", Libraries: []ldso.Library{}, Error: "not an ELF file"},
		{File: "/x", Interpreter: "/lib/ld-musl-x86_64.so.1", InterpreterFound: &no, Flavor: "musl", Libraries: []ldso.Library{}},
	} {
		want, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		got := appendJSON(nil, j)
		if string(got) != string(want) {
			t.Errorf("appendJSON:\n got %s\nwant %s", got, want)
		}
		var back lddJSON
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

// TestCollectLess: the collector is off while ldd resolves, and its
// settings are restored after.
func TestCollectLess(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT set")
	}
	pct := debug.SetGCPercent(250)
	defer debug.SetGCPercent(pct)
	restore := collectLess(1000)
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
