//go:build linux

package tracer

import "golang.org/x/sys/unix"

// regs are a stopped tracee's registers.
type regs = unix.PtraceRegs

func getRegs(pid int) (regs, error) {
	var r regs
	err := unix.PtraceGetRegs(pid, &r)
	return r, err
}

func setRegs(pid int, r *regs) error { return unix.PtraceSetRegs(pid, r) }

// syscallInsn is the instruction that makes a system call: syscall.
var syscallInsn = []byte{0x0f, 0x05}

func regsPC(r *regs) uint64 { return r.Rip }
func regsSP(r *regs) uint64 { return r.Rsp }

// setSyscall makes r a call of system call nr with args at pc.
func setSyscall(r *regs, pc uint64, nr uintptr, args ...uint64) {
	r.Rip = pc
	r.Rax = uint64(nr)
	r.Orig_rax = ^uint64(0)
	p := []*uint64{&r.Rdi, &r.Rsi, &r.Rdx, &r.R10, &r.R8, &r.R9}
	for i, a := range args {
		*p[i] = a
	}
}

func regsRet(r *regs) int64 { return int64(r.Rax) }
