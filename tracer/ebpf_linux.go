//go:build linux && (amd64 || arm64)

package tracer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The eBPF mechanism: programs in the kernel (bpfprog_linux.go) record each
// path system call of the traced tree, with its result and the directory a
// relative path is relative to, in a ring buffer the tracer reads while the
// program runs; no tracee ever stops for the tracer. The program starts as
// under ptrace (stopped at its exec); its pid is added to the traced map and
// the tracer detaches. The tracer waits for the program's exit, and for the
// exit of every process and thread of the tree (events of the ring buffer).

// bpfRun is the kernel side of one traced run: its maps, programs and
// links (each run has its own, and sees only its own tree).
type bpfRun struct {
	maps  bpfMaps
	fds   []int // maps and programs
	links []int
	ring  *ringReader
}

const (
	ringSize  = 2 << 20 // at 5 ms a read, room for ten times what two CPUs can write
	readEvery = 5 * time.Millisecond
)

// noMayGoto: a program with may_goto failed to load; the loops are
// written without it since.
var noMayGoto atomic.Bool

var offsetsOnce = sync.OnceValues(func() (map[string]uint32, error) { return kernelOffsets(bpfOffsets) })

// loadBPF makes the maps, loads and attaches the programs.
func loadBPF() (_ *bpfRun, err error) {
	b := &bpfRun{}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	mk := func(fd *int, typ, key, value, max, flags uint32) error {
		var err error
		*fd, err = newMap(typ, key, value, max, flags)
		if err != nil {
			return fmt.Errorf("bpf map: %w", err)
		}
		b.fds = append(b.fds, *fd)
		return nil
	}
	m := &b.maps
	if err := mk(&m.traced, mapHash, 4, 4, 1<<13, mapNoPrealloc); err != nil {
		return nil, err
	}
	if err := mk(&m.calls, mapArray, 4, 4, maxSysNr, 0); err != nil {
		return nil, err
	}
	if err := mk(&m.scratch, mapPercpuArray, 4, scratchSz, 1, 0); err != nil {
		return nil, err
	}
	if err := mk(&m.events, mapRingbuf, 0, 0, ringSize, 0); err != nil {
		return nil, err
	}
	if err := mk(&m.lost, mapArray, 4, 8, 1, 0); err != nil {
		return nil, err
	}
	// After the maps: where BPF is refused, it is before reading the BTF.
	o, err := offsetsOnce()
	if err != nil {
		return nil, err
	}
	if o["path.mnt"] != 0 || o["path.dentry"] != 8 {
		return nil, errors.New("struct path is not {mnt, dentry}")
	}
	for i := range syscalls {
		nr, v := syscalls[i].nr, callInfo(i, &syscalls[i])
		if err := mapUpdate(m.calls, unsafe.Pointer(&nr), unsafe.Pointer(&v)); err != nil {
			return nil, fmt.Errorf("bpf map: %w", err)
		}
	}
	for _, p := range []struct {
		tp   string
		prog func(mayGoto bool) []insn
	}{
		{"sched_process_fork", func(mg bool) []insn { return progFork(*m, o, mg) }},
		{"sched_process_exec", func(mg bool) []insn { return progExec(*m, o, mg) }},
		{"sched_process_exit", func(bool) []insn { return progExit(*m) }},
		{"sys_exit", func(mg bool) []insn { return progSysExit(*m, o, mg) }},
	} {
		fd, err := -1, error(nil)
		for {
			mg := !noMayGoto.Load()
			var code []byte
			if code, err = assemble(p.prog(mg)); err != nil {
				return nil, err
			}
			if fd, err = loadProgram(p.tp, code); err == nil || !mg || err == unix.EPERM {
				break
			}
			noMayGoto.Store(true) // before Linux 6.9: the loop without it
		}
		if err != nil {
			return nil, fmt.Errorf("bpf program: %w", err)
		}
		b.fds = append(b.fds, fd)
		link, err := attachRawTracepoint(p.tp, fd)
		if err != nil {
			return nil, fmt.Errorf("bpf attach %s: %w", p.tp, err)
		}
		b.links = append(b.links, link)
	}
	if b.ring, err = newRingReader(m.events, ringSize); err != nil {
		return nil, fmt.Errorf("bpf ring buffer: %w", err)
	}
	return b, nil
}

func (b *bpfRun) close() {
	if b.ring != nil {
		b.ring.close()
	}
	for _, fd := range append(b.links, b.fds...) { // links first
		unix.Close(fd)
	}
}

func (b *bpfRun) trace(tgid int) error {
	k, v := uint32(tgid), uint32(1)
	return mapUpdate(b.maps.traced, unsafe.Pointer(&k), unsafe.Pointer(&v))
}

// lost is the count of calls the programs could not record.
func (b *bpfRun) lost() uint64 {
	var k uint32
	var n uint64
	mapLookup(b.maps.lost, unsafe.Pointer(&k), unsafe.Pointer(&n))
	return n
}

func (b *bpfRun) untrace(tgid int) {
	k := uint32(tgid)
	mapDelete(b.maps.traced, unsafe.Pointer(&k))
}

// traceBPF follows the tree started as pid (stopped under ptrace at its
// first exec, of path) with the eBPF programs of b, until every process of
// the tree has exited.
func (t *tracer) traceBPF(ctx context.Context, b *bpfRun, pid int, path string, timeout time.Duration) (*Result, error) {
	defer b.close()
	t.mainPid = pid
	t.bpf = b
	t.threads = map[int]int{}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil {
		return nil, err
	}
	if !ws.Stopped() {
		return nil, fmt.Errorf("%w: the program did not start under ptrace: %v", ErrUnsupported, ws)
	}
	if err := b.trace(pid); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		unix.Wait4(pid, &ws, unix.WALL, nil)
		return nil, fmt.Errorf("%w: bpf map: %v", ErrUnsupported, err)
	}
	t.tids = map[int]int{pid: pid}
	t.threads[pid] = 1
	if abs, ok := t.resolve(pid, unix.AT_FDCWD, path); ok {
		t.execed(pid, abs)
	}
	res := &Result{ExitCode: -1, Mechanism: EBPF}
	exited := make(chan int, 1)
	go func() {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(pid, &ws, 0, nil)
			if err == unix.EINTR {
				continue
			}
			code := -1
			if err == nil && ws.Exited() {
				code = ws.ExitStatus()
			} else if err == nil {
				code = 128 + int(ws.Signal())
			}
			exited <- code
			return
		}
	}()
	if err := t.ptrace(unix.PTRACE_DETACH, pid, 0, 0); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		<-exited
		return nil, fmt.Errorf("%w: ptrace detach: %v", ErrUnsupported, err)
	}
	var deadline <-chan time.Time
	if timeout > 0 {
		tm := time.NewTimer(timeout)
		defer tm.Stop()
		deadline = tm.C
	}
	mainDone := false
	killed := false
	kill := func() {
		killed = true
		for tid, tgid := range t.tids {
			unix.Tgkill(tgid, tid, unix.SIGKILL)
		}
	}
	// The ring buffer is read every few milliseconds: the programs wake
	// no one (each wake-up would cost a context switch or two).
	tick := time.NewTicker(readEvery)
	defer tick.Stop()
	done := ctx.Done()
	for {
		b.ring.read(t.bpfEvent)
		if killed {
			kill() // the children forked meanwhile
		}
		if mainDone {
			// Threads and processes whose exit event was lost, if any.
			for tid, tgid := range t.tids {
				if unix.Tgkill(tgid, tid, 0) == unix.ESRCH {
					t.gone(tid)
				}
			}
			if len(t.tids) == 0 && b.ring.read(t.bpfEvent) == 0 && len(t.tids) == 0 {
				break
			}
		}
		select {
		case res.ExitCode = <-exited:
			mainDone, exited = true, nil
		case <-tick.C:
		case <-done:
			done = nil
			kill()
		case <-deadline:
			deadline = nil
			res.TimedOut = true
			kill()
		}
	}
	res.Accesses = t.result()
	if t.rootFD > 0 {
		unix.Close(t.rootFD)
	}
	if n := b.lost(); n > 0 {
		return nil, fmt.Errorf("%w: eBPF: %d system calls of the run could not be recorded (the ring buffer was full, or a path could not be read): the trace is incomplete; --tracer ptrace does not lose any", ErrUnsupported, n)
	}
	return res, nil
}

// gone: the thread tid has exited; its process is untraced when it was
// the last.
func (t *tracer) gone(tid int) {
	tgid, ok := t.tids[tid]
	if !ok {
		return
	}
	delete(t.tids, tid)
	if t.threads[tgid]--; t.threads[tgid] <= 0 {
		delete(t.threads, tgid)
		t.bpf.untrace(tgid)
	}
}

func (t *tracer) born(tid, tgid int) {
	if _, ok := t.tids[tid]; ok {
		return
	}
	t.tids[tid] = tgid
	t.threads[tgid]++
}

var le = binary.LittleEndian

// bpfEvent handles one event of the ring buffer.
func (t *tracer) bpfEvent(b []byte) {
	if len(b) < hData {
		return
	}
	tid, tgid := int(le.Uint32(b[hTid:])), int(le.Uint32(b[hTgid:]))
	info := le.Uint32(b[hInfo:])
	ret := int64(le.Uint64(b[hRet:]))
	flags := le.Uint32(b[hFlags:])
	data := b[hData:]
	pathLen, dirEnd, pos := int(le.Uint32(b[hPathLen:])), int(le.Uint32(b[hDirEnd:])), int(le.Uint32(b[hPos:]))
	if pos > len(data) || dirEnd > pos || pathLen > pos {
		return
	}
	raw := ""
	if pathLen > 0 {
		raw = string(data[:pathLen-1])
	}
	interp := ""
	if n := int(le.Uint32(b[hInterp:])); n > 0 && pathLen+n <= pos {
		interp = string(data[pathLen : pathLen+n-1])
		pathLen += n
	}
	if dirEnd < pathLen {
		dirEnd = pathLen
	}
	dir, dirOK := names(data[pathLen:dirEnd]), flags&fDir != 0
	switch le.Uint32(b[hType:]) {
	case evFork:
		t.born(int(info), int(ret))
	case evExit:
		t.gone(tid)
	case evExec:
		if former := int(info); former != tid {
			// A thread other than the leader executed: it has the leader's
			// id now.
			t.born(tid, tgid)
			t.gone(former)
		}
		p, ok := t.bpfPath(raw, dir, dirOK)
		if !ok {
			p = ""
		}
		t.execedAs(tid, p, interp != raw, interp, names(data[dirEnd:pos]), flags&fExe != 0)
	case evCall:
		i := int(info&ciIndex) - 1
		if i < 0 || i >= len(syscalls) {
			return
		}
		t.bpfCall(tid, &syscalls[i], raw, dir, dirOK, ret, flags, le.Uint64(b[hArg:]))
	}
}

// bpfCall records a path system call from its event.
func (t *tracer) bpfCall(pid int, sc *sysc, raw, dir string, dirOK bool, ret int64, flags uint32, arg uint64) {
	failed := ret < 0 && ret > -4096
	errno := unix.Errno(-ret)
	if failed && errno >= 512 && errno <= 516 {
		// ERESTARTSYS and the like: interrupted by a signal, the call
		// runs again (another event) or fails with EINTR.
		return
	}
	found := !failed || (errno != unix.ENOENT && errno != unix.ENOTDIR)
	if sc.kind == kList {
		if dirOK && !t.excluded(dir) {
			t.record(dir, OpList, true, pid)
		}
		return
	}
	var path string
	if sc.kind == kChdir && !failed && !strings.HasPrefix(raw, "/") {
		// The walk was made after the call, from the new directory: the
		// path, its symbolic links resolved.
		if !dirOK {
			return
		}
		raw = dir
	}
	if raw == "" {
		// fexecve: execveat(fd, "", ..., AT_EMPTY_PATH), failed.
		if sc.kind != kExec || !dirOK {
			return
		}
		path = dir
	} else {
		var ok bool
		if path, ok = t.bpfPath(raw, dir, dirOK); !ok {
			return
		}
	}
	if t.excluded(path) {
		return
	}
	switch sc.kind {
	case kCreate:
		// mkdir, mknod, link and symlink fail where the path is; a rename
		// replaces it: then, if the run used it before, it was there
		// (the ptrace tracer looks at the call's entry).
		if !failed && !t.created[path] && !(sc.replaces && t.usedBefore(path)) {
			t.created[path] = true
			t.recordParent(path, pid)
		}
		return
	case kOpen, kOpenat2:
		if flags&fCreated != 0 {
			t.created[path] = true
			t.recordParent(path, pid)
			return
		}
		creat := sc.creat || (sc.kind == kOpen && sc.flags >= 0 && (arg&unix.O_CREAT != 0 || arg&unix.O_TMPFILE == unix.O_TMPFILE))
		if creat && failed && found {
			// EACCES, EROFS...: the call does not say whether the path was
			// there; it is now or not.
			found = t.exists(path)
		}
	}
	t.record(path, sc.kind.op(), found, pid)
}

// usedBefore says whether the run found path before.
func (t *tracer) usedBefore(path string) bool {
	for _, op := range [...]Op{OpOpen, OpStat, OpAccess, OpReadlink, OpExec} {
		if t.isFound(path, op) {
			return true
		}
	}
	return false
}

// bpfPath makes a path of an event absolute: raw as the call named it,
// dir the directory a relative one is relative to (ok: walked up to the
// root).
func (t *tracer) bpfPath(raw, dir string, ok bool) (string, bool) {
	if strings.HasPrefix(raw, "/") {
		return t.clean(raw), true
	}
	if !ok {
		return "", false
	}
	return t.clean(dir + "/" + raw), true
}

// names turns the names a walk wrote, leaf first, each with its NUL,
// into an absolute path.
func names(b []byte) string {
	var parts []string
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		parts = append(parts, string(b[:i]))
		if i < len(b) {
			i++
		}
		b = b[i:]
	}
	var sb strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		sb.WriteByte('/')
		sb.WriteString(parts[i])
	}
	if sb.Len() == 0 {
		return "/"
	}
	return sb.String()
}

// execedAs records an exec from its event: path as executed (""
// if not known); if the kernel ran it through an interpreter (interpreted),
// the one its #! line names, as the ptrace tracer does, or, the script gone
// already, interp, the kernel's; and exe, the file executed (if exeOK).
func (t *tracer) execedAs(pid int, path string, interpreted bool, interp, exe string, exeOK bool) {
	if path != "" && !t.excluded(path) {
		t.record(path, OpExec, true, pid)
		if interpreted {
			if s := t.shebang(path); s != "" {
				t.record(s, OpExec, t.exists(s), pid)
			} else if strings.HasPrefix(interp, "/") && !t.exists(path) && !t.excluded(interp) {
				t.record(t.clean(interp), OpExec, true, pid)
			}
		}
	}
	if exeOK && !t.excluded(exe) {
		t.record(exe, OpExec, true, pid)
	}
}
