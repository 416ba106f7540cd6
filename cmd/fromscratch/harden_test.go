package main

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fromscratch/fromscratch/internal/elfcraft"
)

// runMeasured runs fromscratch with args and returns its stderr, exit
// code, CPU time (user and system) and peak resident memory.
func runMeasured(t *testing.T, args ...string) (string, int, time.Duration, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, fromscratchBin(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("fromscratch %s: %v", strings.Join(args, " "), ctx.Err())
	}
	code := 0
	if err != nil {
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() < 0 {
			t.Fatalf("fromscratch %s = %v\nstderr: %s", strings.Join(args, " "), err, stderr.String())
		}
		code = cmd.ProcessState.ExitCode()
	}
	if s := stderr.String(); strings.Contains(s, "panic") || strings.Contains(s, "goroutine ") {
		t.Fatalf("fromscratch %s panicked:\n%s", strings.Join(args, " "), s)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return stderr.String(), code, cpu, ru.Maxrss << 10
}

// TestLddManyNeeded: a 1.1 MB file with 65,000 DT_NEEDED entries naming
// one 65,000-byte string. Before: 40 s and 4.2 GB (every entry copied its
// string). Now one shared string: under 1 s of CPU and 200 MB.
func TestLddManyNeeded(t *testing.T) {
	s := elfcraft.Spec{Dynamic: true, Strtab: []byte("\x00" + strings.Repeat("a", 65000) + "\x00")}
	for range 65000 {
		s.Entries = append(s.Entries, elfcraft.DynEntry{Tag: elf.DT_NEEDED, Val: 1})
	}
	p := filepath.Join(t.TempDir(), "many.so")
	if err := os.WriteFile(p, s.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	stderr, code, cpu, rss := runMeasured(t, "ldd", p)
	t.Logf("ldd: exit %d, %v CPU, %d MB", code, cpu, rss>>20)
	if code != 1 {
		t.Errorf("ldd exit %d, want 1 (a library not found)\nstderr: %s", code, stderr)
	}
	if cpu > time.Second || rss > 200<<20 {
		t.Errorf("ldd took %v of CPU and %d MB, want under 1 s and 200 MB", cpu, rss>>20)
	}
}

// TestLddBadInterp: a program whose PT_INTERP the kernel refuses (empty,
// or without its final NUL) loads nothing: exit 2 naming the defect, on one
// line. Before: listed as a program without a loader, exit 0 or 1.
func TestLddBadInterp(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name   string
		interp []byte
		want   string
	}{
		{"empty", []byte{}, "malformed ELF: PT_INTERP of 0 bytes is empty at byte 0xe8"},
		{"no-nul", []byte("/lib64/ld-linux-x86-64.so.2"), "malformed ELF: PT_INTERP is not NUL-terminated at byte 0xe8"},
	} {
		s := elfcraft.Needed("", "libc.so.6")
		s.Type, s.Interp = elf.ET_EXEC, tt.interp
		p := filepath.Join(dir, tt.name)
		if err := os.WriteFile(p, s.Bytes(), 0o755); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := runFromscratch(t, fromscratchBin(t), "ldd", p)
		if want := "fromscratch: " + p + ": " + tt.want + "\n"; code != 2 || stderr != want {
			t.Errorf("ldd %s: exit %d, stderr %q; want exit 2, %q", tt.name, code, stderr, want)
		}
	}
}
