package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fromscratch/fromscratch/internal/testenv"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// fromscratchBin builds the command once for the package's tests.
func fromscratchBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fromscratch-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "fromscratch")
		// Static, as the README installs it.
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = &buildError{out: string(out), err: err}
		}
	})
	if binErr != nil {
		t.Fatalf("go build = %v", binErr)
	}
	return binPath
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// requireTool returns the path of a program the test needs, or stops the
// test (see testenv.Tool); scripts/test installs them all.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	return testenv.Tool(t, name)
}
