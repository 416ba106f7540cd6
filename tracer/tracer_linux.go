//go:build linux && (amd64 || arm64)

package tracer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// kind is what a traced system call does with its path.
type kind uint8

const (
	kOpen     kind = iota // open, openat, creat: O_CREAT may create the path
	kOpenat2              // openat2: the flags are in struct open_how
	kExec                 // execve, execveat
	kStat                 // stat, lstat, newfstatat, statx
	kReadlink             // readlink, readlinkat
	kAccess               // access, faccessat, faccessat2
	kChdir                // chdir
	kList                 // getdents, getdents64: an fd, not a path
	kCreate               // mkdir, mknod, rename, link, symlink: the path the call creates
)

// sysc is one traced system call of this architecture and where its
// arguments are.
type sysc struct {
	nr   uint32
	kind kind
	// Argument indexes: dirfd (-1: relative to the cwd), path (for kList
	// the fd is dirfd), flags (-1: none; for kOpenat2 the struct open_how).
	dirfd, path, flags int8
	// emptyPath is the index of a flags argument: with AT_EMPTY_PATH set
	// the call is let through untraced (fstatat(fd, "", AT_EMPTY_PATH) is
	// how glibc implements fstat, and names no path). -1: none.
	emptyPath int8
	creat     bool // creat(2): always O_CREAT
	lstat     bool // lstat(2): a final symbolic link is not followed
	replaces  bool // rename(2): the path created may have been there
}

// ptrace_syscall_info (linux/ptrace.h) as PTRACE_GET_SYSCALL_INFO fills it.
// At a seccomp stop nr and args are set; at a syscall-exit stop nr holds
// rval and the low byte of args[0] is_error.
type syscallInfo struct {
	op      uint8
	_       [3]uint8
	arch    uint32
	ip, sp  uint64
	nr      uint64
	args    [6]uint64
	retData uint32
	_       uint32
}

const (
	infoSeccomp = 3
	infoExit    = 2
)

// pending is a system call stopped at its entry whose result is awaited at
// its exit.
type pending struct {
	sc      *sysc
	path    string
	creat   bool // an open with O_CREAT (or O_TMPFILE)
	existed bool // kCreate, creat: the path existed before the call
}

type proc struct {
	started bool // its first stop (SIGSTOP of a new process or thread) was seen
	pend    *pending
}

type key struct {
	path string
	op   Op
}

type tracer struct {
	root      string // absolute, symbolic links resolved; "" for /
	all       bool   // Options.All
	raw       bool   // wait outside the scheduler (see wait)
	mainPid   int
	procs     map[int]*proc
	accesses  []Access
	index     map[key]int
	created   map[string]bool
	noInfo    bool // PTRACE_GET_SYSCALL_INFO is missing: read the registers
	noVM      bool // process_vm_readv is refused: PTRACE_PEEKDATA
	buf       []byte
	cbuf      []byte            // C strings for system calls (see cpath)
	rootFD    int               // root opened O_PATH for probeInRoot (0: not yet)
	noOpenat2 bool              // openat2 is missing or refused: no probe in a root
	dots      map[string]string // resolved directories of paths with ".."
	emulator  []string          // qemu-user's prefixes (see emulatorPrefixes)

	mu     sync.Mutex
	live   map[int]bool // pids to kill at a timeout or cancel
	killed bool
	// timedOut: the kill was the timeout's.
	timedOut bool

	// The eBPF mechanism (see ebpf_linux.go): its kernel side, and the
	// live threads (tid -> tgid) and thread counts (tgid -> threads).
	bpf     *bpfRun
	tids    map[int]int
	threads map[int]int
}

func run(ctx context.Context, opts Options) (*Result, error) {
	if len(opts.Argv) == 0 || opts.Argv[0] == "" {
		return nil, fmt.Errorf("%w: no program named", ErrStart)
	}
	t := &tracer{
		procs:   map[int]*proc{},
		index:   map[key]int{},
		created: map[string]bool{},
		dots:    map[string]string{},
		live:    map[int]bool{},
		buf:     make([]byte, 4096),
		cbuf:    make([]byte, 0, 512),
		all:     opts.All,
	}
	dir := opts.Dir
	if opts.Root != "" {
		if os.Geteuid() != 0 {
			return nil, fmt.Errorf("%w: Options.Root needs root (chroot)", ErrStart)
		}
		root, err := filepath.Abs(opts.Root)
		if err == nil {
			root, err = filepath.EvalSymlinks(root)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: root: %v", ErrStart, err)
		}
		if root != "/" {
			t.root = root
		}
		if dir == "" {
			dir = "/"
		}
	}
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}

	if dir != "" {
		host := dir
		if t.root != "" {
			var err error
			if host, err = securejoin.SecureJoin(t.root, dir); err != nil {
				return nil, fmt.Errorf("%w: working directory %s: %v", ErrStart, dir, err)
			}
		}
		if st, err := os.Stat(host); err != nil || !st.IsDir() {
			if err == nil {
				err = unix.ENOTDIR
			}
			return nil, fmt.Errorf("%w: working directory %s: %v", ErrStart, dir, reasonOf(err))
		}
	}
	t.emulator = emulatorPrefixes(env)
	path, err := lookPath(t.root, dir, opts.Argv[0], env)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}

	// The standard files: *os.File as they are, other readers and writers
	// through pipes copied by goroutines (as os/exec does).
	var closeAfter []*os.File
	var copies sync.WaitGroup
	copiers := 0
	defer func() {
		for _, f := range closeAfter {
			f.Close()
		}
	}()
	stdio := make([]*os.File, 3)
	for i := range stdio {
		var r io.Reader
		var w io.Writer
		switch i {
		case 0:
			r = opts.Stdin
		case 1:
			w = opts.Stdout
		case 2:
			w = opts.Stderr
		}
		if f, ok := r.(*os.File); ok && f != nil {
			stdio[i] = f
			continue
		}
		if f, ok := w.(*os.File); ok && f != nil {
			stdio[i] = f
			continue
		}
		if i == 2 && w != nil && stdio[1] != nil && sameWriter(w, opts.Stdout) {
			// One writer for both, as os/exec does: one pipe, one copier.
			stdio[2] = stdio[1]
			continue
		}
		if r == nil && w == nil {
			f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
			if err != nil {
				return nil, err
			}
			closeAfter = append(closeAfter, f)
			stdio[i] = f
			continue
		}
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		copies.Add(1)
		copiers++
		if r != nil {
			stdio[i] = pr
			closeAfter = append(closeAfter, pr)
			go func() {
				defer copies.Done()
				io.Copy(pw, r)
				pw.Close()
			}()
		} else {
			stdio[i] = pw
			closeAfter = append(closeAfter, pw)
			go func() {
				defer copies.Done()
				io.Copy(w, pr)
				pr.Close()
			}()
		}
	}
	// The mechanism: eBPF where its programs load (root, a kernel with
	// BTF and BPF), unless ptrace is asked for.
	var bpf *bpfRun
	if opts.Mechanism != Ptrace {
		if bpf, err = loadBPF(); err != nil {
			if opts.Mechanism == EBPF {
				if errors.Is(err, unix.EPERM) {
					return nil, fmt.Errorf("%w: eBPF needs root (CAP_BPF and CAP_PERFMON; %v); the ptrace tracer does not", ErrUnsupported, err)
				}
				return nil, fmt.Errorf("%w: eBPF: %v", ErrUnsupported, err)
			}
			bpf = nil
		}
	}
	if bpf == nil {
		noStopSignals()
	}
	// The raw wait holds a P: the goroutines of the timeout and of ctx
	// need another one.
	t.raw = bpf == nil && copiers == 0 && runtime.GOMAXPROCS(0) >= 2
	type outcome struct {
		res *Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		// Every ptrace request must come from the thread that started the
		// tracee. The goroutine exits locked: its thread ends with it.
		runtime.LockOSThread()
		if t.raw {
			// No garbage collection may start while the tracer waits
			// outside the scheduler; this waits for one under way to end.
			defer debug.SetGCPercent(debug.SetGCPercent(-1))
		}
		if len(opts.Binds) > 0 {
			// The mount namespace is this locked thread's alone (the
			// thread ends with the goroutine); the tracee inherits it.
			if err := bindMounts(t.root, opts.Binds); err != nil {
				if bpf != nil {
					bpf.close()
				}
				done <- outcome{nil, fmt.Errorf("%w: %v", ErrStart, err)}
				return
			}
		}
		attr := &syscall.ProcAttr{
			Dir:   dir,
			Env:   env,
			Files: []uintptr{stdio[0].Fd(), stdio[1].Fd(), stdio[2].Fd()},
			Sys:   &syscall.SysProcAttr{Ptrace: true, Chroot: t.root},
		}
		if opts.User {
			attr.Sys.Credential = &syscall.Credential{Uid: opts.UID, Gid: opts.GID, Groups: []uint32{}}
		}
		argv := opts.Argv
		pid, err := syscall.ForkExec(path, argv, attr)
		if ferr := foreignExec(t.root, path, err); ferr != nil {
			done <- outcome{nil, ferr}
			return
		}
		if err == syscall.ENOEXEC {
			// execvp runs a file of no executable format as a shell script.
			argv = append([]string{"sh", path}, argv[1:]...)
			path = "/bin/sh"
			pid, err = syscall.ForkExec(path, argv, attr)
		}
		if err != nil {
			switch err {
			case syscall.EPERM:
				err = refused(err)
			case syscall.ENOENT:
				err = fmt.Errorf("%w: %s: no such file or directory (or its interpreter is missing)", ErrStart, path)
			case syscall.EACCES:
				err = fmt.Errorf("%w: %s: permission denied", ErrStart, path)
			default:
				err = fmt.Errorf("%w: %s: %v", ErrStart, path, err)
			}
			if bpf != nil {
				bpf.close()
			}
			done <- outcome{nil, err}
			return
		}
		var res *Result
		if bpf != nil {
			res, err = t.traceBPF(ctx, bpf, pid, path, opts.Timeout)
		} else {
			res, err = t.trace(ctx, pid, path, opts.Timeout)
		}
		done <- outcome{res, err}
	}()
	out := <-done
	for _, f := range closeAfter {
		f.Close()
	}
	closeAfter = nil
	copies.Wait()
	if out.err != nil {
		return nil, out.err
	}
	if ctx.Err() != nil {
		return out.res, ctx.Err()
	}
	return out.res, nil
}

// bindMounts moves the calling thread, which must be locked to its
// goroutine and end with it, into a mount namespace of its own, private
// from the host's, and mounts each bind there (targets inside root).
func bindMounts(root string, binds []Bind) error {
	if os.Geteuid() != 0 {
		return errors.New("mounting over paths of the run needs root")
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("a mount namespace for the run: %v", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("a mount namespace for the run: %v", err)
	}
	for _, b := range binds {
		target := b.Target
		if root != "" {
			var err error
			if target, err = securejoin.SecureJoin(root, b.Target); err != nil {
				return fmt.Errorf("%s: %v", b.Target, err)
			}
		}
		if err := unix.Mount(b.Source, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("mounting %s over %s: %v", b.Source, b.Target, err)
		}
	}
	return nil
}

// sameWriter says whether a and b are the same writer (comparable and
// equal), so that the program's stdout and stderr share one pipe.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false // not comparable
		}
	}()
	return a == b
}

// reasonOf is an error without the operation and path of a *PathError.
func reasonOf(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// refused is the error for a ptrace request the kernel refused, naming the
// likely policy.
func refused(err error) error {
	why := "a seccomp policy or a security module refuses ptrace"
	if b, rerr := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope"); rerr == nil {
		if s := strings.TrimSpace(string(b)); s == "3" {
			why = "kernel.yama.ptrace_scope is 3 (ptrace disabled)"
		}
	}
	return fmt.Errorf("%w: ptrace: %v (%s; in Docker before Linux 4.8: --cap-add SYS_PTRACE, or --security-opt seccomp=unconfined)", ErrUnsupported, err, why)
}

// trace follows the tree started as pid (stopped at its first exec, of
// path) until every traced process has exited.
func (t *tracer) trace(ctx context.Context, pid int, path string, timeout time.Duration) (*Result, error) {
	t.mainPid = pid
	t.procs[pid] = &proc{started: true}
	t.live[pid] = true
	res := &Result{ExitCode: -1, Mechanism: Ptrace}

	// The first stop: the SIGTRAP of the program's exec.
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil {
		return nil, err
	}
	if !ws.Stopped() {
		return nil, fmt.Errorf("%w: the program did not start under ptrace: %v", ErrUnsupported, ws)
	}
	fail := func(err error) (*Result, error) {
		unix.Kill(pid, unix.SIGKILL)
		unix.Wait4(pid, &ws, unix.WALL, nil)
		return nil, err
	}
	opt := unix.PTRACE_O_TRACESECCOMP | unix.PTRACE_O_TRACEFORK | unix.PTRACE_O_TRACEVFORK |
		unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_EXITKILL | unix.PTRACE_O_TRACESYSGOOD
	if err := unix.PtraceSetOptions(pid, opt); err != nil {
		return fail(refused(err))
	}
	if err := installFilter(pid); err != nil {
		return fail(fmt.Errorf("%w: %v", ErrUnsupported, err))
	}
	// The program's own exec, which no filter saw.
	if abs, ok := t.resolve(pid, unix.AT_FDCWD, path); ok {
		t.execed(pid, abs)
	}
	// Timeout and cancel: kill every traced process; the loop goes on to
	// collect them.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		var timer <-chan time.Time
		if timeout > 0 {
			tm := time.NewTimer(timeout)
			defer tm.Stop()
			timer = tm.C
		}
		timedOut := false
		select {
		case <-stop:
			return
		case <-ctx.Done():
		case <-timer:
			timedOut = true
		}
		t.mu.Lock()
		t.timedOut = timedOut
		t.killed = true
		for p := range t.live {
			unix.Kill(p, unix.SIGKILL)
		}
		t.mu.Unlock()
	}()
	unix.PtraceCont(pid, 0)

	for {
		wpid, err := t.wait(&ws)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			if err == unix.ECHILD {
				break
			}
			return nil, err
		}
		switch {
		case ws.Exited() || ws.Signaled():
			if wpid == t.mainPid {
				if ws.Exited() {
					res.ExitCode = ws.ExitStatus()
				} else {
					res.ExitCode = 128 + int(ws.Signal())
				}
			}
			delete(t.procs, wpid)
			t.mu.Lock()
			delete(t.live, wpid)
			t.mu.Unlock()
		case ws.Stopped():
			t.stopped(wpid, ws)
		}
	}
	t.mu.Lock()
	res.TimedOut = t.timedOut
	t.mu.Unlock()
	res.Accesses = t.result()
	if t.rootFD > 0 {
		unix.Close(t.rootFD)
	}
	return res, nil
}

func (t *tracer) addProc(pid int) *proc {
	p := &proc{}
	t.procs[pid] = p
	t.mu.Lock()
	t.live[pid] = true
	if t.killed {
		unix.Kill(pid, unix.SIGKILL)
	}
	t.mu.Unlock()
	return p
}

// stopped handles one ptrace stop and resumes the tracee.
func (t *tracer) stopped(pid int, ws unix.WaitStatus) {
	p := t.procs[pid]
	if p == nil {
		p = t.addProc(pid)
	}
	sig := ws.StopSignal()
	if !p.started {
		p.started = true
		if sig == unix.SIGSTOP {
			t.cont(pid, 0)
			return
		}
	}
	switch {
	case sig == unix.SIGTRAP|0x80: // syscall-exit-stop
		t.exit(pid, p)
		t.cont(pid, 0)
	case sig == unix.SIGTRAP && ws.TrapCause() > 0:
		switch ws.TrapCause() {
		case unix.PTRACE_EVENT_SECCOMP:
			if t.entry(pid, p) {
				t.toExit(pid)
				return
			}
		case unix.PTRACE_EVENT_FORK, unix.PTRACE_EVENT_VFORK, unix.PTRACE_EVENT_CLONE:
			if msg, err := t.eventMsg(pid); err == nil {
				if t.procs[int(msg)] == nil {
					t.addProc(int(msg))
				}
			}
		case unix.PTRACE_EVENT_EXEC:
			t.exec(pid, p)
		}
		t.cont(pid, 0)
	default:
		// A signal for the tracee, or (PTRACE_GETSIGINFO fails) a group-stop,
		// which is not to be delivered again.
		var si [128]byte
		if t.ptrace(unix.PTRACE_GETSIGINFO, pid, 0, uintptr(unsafe.Pointer(&si))) != nil {
			t.cont(pid, 0)
			return
		}
		t.cont(pid, int(sig))
	}
}

// info reads the system call at a seccomp or syscall-exit stop.
func (t *tracer) info(pid int, want uint8) (syscallInfo, bool) {
	var si syscallInfo
	if !t.noInfo {
		_, e := t.sys(unix.SYS_PTRACE, unix.PTRACE_GET_SYSCALL_INFO, uintptr(pid), unsafe.Sizeof(si), uintptr(unsafe.Pointer(&si)), 0, 0)
		if e == 0 && si.op == want {
			return si, true
		}
		if e != unix.EIO && e != unix.EINVAL {
			return si, false
		}
		t.noInfo = true
	}
	if want == infoSeccomp {
		args, err := regsArgs(pid)
		si.args = args
		return si, err == nil
	}
	rv, err := regsReturn(pid)
	si.nr = uint64(rv)
	if rv < 0 && rv > -4096 {
		si.args[0] = 1
	}
	return si, err == nil
}

// entry handles a seccomp stop: it records the path, or sets it pending
// until the call's exit (the result says whether it was found) and
// returns true to resume to that exit.
func (t *tracer) entry(pid int, p *proc) bool {
	si, ok := t.info(pid, infoSeccomp)
	if !ok {
		return false
	}
	if t.noInfo { // the registers have no SECCOMP_RET_DATA
		msg, err := t.eventMsg(pid)
		if err != nil {
			return false
		}
		si.retData = uint32(msg)
	}
	if int(si.retData) >= len(syscalls) {
		return false
	}
	sc := &syscalls[si.retData]
	if sc.kind == kList {
		path, ok := t.fdPath(pid, int(int32(si.args[sc.dirfd])))
		if ok && !t.excluded(path) {
			t.record(path, OpList, true, pid)
		}
		return false
	}
	raw, ok := t.readString(pid, si.args[sc.path])
	dirfd := unix.AT_FDCWD
	if sc.dirfd >= 0 {
		dirfd = int(int32(si.args[sc.dirfd]))
	}
	if !ok {
		return false
	}
	if raw == "" {
		// fexecve: execveat(fd, "", ..., AT_EMPTY_PATH).
		if sc.kind == kExec && sc.flags >= 0 && si.args[sc.flags]&unix.AT_EMPTY_PATH != 0 {
			if path, ok := t.fdPath(pid, dirfd); ok {
				p.pend = &pending{sc: sc, path: path}
				return true
			}
		}
		return false
	}
	path, ok := t.resolve(pid, dirfd, raw)
	if !ok || t.excluded(path) {
		return false
	}
	switch sc.kind {
	case kCreate:
		if t.created[path] {
			return false
		}
		p.pend = &pending{sc: sc, path: path, existed: t.exists(path)}
		return true
	case kOpen, kOpenat2:
		var flags uint64
		switch {
		case sc.creat:
			flags = unix.O_CREAT
		case sc.kind == kOpenat2:
			var how [8]byte
			if t.readMem(pid, si.args[sc.flags], how[:]) {
				flags = *(*uint64)(unsafe.Pointer(&how))
			}
		case sc.flags >= 0:
			flags = si.args[sc.flags]
		}
		// O_TMPFILE holds O_DIRECTORY's bit: all of it, or an opendir
		// would count as a creation.
		if flags&unix.O_CREAT != 0 || flags&unix.O_TMPFILE == unix.O_TMPFILE {
			if t.created[path] || t.isFound(path, OpOpen) {
				return false
			}
			p.pend = &pending{sc: sc, path: path, creat: true, existed: t.exists(path)}
			return true
		}
		if t.isFound(path, OpOpen) {
			return false
		}
		if found, ok := t.probe(pid, dirfd, raw, flags&unix.O_NOFOLLOW == 0, flags&unix.O_DIRECTORY != 0); ok {
			t.record(path, OpOpen, found, pid)
			return false
		}
	case kStat, kAccess, kReadlink:
		if t.isFound(path, sc.kind.op()) {
			return false
		}
		follow := sc.kind != kReadlink && !sc.lstat
		if sc.flags >= 0 && si.args[sc.flags]&unix.AT_SYMLINK_NOFOLLOW != 0 {
			follow = false
		}
		if found, ok := t.probe(pid, dirfd, raw, follow, false); ok {
			t.record(path, sc.kind.op(), found, pid)
			return false
		}
	case kExec:
		// A program looked for along PATH (execvp tries each directory):
		// one missing needs no stop at its exit. One found does: the exec
		// event takes its path from the pending call.
		if found, ok := t.probe(pid, dirfd, raw, true, false); ok && !found {
			t.record(path, OpExec, false, pid)
			return false
		}
	}
	if t.isFound(path, sc.kind.op()) {
		return false
	}
	p.pend = &pending{sc: sc, path: path}
	return true
}

// probe answers at a call's entry what its result will say: whether the
// path is found (see exit), so that the tracee need not stop again at the
// call's exit, which would double the cost of the call under the tracer.
// The tracer looks the path up as the tracee will, from the same mount
// namespace (this thread's, which the tracee inherited) and the same root,
// relative to the tracee's own working directory or dirfd through /proc.
// follow: a final symbolic link is followed; dir: the call wants a
// directory (O_DIRECTORY). ok is false where the tracer cannot look as the
// tracee would (a chroot: an absolute link inside the root would be
// followed outside it): the caller then waits for the call's exit.
func (t *tracer) probe(pid, dirfd int, raw string, follow, dir bool) (found, ok bool) {
	if t.root != "" {
		return t.probeInRoot(raw, follow, dir)
	}
	if strings.HasPrefix(raw, "/") {
		pid = 0
	}
	flags := 0
	if !follow {
		flags = unix.AT_SYMLINK_NOFOLLOW
	}
	var st unix.Stat_t
	return foundBy(t.fstatat(t.cpath(pid, dirfd, raw), &st, flags), &st, dir)
}

// foundBy is found as a lookup's error and stat say, for a call that
// wants a directory or not.
func foundBy(err error, st *unix.Stat_t, dir bool) (found, ok bool) {
	switch err {
	case nil:
		return !dir || st.Mode&unix.S_IFMT == unix.S_IFDIR, true
	case unix.ENOENT, unix.ENOTDIR:
		return false, true
	default: // EACCES, ELOOP, ...: found, as the call's error would say
		return true, true
	}
}

// probeInRoot is probe in a chroot, for an absolute path: looked up with
// openat2's RESOLVE_IN_ROOT from the root, so that absolute symbolic links
// stay inside it as they do for the tracee. A relative path (its base is
// reached through /proc, after which an absolute link would leave the
// root) or a kernel without openat2 (before 5.6) is not probed.
func (t *tracer) probeInRoot(raw string, follow, dir bool) (found, ok bool) {
	if !strings.HasPrefix(raw, "/") || t.noOpenat2 {
		return false, false
	}
	if t.rootFD == 0 {
		fd, err := unix.Open(t.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.noOpenat2 = true
			return false, false
		}
		t.rootFD = fd
	}
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	if !follow {
		how.Flags |= unix.O_NOFOLLOW
	}
	fd, err := unix.Openat2(t.rootFD, raw, &how)
	if err == unix.ENOSYS || err == unix.EPERM { // no openat2, or a seccomp policy refuses it
		t.noOpenat2 = true
		return false, false
	}
	var st unix.Stat_t
	if err == nil {
		err = unix.Fstat(fd, &st)
		unix.Close(fd)
	}
	return foundBy(err, &st, dir)
}

// exit handles a syscall-exit stop: the result of the pending call.
func (t *tracer) exit(pid int, p *proc) {
	pd := p.pend
	p.pend = nil
	if pd == nil {
		return
	}
	si, ok := t.info(pid, infoExit)
	if !ok {
		return
	}
	failed := si.args[0]&0xff != 0
	errno := unix.Errno(-int64(si.nr))
	found := !failed || (errno != unix.ENOENT && errno != unix.ENOTDIR)
	switch pd.sc.kind {
	case kCreate:
		if !failed && !pd.existed {
			t.created[pd.path] = true
			t.recordParent(pd.path, pid)
		}
		return
	case kOpen, kOpenat2:
		if pd.creat && !pd.existed {
			if !failed {
				t.created[pd.path] = true
				t.recordParent(pd.path, pid)
				return
			}
			found = false
		}
	}
	t.record(pd.path, pd.sc.kind.op(), found, pid)
}

// exec handles PTRACE_EVENT_EXEC: pid now runs a new program. The execve
// may have been made by another thread of the process (its former thread
// id is the event message): that thread is gone.
func (t *tracer) exec(pid int, p *proc) {
	former := pid
	if msg, err := t.eventMsg(pid); err == nil {
		former = int(msg)
	}
	var pd *pending
	if fp := t.procs[former]; fp != nil {
		pd = fp.pend
		fp.pend = nil
	}
	p.pend = nil
	if former != pid {
		delete(t.procs, former)
		t.mu.Lock()
		delete(t.live, former)
		t.mu.Unlock()
	}
	path := ""
	if pd != nil && pd.sc.kind == kExec {
		path = pd.path
	}
	t.execed(pid, path)
}

// execed records that pid now runs the program at path ("" if not known),
// the interpreter its #! line names, and the file it runs.
func (t *tracer) execed(pid int, path string) {
	if path != "" {
		t.record(path, OpExec, true, pid)
		// A script's interpreter, as its #! line names it (the kernel opens
		// it without a system call).
		if interp := t.shebang(path); interp != "" {
			t.record(interp, OpExec, t.exists(interp), pid)
		}
	}
	// The file the process runs, symbolic links resolved, if the root has
	// it: not the host's qemu that binfmt_misc's F flag runs a foreign
	// program with (see emulatorPrefixes).
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil {
		if exe, ok := t.strip(exe); ok && !t.excluded(exe) && t.exists(exe) {
			t.record(exe, OpExec, true, pid)
		}
	}
}

// shebang returns the interpreter path of a script that starts with #!.
func (t *tracer) shebang(path string) string {
	f, err := os.Open(t.root + path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var b [256]byte
	n, _ := io.ReadFull(f, b[:])
	line := b[:n]
	if !bytes.HasPrefix(line, []byte("#!")) {
		return ""
	}
	line = line[2:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	fields := strings.Fields(string(line))
	if len(fields) == 0 || !strings.HasPrefix(fields[0], "/") {
		return ""
	}
	return filepath.Clean(fields[0])
}

func (k kind) op() Op {
	switch k {
	case kOpen, kOpenat2:
		return OpOpen
	case kExec:
		return OpExec
	case kStat:
		return OpStat
	case kReadlink:
		return OpReadlink
	case kAccess:
		return OpAccess
	case kChdir:
		return OpChdir
	case kList:
		return OpList
	}
	return ""
}

func (t *tracer) record(path string, op Op, found bool, pid int) {
	k := key{path, op}
	if i, ok := t.index[k]; ok {
		if found {
			t.accesses[i].Found = true
		}
		return
	}
	t.index[k] = len(t.accesses)
	t.accesses = append(t.accesses, Access{Path: path, Op: op, Found: found, Pid: pid})
}

// recordParent records the directory a path was created in as found (a
// stat): the run needs it, as a server needs /run for its pid file, though
// no call but the creation names it.
func (t *tracer) recordParent(path string, pid int) {
	if d := filepath.Dir(path); d != path && !t.excluded(d) {
		t.record(d, OpStat, true, pid)
	}
}

func (t *tracer) isFound(path string, op Op) bool {
	i, ok := t.index[key{path, op}]
	return ok && t.accesses[i].Found
}

// exists says whether path (inside the root) exists now, as a tracee would
// see it without following a final symbolic link.
func (t *tracer) exists(path string) bool {
	var st unix.Stat_t
	return t.fstatat(t.cpath(0, 0, t.root+path), &st, unix.AT_SYMLINK_NOFOLLOW) == nil
}

// result is the accesses without the paths the run created (and what is
// under them), nor qemu-user's probes that found nothing.
func (t *tracer) result() []Access {
	out := make([]Access, 0, len(t.accesses))
	for _, a := range t.accesses {
		if !t.underCreated(a.Path) && (a.Found || t.all || !emulatorProbe(t.emulator, a.Path)) {
			out = append(out, a)
		}
	}
	return out
}

func (t *tracer) underCreated(path string) bool {
	if len(t.created) == 0 || t.all {
		return false
	}
	for p := path; ; p = filepath.Dir(p) {
		if t.created[p] {
			return true
		}
		if p == "/" || p == "." {
			return false
		}
	}
}

// excluded: /proc, /sys and /dev are the kernel's, not the image's.
func (t *tracer) excluded(path string) bool {
	if t.all {
		return false
	}
	for _, d := range [...]string{"/proc", "/sys", "/dev"} {
		if strings.HasPrefix(path, d) && (len(path) == len(d) || path[len(d)] == '/') {
			return true
		}
	}
	return false
}

// strip turns a path as the tracer sees it into the path the tracee sees
// (inside the root).
func (t *tracer) strip(p string) (string, bool) {
	if !strings.HasPrefix(p, "/") {
		return "", false // "pipe:[...]", "anon_inode:..."
	}
	p = strings.TrimSuffix(p, " (deleted)")
	if t.root == "" {
		return p, true
	}
	if p == t.root {
		return "/", true
	}
	if strings.HasPrefix(p, t.root) && p[len(t.root)] == '/' {
		return p[len(t.root):], true
	}
	return "", false
}

// fdPath is the path of a tracee's open file (a directory for getdents).
func (t *tracer) fdPath(pid, fd int) (string, bool) {
	n, err := t.readlink(t.cpath(pid, fd, ""), t.buf)
	if err != nil {
		return "", false
	}
	return t.strip(string(t.buf[:n]))
}

// resolve makes raw absolute against the tracee's cwd or dirfd, as the
// kernel would; ".." after a symbolic link is resolved from where the link
// points.
func (t *tracer) resolve(pid, dirfd int, raw string) (string, bool) {
	p := raw
	if !strings.HasPrefix(raw, "/") {
		base, ok := t.fdPath(pid, dirfd)
		if !ok {
			return "", false
		}
		p = base + "/" + raw
	}
	return t.clean(p), true
}

// clean cleans an absolute path, ".." resolved as the kernel walks it
// (see dotdot).
func (t *tracer) clean(p string) string {
	if strings.Contains(p, "..") {
		p = t.dotdot(p)
	}
	return filepath.Clean(p)
}

// dotdot resolves the part of p up to its last ".." as the kernel walks it:
// symbolic links in the root followed, so that "link/.." is where the link
// points to's parent.
func (t *tracer) dotdot(p string) string {
	parts := strings.Split(p, "/")
	last := -1
	for i, s := range parts {
		if s == ".." {
			last = i
		}
	}
	if last < 0 {
		return p
	}
	head := strings.Join(parts[:last+1], "/")
	tail := strings.Join(parts[last+1:], "/")
	dir, ok := t.dots[head]
	if !ok {
		root := t.root
		if root == "" {
			root = "/"
		}
		full, err := securejoin.SecureJoin(root, head)
		if err == nil {
			if dir, ok = t.strip(full); !ok && root == "/" {
				dir, ok = full, true
			}
		}
		if !ok {
			dir = filepath.Clean(head)
		}
		t.dots[head] = dir
	}
	return dir + "/" + tail
}

// readString reads a NUL-terminated string of at most PATH_MAX bytes from
// the tracee's memory.
func (t *tracer) readString(pid int, addr uint64) (string, bool) {
	const pathMax = 4096
	var out []byte
	for len(out) < pathMax {
		// To the end of the page, at most 256 bytes at first: most paths
		// are shorter, and copying a whole page for each costs more than
		// a second read for the few that are not.
		n := pathMax - int(addr%pathMax)
		if out == nil && n > 256 {
			n = 256
		}
		chunk := t.buf[:n]
		if !t.readMem(pid, addr, chunk) {
			return "", false
		}
		if i := bytes.IndexByte(chunk, 0); i >= 0 {
			if out == nil {
				return string(chunk[:i]), true
			}
			return string(append(out, chunk[:i]...)), true
		}
		out = append(out, chunk...)
		addr += uint64(n)
	}
	return "", false
}

// readMem fills b from the tracee's memory at addr.
func (t *tracer) readMem(pid int, addr uint64, b []byte) bool {
	if !t.noVM {
		n, err := t.processVMReadv(pid, b, addr)
		if err == nil && n == len(b) {
			return true
		}
		if err != unix.EPERM && err != unix.ENOSYS {
			return false
		}
		t.noVM = true
	}
	n, err := unix.PtracePeekData(pid, uintptr(addr), b)
	return err == nil && n == len(b)
}

// wait waits for the next event of any tracee. With t.raw the wait is a
// raw system call, outside the Go scheduler: a tracee stops twice as
// fast (entering and leaving the scheduler around each of thousands of
// waits costs more than the wait itself, with a locked thread). Such a
// wait holds up a stop of the world until the next event, so it is only
// used when no goroutine of the run feeds or drains the tracee (its
// standard files are files), garbage collection is off (see run), and
// another P runs the goroutine that kills the tree at the timeout.
func (t *tracer) wait(ws *unix.WaitStatus) (int, error) {
	const flags = unix.WALL | unix.WNOTHREAD
	if !t.raw {
		return unix.Wait4(-1, ws, flags, nil)
	}
	r, _, e := unix.RawSyscall6(unix.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(ws)), flags, 0, 0, 0)
	if e != 0 {
		return int(r), e
	}
	return int(r), nil
}

// noStopSignals adds SA_NOCLDSTOP to this process's SIGCHLD action (Go's
// own handler stays): each ptrace stop of a tracee would otherwise send
// the tracer's process a SIGCHLD, waking one of its threads to run the
// handler for nothing, as many times as the tracees stop. wait4 is woken
// all the same; exits still send SIGCHLD. Set once, never undone: Go uses
// no child stop notifications.
var noStopSignals = sync.OnceFunc(func() {
	// struct sigaction as the kernel reads it on amd64 and arm64.
	var act struct {
		handler, flags, restorer uintptr
		mask                     uint64
	}
	const saNoCldStop = 1
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGCHLD), 0, uintptr(unsafe.Pointer(&act)), 8, 0, 0); e != 0 {
		return
	}
	if act.handler == 0 || act.handler == 1 { // SIG_DFL, SIG_IGN: no handler to wake
		return
	}
	act.flags |= saNoCldStop
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGCHLD), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
})
