package elfinfo

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/fromscratch/fromscratch/internal/elfcraft"
)

// TestExecError: a PT_INTERP the kernel refuses (ENOEXEC) is an exec
// error, and the kernel itself is the oracle: each crafted program is run.
func TestExecError(t *testing.T) {
	tests := []struct {
		name   string
		interp []byte
		want   string // in ExecError; "" none
	}{
		{"empty", []byte{}, "PT_INTERP of 0 bytes is empty"},
		{"only a NUL", []byte{0}, "PT_INTERP of 1 bytes is empty"},
		{"no final NUL", []byte("/lib64/ld-linux-x86-64.so.2"), "PT_INTERP is not NUL-terminated"},
		{"well-formed, missing loader", []byte("/nonexistent/ld.so\x00"), ""},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := elfcraft.Needed("", "libc.so.6")
			s.Interp = tt.interp
			b := s.Bytes()
			info, err := Read(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatalf("Read() = %v", err)
			}
			got := info.ExecError()
			switch {
			case tt.want == "" && got != nil:
				t.Errorf("ExecError() = %v, want nil", got)
			case tt.want != "" && (got == nil || !strings.Contains(got.Error(), tt.want)):
				t.Errorf("ExecError() = %v, want %q", got, tt.want)
			}
			var fe *FormatError
			if got != nil && !errors.As(got, &fe) {
				t.Errorf("ExecError() = %T, want *FormatError", got)
			}
			if runtime.GOARCH != "amd64" {
				return
			}
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if err := os.WriteFile(p, b, 0o755); err != nil {
				t.Fatal(err)
			}
			err = exec.Command(p).Run()
			if enoexec := errors.Is(err, syscall.ENOEXEC); enoexec != (tt.want != "") {
				t.Errorf("the kernel runs it: %v; ExecError() = %v", err, got)
			}
		})
	}
}
