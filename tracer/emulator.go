package tracer

import (
	"debug/elf"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
)

// A program of another architecture (an arm64 root on an x86-64 host) runs
// under qemu-user, which the kernel starts through binfmt_misc: the system
// calls the tracer sees are qemu's, on the guest's paths. qemu first looks
// for each absolute path the guest names under its interpreter prefix
// (access(PREFIX/PATH, F_OK); Debian's default prefix is
// /etc/qemu-binfmt/ARCH, upstream's /usr/gnemul/qemu-ARCH, QEMU_LD_PREFIX
// sets another) and uses the guest's path when that is absent. These probes
// are qemu's, not the program's: when not found they are left out of the
// result. A prefix that exists in the root is used by qemu, and kept.

// emulatorPrefixes are the directories qemu-user's probes go under: its
// built-in defaults, and QEMU_LD_PREFIX of the program's environment.
func emulatorPrefixes(env []string) []string {
	prefixes := []string{"/etc/qemu-binfmt/", "/usr/gnemul/"}
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "QEMU_LD_PREFIX="); ok && strings.HasPrefix(v, "/") && strings.Trim(v, "/") != "" {
			prefixes = append(prefixes, strings.TrimRight(v, "/")+"/")
		}
	}
	return prefixes
}

// emulatorProbe says whether a path not found is under one of prefixes.
func emulatorProbe(prefixes []string, path string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// nativeMachines are the ELF machines the kernel of each GOARCH runs
// itself (the 32-bit ones where it has compat support).
var nativeMachines = map[string][]elf.Machine{
	"amd64": {elf.EM_X86_64, elf.EM_386},
	"arm64": {elf.EM_AARCH64, elf.EM_ARM},
}

// foreignExec explains a failed exec of path (inside root) when the file is
// an ELF program of a machine the kernel does not run itself: with no
// binfmt_misc handler (qemu-user) for it the exec fails with ENOEXEC (and
// is not to be retried as a shell script); in a chroot, a handler without
// the F flag looks its interpreter up inside the root, and the exec fails
// with ENOENT though the program and its loader are there. nil when the
// file is not such a program.
func foreignExec(root, path string, err error) error {
	if err != syscall.ENOEXEC && err != syscall.ENOENT {
		return nil
	}
	f, ferr := elf.Open(root + path)
	if ferr != nil {
		return nil
	}
	defer f.Close()
	if slices.Contains(nativeMachines[runtime.GOARCH], f.Machine) {
		if err == syscall.ENOEXEC {
			return fmt.Errorf("%w: %s: exec format error", ErrStart, path)
		}
		return nil
	}
	name := strings.ToLower(strings.TrimPrefix(f.Machine.String(), "EM_"))
	if err == syscall.ENOEXEC {
		return fmt.Errorf("%w: %s: exec format error: a program for %s, which this kernel runs only through a binfmt_misc handler (qemu-user-static), and none is enabled for it", ErrStart, path, name)
	}
	if root == "" {
		return nil
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, rerr := p.ReadAt(b, 0); rerr != nil {
				return nil
			}
			if _, serr := os.Stat(root + strings.TrimRight(string(b), "\x00")); serr != nil {
				return nil // its own loader is missing: the usual message
			}
		}
	}
	return fmt.Errorf("%w: %s: a program for %s, run by a binfmt_misc handler whose interpreter is not in the root: register the handler with the F flag (as Debian's qemu-user-static does) to use the host's", ErrStart, path, name)
}
