// Package tracer runs a program and records the paths its process tree
// uses: opened, executed, stat'ed, read as links, checked with access,
// listed. Two mechanisms (Options.Mechanism), which record the same:
//
//   - EBPF (root): eBPF programs on raw tracepoints (ebpf_linux.go,
//     bpfprog_linux.go) record each path system call of the tree with its
//     result and, for a relative path, the directory it is relative to
//     (walked in the kernel at the call), in a ring buffer the tracer reads
//     while the program runs; no tracee ever stops.
//   - Ptrace (no privilege): the tracee is stopped only on the system calls
//     that name paths (a seccomp-bpf filter returning SECCOMP_RET_TRACE).
//
// Auto, the default, is EBPF where its programs load, else Ptrace.
//
// How the ptrace tracer works: Run finds the program in PATH as execvp does and starts it under
// ptrace (PTRACE_TRACEME; chrooted into Root, in Dir). Stopped at the start
// of the program, before its first instruction, the tracee is made to set
// no_new_privs and install a seccomp-bpf filter that returns
// SECCOMP_RET_TRACE for the path system calls and allows the others (two
// prctl calls injected at its program counter; see installFilter). No
// helper process runs between the tracer and the program. The tracer, on
// one locked OS thread,
// follows forks, vforks, clones and execs; at each seccomp stop it reads
// the path (process_vm_readv, else PTRACE_PEEKDATA), resolves it against
// the tracee's cwd or dirfd (/proc/PID/cwd, /proc/PID/fd/N) and, for a
// path not yet known as found, learns whether it exists as the call's
// result would say (ENOENT and ENOTDIR are "not found"; EACCES and the
// like are found). For opens, stats, accesses, readlinks and a failed
// exec it looks the path up itself at the call's entry (fstatat through
// /proc/PID/cwd or /proc/PID/fd/N, from the tracee's mount namespace and
// root), so the tracee stops once per call; for calls that create a path,
// a successful exec and any call in a chroot it resumes to the call's exit
// and reads the result. fstatat(fd, "", AT_EMPTY_PATH), glibc's fstat, is
// let through untraced by the filter.
//
// No capability is needed: a process may trace its own children. In a
// container (the static fromscratch binary bind-mounted into it), Docker
// 20.10's default seccomp profile allows ptrace, process_vm_readv and
// seccomp on Linux 4.8 and later, so a plain `docker run` works, as the
// image's user; where a profile refuses ptrace, Run fails with
// ErrUnsupported and `--security-opt seccomp=unconfined` (or
// `--cap-add SYS_PTRACE` for older profiles) is the fix. Yama's
// ptrace_scope 1 and 2 allow tracing one's children; 3 forbids all ptrace.
//
// Limits: set-user-ID programs run as the caller (no_new_privs); system
// calls of a foreign ABI (i386 or x32 on x86-64, arm32 on arm64) are not
// traced; the kernel's own opens (the ELF interpreter) are not system
// calls, but the program a process runs (/proc/PID/exe) and a script's
// #! interpreter are recorded as exec.
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
	OpStat     Op = "stat"     // stat, lstat, newfstatat, statx; the directory a created path is made in
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
	// All keeps the paths under /proc, /sys and /dev and the paths the run
	// created, which are left out by default.
	All bool

	// UID and GID, when User is set, are who the program runs as (with no
	// supplementary groups): the user an image runs as. Root only.
	User     bool
	UID, GID uint32
	// Binds are mounted, in a mount namespace of the run's own, over
	// paths of the root before the program starts (root only): the
	// image's /etc/passwd in place of the host's, an empty /tmp. The
	// tracer and the rest of the system keep their view.
	Binds []Bind

	// Mechanism is how the tree is followed: Auto (the default) is eBPF
	// where its programs load, else ptrace.
	Mechanism Mechanism
}

// Mechanism is how the tracer follows the process tree.
type Mechanism string

const (
	// Auto is EBPF where it can load (root, a kernel with BTF), else Ptrace.
	Auto Mechanism = ""
	// Ptrace stops the tracee on each path system call (seccomp-bpf with
	// SECCOMP_RET_TRACE) and looks at it; it needs no privilege.
	Ptrace Mechanism = "ptrace"
	// EBPF records the path system calls with eBPF programs in the kernel
	// (raw tracepoints), which the tracer reads as the program runs: the
	// tracee never stops. Root only (CAP_BPF and CAP_PERFMON), Linux 5.8
	// and later with BTF (/sys/kernel/btf/vmlinux).
	EBPF Mechanism = "ebpf"
)

// Bind mounts Source, a host file or directory, over Target, a path in
// the run's root that must exist and be of the same kind.
type Bind struct {
	Source, Target string
}

// Result is what a traced run did.
type Result struct {
	// Accesses in the order they first happened. Paths under /proc, /sys
	// and /dev, paths the run itself created, and qemu-user's looks under
	// its prefix that found nothing (a foreign-architecture program, see
	// emulatorPrefixes), are left out.
	Accesses []Access `json:"accesses"`
	// ExitCode is the program's exit status, or 128+signal if a signal
	// ended it (as a shell reports it).
	ExitCode int  `json:"exit_code"`
	TimedOut bool `json:"timed_out,omitempty"`
	// Mechanism is the one that traced the run (Ptrace or EBPF).
	Mechanism Mechanism `json:"-"`
}

// ErrUnsupported is returned where tracing cannot work (not Linux, ptrace
// refused by Yama or a seccomp policy...), wrapped with the reason.
var ErrUnsupported = errors.New("cannot trace")

// ErrStart is returned, wrapped with the reason, when the program cannot be
// started: not found in PATH, not executable, a --root or Dir that cannot
// be entered.
var ErrStart = errors.New("cannot start the program")

// Run runs opts.Argv under the tracer until the whole process tree has
// exited (or ctx is done, or the timeout passed). err is for failures of
// the tracer itself or a program that could not be started; a program
// that ran and failed gives a Result with its ExitCode and a nil err.
// When ctx is done the tree is killed and Run returns the trace so far
// with ctx's error.
//
// When Stdin, Stdout and Stderr are files (or nil) and GOMAXPROCS is 2 or
// more, the tracer waits for
// the tracees outside the Go scheduler, which halves the cost of each
// stop, and garbage collection is off until Run returns (a collection
// would wait for the tracer). Other readers and writers are served by
// goroutines, and the tracer then waits as an ordinary system call.
func Run(ctx context.Context, opts Options) (*Result, error) {
	return run(ctx, opts)
}
