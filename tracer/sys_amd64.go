//go:build linux

package tracer

import "golang.org/x/sys/unix"

// auditArch is the seccomp_data.arch of this architecture's system calls.
const auditArch = unix.AUDIT_ARCH_X86_64

// x32Bit marks the system call numbers of the x32 ABI, which share
// AUDIT_ARCH_X86_64 with the native ones.
const x32Bit = 0x40000000

// syscalls are the traced system calls; the filter returns each one's index
// as SECCOMP_RET_DATA.
var syscalls = []sysc{
	{nr: unix.SYS_OPEN, kind: kOpen, dirfd: -1, path: 0, flags: 1, emptyPath: -1},
	{nr: unix.SYS_CREAT, kind: kOpen, dirfd: -1, path: 0, flags: -1, emptyPath: -1, creat: true},
	{nr: unix.SYS_OPENAT, kind: kOpen, dirfd: 0, path: 1, flags: 2, emptyPath: -1},
	{nr: unix.SYS_OPENAT2, kind: kOpenat2, dirfd: 0, path: 1, flags: 2, emptyPath: -1},
	{nr: unix.SYS_EXECVE, kind: kExec, dirfd: -1, path: 0, flags: -1, emptyPath: -1},
	{nr: unix.SYS_EXECVEAT, kind: kExec, dirfd: 0, path: 1, flags: 4, emptyPath: -1},
	{nr: unix.SYS_STAT, kind: kStat, dirfd: -1, path: 0, flags: -1, emptyPath: -1},
	{nr: unix.SYS_LSTAT, kind: kStat, dirfd: -1, path: 0, flags: -1, emptyPath: -1, lstat: true},
	{nr: unix.SYS_NEWFSTATAT, kind: kStat, dirfd: 0, path: 1, flags: 3, emptyPath: 3},
	{nr: unix.SYS_STATX, kind: kStat, dirfd: 0, path: 1, flags: 2, emptyPath: 2},
	{nr: unix.SYS_READLINK, kind: kReadlink, dirfd: -1, path: 0, flags: -1, emptyPath: -1},
	{nr: unix.SYS_READLINKAT, kind: kReadlink, dirfd: 0, path: 1, flags: -1, emptyPath: -1},
	{nr: unix.SYS_ACCESS, kind: kAccess, dirfd: -1, path: 0, flags: -1, emptyPath: -1},
	{nr: unix.SYS_FACCESSAT, kind: kAccess, dirfd: 0, path: 1, flags: -1, emptyPath: -1},
	{nr: unix.SYS_FACCESSAT2, kind: kAccess, dirfd: 0, path: 1, flags: 3, emptyPath: 3},
	{nr: unix.SYS_CHDIR, kind: kChdir, dirfd: -1, path: 0, flags: -1, emptyPath: -1},
	{nr: unix.SYS_GETDENTS, kind: kList, dirfd: 0, path: -1, flags: -1, emptyPath: -1},
	{nr: unix.SYS_GETDENTS64, kind: kList, dirfd: 0, path: -1, flags: -1, emptyPath: -1},
	{nr: unix.SYS_MKDIR, kind: kCreate, dirfd: -1, path: 0, flags: -1, emptyPath: -1},
	{nr: unix.SYS_MKDIRAT, kind: kCreate, dirfd: 0, path: 1, flags: -1, emptyPath: -1},
	{nr: unix.SYS_MKNOD, kind: kCreate, dirfd: -1, path: 0, flags: -1, emptyPath: -1},
	{nr: unix.SYS_MKNODAT, kind: kCreate, dirfd: 0, path: 1, flags: -1, emptyPath: -1},
	{nr: unix.SYS_RENAME, kind: kCreate, dirfd: -1, path: 1, flags: -1, emptyPath: -1, replaces: true},
	{nr: unix.SYS_RENAMEAT, kind: kCreate, dirfd: 2, path: 3, flags: -1, emptyPath: -1, replaces: true},
	{nr: unix.SYS_RENAMEAT2, kind: kCreate, dirfd: 2, path: 3, flags: -1, emptyPath: -1, replaces: true},
	{nr: unix.SYS_LINK, kind: kCreate, dirfd: -1, path: 1, flags: -1, emptyPath: -1},
	{nr: unix.SYS_LINKAT, kind: kCreate, dirfd: 2, path: 3, flags: -1, emptyPath: -1},
	{nr: unix.SYS_SYMLINK, kind: kCreate, dirfd: -1, path: 1, flags: -1, emptyPath: -1},
	{nr: unix.SYS_SYMLINKAT, kind: kCreate, dirfd: 1, path: 2, flags: -1, emptyPath: -1},
}

// regsArgs reads the system call arguments from the registers (kernels
// without PTRACE_GET_SYSCALL_INFO, before 5.3).
func regsArgs(pid int) (args [6]uint64, err error) {
	var r unix.PtraceRegs
	if err := unix.PtraceGetRegs(pid, &r); err != nil {
		return args, err
	}
	return [6]uint64{r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9}, nil
}

// regsReturn reads a system call's return value from the registers.
func regsReturn(pid int) (int64, error) {
	var r unix.PtraceRegs
	if err := unix.PtraceGetRegs(pid, &r); err != nil {
		return 0, err
	}
	return int64(r.Rax), nil
}

// regsReads say where the eBPF program finds a system call's number and
// arguments in struct pt_regs at sys_exit: the bytes it reads (at, size)
// and where it puts them (to, from sRegs); the arguments and the number
// are then at these offsets from sRegs. amd64: r10, r9, r8, ax, cx, dx,
// si, di and orig_ax.
var regsReads = []struct {
	at, size int32
	to       int16
}{{at: 56, size: 72, to: 0}}

var regsArgsAt = [6]int16{56, 48, 40, 0, 16, 8}

const regsNrAt = 64
