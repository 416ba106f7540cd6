package main

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// TestShellWords: the words are those sh itself makes of the same line
// (printf '%s\n' LINE), the shell as the oracle.
func TestShellWords(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`-c 'echo hi there'`,
		`-c "zcat | groff -man -Tutf8 | head -20"`,
		`a\ b "c \"d\" \\ \$e" 'f\g' h""i ''`,
		"  spaced\tout  words  ",
		`-e 'print("it'"'"'s")'`,
		`"a\nb" \x`,
	} {
		// sh parses LINE as the words of a command: set -- LINE.
		out, err := exec.Command(sh, "-c", "set -- "+line+"\nfor w in \"$@\"; do printf '%s\\0' \"$w\"; done").Output()
		if err != nil {
			t.Fatalf("sh on %q: %v", line, err)
		}
		want := strings.Split(string(out), "\x00")
		want = want[:len(want)-1]
		got, err := shellWords(line)
		if err != nil {
			t.Fatalf("shellWords(%q): %v", line, err)
		}
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("shellWords(%q) = %q; sh says %q", line, got, want)
		}
	}
	for _, bad := range []string{`'open`, `"open`, `a "b`} {
		if _, err := shellWords(bad); err == nil {
			t.Errorf("shellWords(%q): no error", bad)
		}
	}
}
