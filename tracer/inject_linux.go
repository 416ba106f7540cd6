//go:build linux && (amd64 || arm64)

package tracer

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// installFilter makes the tracee, stopped at the start of its program (the
// SIGTRAP of its first exec, before any instruction of the program ran),
// set no_new_privs and install the seccomp filter itself: two prctl calls
// made by writing a system call instruction at its program counter and the
// filter below its stack pointer, then putting back the instruction, the
// memory and the registers. No helper process is needed between the tracer
// and the program.
func installFilter(pid int) error {
	saved, err := getRegs(pid)
	if err != nil {
		return fmt.Errorf("reading the registers: %w", err)
	}
	pc, sp := regsPC(&saved), regsSP(&saved)

	prog := filter()
	progBytes := unsafe.Slice((*byte)(unsafe.Pointer(&prog[0])), len(prog)*int(unsafe.Sizeof(prog[0])))
	// struct sock_fprog: an unsigned short length, then the pointer.
	scratch := (sp - 8192 - uint64(len(progBytes)) - 16) &^ 15
	var fprog [16]byte
	*(*uint16)(unsafe.Pointer(&fprog[0])) = uint16(len(prog))
	*(*uint64)(unsafe.Pointer(&fprog[8])) = scratch + 16
	data := append(fprog[:], progBytes...)

	oldData := make([]byte, len(data))
	if err := peekData(pid, scratch, oldData); err != nil {
		return fmt.Errorf("reading the stack: %w", err)
	}
	oldInsn := make([]byte, len(syscallInsn))
	if _, err := unix.PtracePeekText(pid, uintptr(pc), oldInsn); err != nil {
		return fmt.Errorf("reading the code: %w", err)
	}
	if err := pokeData(pid, scratch, data); err != nil {
		return fmt.Errorf("writing the stack: %w", err)
	}
	if _, err := unix.PtracePokeText(pid, uintptr(pc), syscallInsn); err != nil {
		return fmt.Errorf("writing the code: %w", err)
	}
	callErr := func() error {
		if err := injectSyscall(pid, saved, pc, unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
		}
		if err := injectSyscall(pid, saved, pc, unix.SYS_PRCTL, unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, scratch, 0, 0); err != nil {
			return fmt.Errorf("installing the seccomp filter: %w", err)
		}
		return nil
	}()
	if _, err := unix.PtracePokeText(pid, uintptr(pc), oldInsn); err != nil {
		return fmt.Errorf("restoring the code: %w", err)
	}
	if err := pokeData(pid, scratch, oldData); err != nil {
		return fmt.Errorf("restoring the stack: %w", err)
	}
	if err := setRegs(pid, &saved); err != nil {
		return fmt.Errorf("restoring the registers: %w", err)
	}
	return callErr
}

// injectSyscall runs one system call in the stopped tracee (the system call
// instruction is at pc) and returns its error.
func injectSyscall(pid int, base regs, pc uint64, nr uintptr, args ...uint64) error {
	r := base
	setSyscall(&r, pc, nr, args...)
	if err := setRegs(pid, &r); err != nil {
		return err
	}
	// To the call's entry, then to its exit.
	for range 2 {
		if err := unix.PtraceSyscall(pid, 0); err != nil {
			return err
		}
		var ws unix.WaitStatus
		if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil {
			return err
		}
		if !ws.Stopped() {
			return errors.New("the process ended")
		}
	}
	out, err := getRegs(pid)
	if err != nil {
		return err
	}
	if ret := regsRet(&out); ret < 0 && ret > -4096 {
		return unix.Errno(-ret)
	}
	return nil
}

// peekData reads the tracee's memory at addr into b: in one
// process_vm_readv, or (where it is refused) a word at a time with
// PTRACE_PEEKDATA, which for the filter's half a kilobyte was some 60
// ptrace calls each way and milliseconds of every trace's start.
func peekData(pid int, addr uint64, b []byte) error {
	return copyData(pid, addr, b, unix.ProcessVMReadv, unix.PtracePeekData)
}

// pokeData writes b into the tracee's (writable) memory at addr, as
// peekData reads.
func pokeData(pid int, addr uint64, b []byte) error {
	return copyData(pid, addr, b, unix.ProcessVMWritev, unix.PtracePokeData)
}

// copyData moves b between this process and the tracee's memory at addr
// with vm (process_vm_readv or _writev), or word by word with ptrace.
func copyData(pid int, addr uint64, b []byte,
	vm func(int, []unix.Iovec, []unix.RemoteIovec, uint) (int, error),
	ptrace func(int, uintptr, []byte) (int, error)) error {
	local := []unix.Iovec{{Base: &b[0]}}
	local[0].SetLen(len(b))
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(b)}}
	if n, err := vm(pid, local, remote, 0); err == nil && n == len(b) {
		return nil
	}
	_, err := ptrace(pid, uintptr(addr), b)
	return err
}
