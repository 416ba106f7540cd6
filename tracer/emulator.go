package tracer

import "strings"

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
