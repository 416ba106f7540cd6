// Package tracer runs a program under ptrace and records the paths its
// process tree uses: opened, executed, stat'ed, read as links, checked
// with access, listed. It stops the tracee only on the system calls that
// name paths (a seccomp-bpf filter returning SECCOMP_RET_TRACE).
//
// This file is the API the rest of fromscratch builds on; the tracer
// itself is being written on the tracer branch.
package tracer

import (
	"context"
	"errors"
	"io"
	"time"
)

// Op is what a process did with a path.
type Op string

// The operations recorded.
const (
	OpOpen     Op = "open"     // open, openat, openat2, creat (read or write)
	OpExec     Op = "exec"     // execve, execveat
	OpStat     Op = "stat"     // stat, lstat, newfstatat, statx
	OpReadlink Op = "readlink" // readlink, readlinkat
	OpAccess   Op = "access"   // access, faccessat, faccessat2
	OpList     Op = "list"     // getdents on a directory opened by path
	OpChdir    Op = "chdir"    // chdir
)

// Access is one path a traced process used.
type Access struct {
	// Path is absolute and clean, as the tracee sees it (inside Root).
	Path string `json:"path"`
	// Op is what was done first with Path (the first of each Op is
	// recorded: a path may appear once per Op).
	Op Op `json:"op"`
	// Found is whether the path existed when it was used.
	Found bool `json:"found"`
	// Pid is the process that used it first.
	Pid int `json:"pid"`
}

// Options says what to run and how.
type Options struct {
	// Argv is the program and its arguments; Argv[0] is looked up in the
	// PATH of Env (or of the tracer's environment when Env is nil) as
	// execvp does.
	Argv []string
	Env  []string
	// Dir is the working directory (inside Root); "" keeps the current one
	// (or "/" with Root).
	Dir string
	// Root, if set, is a directory the program runs chrooted into (root
	// only).
	Root           string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Timeout, if not zero, ends the process tree after this long (SIGKILL);
	// the trace so far is kept and Result.TimedOut is set.
	Timeout time.Duration
}

// Result is what a traced run did.
type Result struct {
	// Accesses in the order they first happened. Paths under /proc, /sys
	// and /dev, and paths the run itself created, are left out.
	Accesses []Access `json:"accesses"`
	// ExitCode is the program's exit status, or 128+signal if a signal
	// ended it (as a shell reports it).
	ExitCode int  `json:"exit_code"`
	TimedOut bool `json:"timed_out,omitempty"`
}

// ErrUnsupported is returned where tracing cannot work (not Linux, ptrace
// refused by Yama or a seccomp policy...), wrapped with the reason.
var ErrUnsupported = errors.New("cannot trace")

// Run runs opts.Argv under the tracer until the whole process tree has
// exited (or ctx is done, or the timeout passed). err is for failures of
// the tracer itself or a program that could not be started; a program
// that ran and failed gives a Result with its ExitCode and a nil err.
func Run(ctx context.Context, opts Options) (*Result, error) {
	return nil, errors.Join(ErrUnsupported, errors.New("tracer not built yet"))
}
