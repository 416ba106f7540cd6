package builder

import (
	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/rootfs"
)

// checkProgram refuses a PROGRAM that cannot be an entrypoint; arg is
// PROGRAM as given, for messages.
func checkProgram(fsys rootfs.FS, program, arg string) error {
	real, err := rootfs.Realpath(fsys, program)
	if err != nil {
		return badInputErr(err, "%s: %s", arg, describe(err))
	}
	fi, err := fsys.Lstat(real)
	if err != nil {
		return badInputErr(err, "%s: %s", arg, describe(err))
	}
	if !fi.Mode().IsRegular() {
		return badInput("%s: not a regular file", arg)
	}
	if fi.Mode()&0o111 == 0 {
		return badInput("%s: not executable (mode %v)", arg, fi.Mode().Perm())
	}
	f, err := fsys.Open(real)
	if err != nil {
		return badInputErr(err, "%s: %s", arg, describe(err))
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := f.ReadAt(head, 0)
	switch {
	case n >= 4 && string(head) == "\x7fELF":
		// A malformed program, or one the kernel refuses to run, is named
		// as ldd names it.
		info, err := elfinfo.Read(f, fi.Size())
		if err == nil {
			err = info.ExecError()
		}
		if err != nil {
			return badInputErr(err, "%s: %s", arg, describe(err))
		}
	case n >= 2 && string(head[:2]) == "#!":
	default:
		return badInput("%s: not an ELF program nor a #! script", arg)
	}
	return nil
}
