//go:build linux

package tracer

import "golang.org/x/sys/unix"

// auditArch is the seccomp_data.arch of this architecture's system calls.
const auditArch = unix.AUDIT_ARCH_AARCH64

// x32Bit is 0: arm64 has no second ABI under the same audit arch (32-bit
// arm programs report AUDIT_ARCH_ARM, a foreign arch to the filter).
const x32Bit = 0

// syscalls are the traced system calls; the filter returns each one's index
// as SECCOMP_RET_DATA. arm64 has only the *at forms.
var syscalls = []sysc{
	{nr: unix.SYS_OPENAT, kind: kOpen, dirfd: 0, path: 1, flags: 2, emptyPath: -1},
	{nr: unix.SYS_OPENAT2, kind: kOpenat2, dirfd: 0, path: 1, flags: 2, emptyPath: -1},
	{nr: unix.SYS_EXECVE, kind: kExec, dirfd: -1, path: 0, flags: -1, emptyPath: -1},
	{nr: unix.SYS_EXECVEAT, kind: kExec, dirfd: 0, path: 1, flags: 4, emptyPath: -1},
	{nr: unix.SYS_NEWFSTATAT, kind: kStat, dirfd: 0, path: 1, flags: 3, emptyPath: 3},
	{nr: unix.SYS_STATX, kind: kStat, dirfd: 0, path: 1, flags: 2, emptyPath: 2},
	{nr: unix.SYS_READLINKAT, kind: kReadlink, dirfd: 0, path: 1, flags: -1, emptyPath: -1},
	{nr: unix.SYS_FACCESSAT, kind: kAccess, dirfd: 0, path: 1, flags: -1, emptyPath: -1},
	{nr: unix.SYS_FACCESSAT2, kind: kAccess, dirfd: 0, path: 1, flags: 3, emptyPath: 3},
	{nr: unix.SYS_CHDIR, kind: kChdir, dirfd: -1, path: 0, flags: -1, emptyPath: -1},
	{nr: unix.SYS_GETDENTS64, kind: kList, dirfd: 0, path: -1, flags: -1, emptyPath: -1},
	{nr: unix.SYS_MKDIRAT, kind: kCreate, dirfd: 0, path: 1, flags: -1, emptyPath: -1},
	{nr: unix.SYS_MKNODAT, kind: kCreate, dirfd: 0, path: 1, flags: -1, emptyPath: -1},
	{nr: unix.SYS_RENAMEAT, kind: kCreate, dirfd: 2, path: 3, flags: -1, emptyPath: -1, replaces: true},
	{nr: unix.SYS_RENAMEAT2, kind: kCreate, dirfd: 2, path: 3, flags: -1, emptyPath: -1, replaces: true},
	{nr: unix.SYS_LINKAT, kind: kCreate, dirfd: 2, path: 3, flags: -1, emptyPath: -1},
	{nr: unix.SYS_SYMLINKAT, kind: kCreate, dirfd: 1, path: 2, flags: -1, emptyPath: -1},
}

// regsArgs reads the system call arguments from the registers (kernels
// without PTRACE_GET_SYSCALL_INFO, before 5.3).
func regsArgs(pid int) (args [6]uint64, err error) {
	r, err := getRegs(pid)
	copy(args[:], r.Regs[:6])
	return args, err
}

// regsReturn reads a system call's return value from the registers.
func regsReturn(pid int) (int64, error) {
	r, err := getRegs(pid)
	return regsRet(&r), err
}

// regsReads say where the eBPF program finds a system call's number and
// arguments in struct pt_regs at sys_exit: the bytes it reads (at, size)
// and where it puts them (to, from sRegs); the arguments and the number
// are then at these offsets from sRegs. arm64: regs[0] to regs[5] (x0
// holds the result now), then orig_x0 and syscallno.
var regsReads = []struct {
	at, size int32
	to       int16
}{{at: 0, size: 48, to: 0}, {at: 272, size: 16, to: 48}}

var regsArgsAt = [6]int16{48, 8, 16, 24, 32, 40}

const regsNrAt = 56
