package program

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestShebangArgument(t *testing.T) {
	fsys := root(t, map[string]string{"/app/run": "#! /bin/sh  -e -x \t\necho\n"}, nil)
	ex, err := Resolve(fsys, []string{"/app/run", "1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ex.Program().Argv, []string{"/bin/sh", "-e -x", "/app/run", "1"}; !slices.Equal(got, want) {
		t.Errorf("sh's argv = %q, want %q (one argument, the rest of the line)", got, want)
	}
}

func TestParseShebang(t *testing.T) {
	long := "#!/" + strings.Repeat("x", 300)
	for _, tt := range []struct {
		head        string
		interp, arg string
		wantErr     bool
		description string
	}{
		{"#!/bin/sh\n", "/bin/sh", "", false, "plain"},
		{"#!/bin/sh", "/bin/sh", "", false, "no newline, short file"},
		{"#!\t/usr/bin/env  python3 -u  \n", "/usr/bin/env", "python3 -u", false, "one argument"},
		{"#!/bin/sh\x00-e\n", "/bin/sh", "", false, "NUL ends the name, no argument"},
		{"#!/bin/sh -e\x00x\n", "/bin/sh", "-e", false, "NUL ends the argument"},
		{"#!/bin/sh\r\n", "/bin/sh\r", "", false, "CRLF"},
		{"#!   \n", "", "", true, "empty"},
		{long, "", "", true, "name longer than the buffer"},
		{"#!/bin/sh " + strings.Repeat("a", 300), "/bin/sh", strings.Repeat("a", 256-1-len("#!/bin/sh ")), false, "argument cut at the buffer"},
		{"\x7fELF", "", "", true, "not a script"},
	} {
		sb, err := ParseShebang([]byte(tt.head))
		if tt.wantErr {
			if err == nil || !errors.Is(err, ErrFormat) {
				t.Errorf("%s: ParseShebang = %+v, %v; want ErrFormat", tt.description, sb, err)
			}
			continue
		}
		if err != nil || sb.Interpreter != tt.interp || sb.Arg != tt.arg {
			t.Errorf("%s: ParseShebang = %+v, %v; want %q %q", tt.description, sb, err, tt.interp, tt.arg)
		}
	}
}
