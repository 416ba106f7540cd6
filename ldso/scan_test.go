package ldso

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// scanSystemDirsSimple is scanSystemDirs as specified: the longest run of
// consecutive NUL-separated strings matching systemDirRE, if of two or more.
func scanSystemDirsSimple(b []byte) []string {
	var best, run []string
	for _, s := range bytes.Split(b, []byte{0}) {
		if len(s) < 64 && systemDirRE.Match(s) {
			run = append(run, strings.TrimSuffix(string(s), "/"))
			if len(run) > len(best) {
				best = append([]string(nil), run...)
			}
			continue
		}
		run = run[:0]
	}
	if len(best) < 2 {
		return nil
	}
	return best
}

func TestScanSystemDirs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"\x7fELF\x00\x00code\x00/lib/x86_64-linux-gnu/\x00/usr/lib/x86_64-linux-gnu/\x00/lib/\x00/usr/lib/\x00more",
			[]string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"}},
		{"x\x00/lib64/\x00/usr/lib64/", []string{"/lib64", "/usr/lib64"}},
		{"/lib/\x00", nil},
		{"/etc/\x00/lib/\x00/usr/lib/\x00/x/\x00/a/lib/\x00/b/lib/\x00/c/lib/", []string{"/a/lib", "/b/lib", "/c/lib"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := scanSystemDirs([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("scanSystemDirs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	parts := []string{"/", "\x00", "lib", "/lib/", "/usr/lib/", "x", "/a/", "/lib64/", "//", "\x00\x00", "+", "é"}
	for range 20000 {
		var sb strings.Builder
		for k := rng.IntN(12); k > 0; k-- {
			sb.WriteString(parts[rng.IntN(len(parts))])
		}
		b := []byte(sb.String())
		if got, want := scanSystemDirs(b), scanSystemDirsSimple(b); !reflect.DeepEqual(got, want) {
			t.Fatalf("scanSystemDirs(%q) = %q, want %q", b, got, want)
		}
	}
}
