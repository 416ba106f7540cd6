package builder

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/doctor"
)

// TestErrorClasses: each error type matches the class its exit code comes
// from, and no other.
func TestErrorClasses(t *testing.T) {
	for _, tc := range []struct {
		name              string
		err               error
		bad, missing, off bool // ErrBadInput, closure.ErrMissing, ErrWouldNotStart
	}{
		{"sentinel", ErrNoProgram, true, false, false},
		{"wrapped sentinel", fmt.Errorf("%w, and 2 are asked", ErrOneImage), true, false, false},
		{"option", &OptionError{Option: "Env", Value: "=x", Err: ErrSyntax}, true, false, false},
		{"option, library missing", &OptionError{Option: "DebugTools", Err: fmt.Errorf("libfoo.so.1: %w", closure.ErrMissing)}, false, true, false},
		{"file", &FileError{Path: "/x", Err: &fs.PathError{Op: "open", Path: "/r/x", Err: fs.ErrNotExist}}, true, false, false},
		{"platform", &PlatformError{Path: "/x", Got: "linux/amd64", Want: "linux/arm64"}, true, false, false},
		{"listed paths", &MissingPathsError{Paths: []string{"/a"}}, false, true, false},
		{"go build", &GoBuildError{Package: "./x", Err: errors.New("exit status 1")}, true, false, false},
		{"start", &StartError{Program: "/x", Problem: doctor.Problem{Message: "m", Fix: "f"}}, false, false, true},
		{"other", errors.New("disk full"), false, false, false},
	} {
		bad, missing, off := errors.Is(tc.err, ErrBadInput), errors.Is(tc.err, closure.ErrMissing), errors.Is(tc.err, ErrWouldNotStart)
		if bad != tc.bad || missing != tc.missing || off != tc.off {
			t.Errorf("%s: %v: ErrBadInput %v, ErrMissing %v, ErrWouldNotStart %v; want %v, %v, %v",
				tc.name, tc.err, bad, missing, off, tc.bad, tc.missing, tc.off)
		}
	}
	if got := (&FileError{Path: "/x", Err: &fs.PathError{Op: "open", Path: "/r/x", Err: fs.ErrNotExist}}).Error(); got != "/x: file does not exist" {
		t.Errorf("FileError = %q: want the path as given, once", got)
	}
	if got := (&RootFileError{Root: "/r", Path: "/etc/x", Package: "p", Err: fs.ErrNotExist}).Error(); got != "/etc/x in the root /r: file does not exist (install p there)" {
		t.Errorf("RootFileError = %q", got)
	}
}
