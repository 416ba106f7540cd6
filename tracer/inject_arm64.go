//go:build linux

package tracer

import "golang.org/x/sys/unix"

// regs are a stopped tracee's registers.
type regs = unix.PtraceRegsArm64

func getRegs(pid int) (regs, error) {
	var r regs
	err := unix.PtraceGetRegSetArm64(pid, unix.NT_PRSTATUS, &r)
	return r, err
}

func setRegs(pid int, r *regs) error { return unix.PtraceSetRegSetArm64(pid, unix.NT_PRSTATUS, r) }

// syscallInsn is the instruction that makes a system call: svc #0.
var syscallInsn = []byte{0x01, 0x00, 0x00, 0xd4}

func regsPC(r *regs) uint64 { return r.Pc }
func regsSP(r *regs) uint64 { return r.Sp }

// setSyscall makes r a call of system call nr (x8) with args (x0-x5) at pc.
func setSyscall(r *regs, pc uint64, nr uintptr, args ...uint64) {
	r.Pc = pc
	r.Regs[8] = uint64(nr)
	copy(r.Regs[:], args)
}

func regsRet(r *regs) int64 { return int64(r.Regs[0]) }
