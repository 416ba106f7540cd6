//go:build linux && (amd64 || arm64)

package tracer

import (
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The system calls the tracer makes at each stop. With t.raw (see wait)
// they are raw: the tracer's locked thread holds its P through the whole
// run, so that neither the scheduler (entering and leaving it around each
// call) nor sysmon (which watches Ps in system calls) is woken thousands
// of times for calls that take a few microseconds.
//
// sys and ptrace take pointers as uintptr, as unix.Syscall6 does; the
// uintptrescapes directive gives them its guarantee: a pointer converted
// to uintptr in the call is moved to the heap and kept alive for the call,
// so that a growth of the goroutine's stack cannot move a stat buffer
// under the kernel's write.

//go:uintptrescapes
func (t *tracer) sys(trap, a1, a2, a3, a4, a5, a6 uintptr) (uintptr, unix.Errno) {
	var r uintptr
	var e unix.Errno
	if t.raw {
		r, _, e = unix.RawSyscall6(trap, a1, a2, a3, a4, a5, a6)
	} else {
		r, _, e = unix.Syscall6(trap, a1, a2, a3, a4, a5, a6)
	}
	return r, e
}

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

//go:uintptrescapes
func (t *tracer) ptrace(req, pid int, addr, data uintptr) error {
	_, e := t.sys(unix.SYS_PTRACE, uintptr(req), uintptr(pid), addr, data, 0, 0)
	return errnoErr(e)
}

// cont resumes pid, delivering sig (0: none).
func (t *tracer) cont(pid, sig int) error {
	return t.ptrace(unix.PTRACE_CONT, pid, 0, uintptr(sig))
}

// toExit resumes pid to the exit of the system call it stopped in.
func (t *tracer) toExit(pid int) error {
	return t.ptrace(unix.PTRACE_SYSCALL, pid, 0, 0)
}

func (t *tracer) eventMsg(pid int) (uint, error) {
	var msg uint
	err := t.ptrace(unix.PTRACE_GETEVENTMSG, pid, 0, uintptr(unsafe.Pointer(&msg)))
	return msg, err
}

// cpath is p as a NUL-terminated C string in t's scratch buffer, valid
// until the next call; with prefix "/proc/PID/cwd/" or "/proc/PID/fd/N/"
// for a relative path (dirfd < 0 and not AT_FDCWD: none).
func (t *tracer) cpath(pid, dirfd int, p string) *byte {
	b := t.cbuf[:0]
	if pid > 0 {
		b = append(b, "/proc/"...)
		b = strconv.AppendInt(b, int64(pid), 10)
		if dirfd == unix.AT_FDCWD {
			b = append(b, "/cwd"...)
		} else {
			b = append(b, "/fd/"...)
			b = strconv.AppendInt(b, int64(dirfd), 10)
		}
		if p != "" {
			b = append(b, '/')
		}
	}
	b = append(b, p...)
	b = append(b, 0)
	t.cbuf = b
	return &b[0]
}

// atFDCWD is AT_FDCWD as a system call argument.
var atFDCWD = func() uintptr { fd := unix.AT_FDCWD; return uintptr(fd) }()

func (t *tracer) fstatat(name *byte, st *unix.Stat_t, flags int) error {
	_, e := t.sys(unix.SYS_NEWFSTATAT, atFDCWD, uintptr(unsafe.Pointer(name)), uintptr(unsafe.Pointer(st)), uintptr(flags), 0, 0)
	return errnoErr(e)
}

func (t *tracer) readlink(name *byte, buf []byte) (int, error) {
	n, e := t.sys(unix.SYS_READLINKAT, atFDCWD, uintptr(unsafe.Pointer(name)), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	return int(n), errnoErr(e)
}

func (t *tracer) processVMReadv(pid int, b []byte, addr uint64) (int, error) {
	local := unix.Iovec{Base: &b[0]}
	local.SetLen(len(b))
	remote := unix.RemoteIovec{Base: uintptr(addr), Len: len(b)}
	n, e := t.sys(unix.SYS_PROCESS_VM_READV, uintptr(pid), uintptr(unsafe.Pointer(&local)), 1, uintptr(unsafe.Pointer(&remote)), 1, 0)
	return int(n), errnoErr(e)
}
