//go:build linux && (amd64 || arm64)

package tracer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// HelperMain is the helper's whole life (see IsHelper): it enters the root
// and the working directory, finds the program in PATH as execvp does,
// installs the seccomp filter and executes the program, stopped by the
// tracer at each traced system call from then on. Whatever stops it is
// written to file descriptor 3 for the tracer, and it exits 127.
func HelperMain() {
	// The filter is installed on this thread, which then executes the
	// program: the program inherits it.
	runtime.LockOSThread()
	unix.CloseOnExec(3)
	err := helper(os.Args[2], os.Args[3], os.Args[4:])
	msg := err.Error()
	unix.Write(3, []byte(msg))
	os.Exit(127)
}

func helper(root, dir string, argv []string) error {
	if root != "" {
		if err := unix.Chroot(root); err != nil {
			return fmt.Errorf("chroot %s: %v", root, err)
		}
		if err := unix.Chdir("/"); err != nil {
			return fmt.Errorf("chdir / in %s: %v", root, err)
		}
	}
	if dir != "" {
		if err := unix.Chdir(dir); err != nil {
			return fmt.Errorf("working directory %s: %v", dir, err)
		}
	}
	path, err := lookPath(argv[0])
	if err != nil {
		return err
	}
	// Without CAP_SYS_ADMIN a seccomp filter needs no_new_privs (which also
	// makes set-user-ID programs run as the caller).
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("unsupported: prctl(PR_SET_NO_NEW_PRIVS): %v", err)
	}
	prog := filter()
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0); err != nil {
		return fmt.Errorf("unsupported: installing a seccomp filter: %v", err)
	}
	env := os.Environ()
	err = unix.Exec(path, argv, env)
	if err == unix.ENOEXEC {
		// execvp runs a file that is no executable format as a shell script.
		err = unix.Exec("/bin/sh", append([]string{"sh", path}, argv[1:]...), env)
	}
	switch err {
	case unix.ENOENT:
		return fmt.Errorf("%s: no such file or directory (or its interpreter is missing)", path)
	case unix.EACCES:
		return fmt.Errorf("%s: permission denied", path)
	}
	return fmt.Errorf("%s: %v", path, err)
}

// lookPath finds a program as execvp does: a name with a slash is used as
// it is, another is looked for in each directory of PATH (by default
// /bin:/usr/bin), the first executable regular file wins.
func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathEnv, ok := os.LookupEnv("PATH")
	if !ok {
		pathEnv = "/bin:/usr/bin"
	}
	denied := ""
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + name
		var st unix.Stat_t
		if unix.Stat(p, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		if unix.Access(p, unix.X_OK) != nil {
			denied = p
			continue
		}
		return p, nil
	}
	if denied != "" {
		return "", fmt.Errorf("%s: permission denied", denied)
	}
	return "", errors.New(name + ": not found in PATH")
}

// The BPF program: the tracer is stopped (SECCOMP_RET_TRACE, the index in
// syscalls as data) on each traced call, every other call runs untouched.
//
// System calls of a foreign ABI (i386's int 0x80 and x32 on x86-64, arm32
// on arm64) are allowed untraced: a 32-bit program's own paths are not
// seen (its exec by a 64-bit process is), while killing it would break the
// run. Multiarch 32-bit programs are rare in images.
func filter() []unix.SockFilter {
	const (
		offNr   = 0
		offArch = 4
		offArgs = 16
		allow   = unix.SECCOMP_RET_ALLOW
	)
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jump := func(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: code, K: k, Jt: jt, Jf: jf}
	}
	f := []unix.SockFilter{
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArch),
		jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, auditArch, 1, 0),
		stmt(unix.BPF_RET|unix.BPF_K, allow),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr),
	}
	if x32Bit != 0 {
		f = append(f,
			jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, x32Bit, 0, 1),
			stmt(unix.BPF_RET|unix.BPF_K, allow))
	}
	for i, sc := range syscalls {
		trace := stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_TRACE|uint32(i))
		if sc.emptyPath < 0 {
			f = append(f, jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, sc.nr, 0, 1), trace)
			continue
		}
		f = append(f,
			jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, sc.nr, 0, 4),
			// The low 32 bits of the flags (little-endian).
			stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArgs+8*uint32(sc.emptyPath)),
			jump(unix.BPF_JMP|unix.BPF_JSET|unix.BPF_K, unix.AT_EMPTY_PATH, 0, 1),
			stmt(unix.BPF_RET|unix.BPF_K, allow),
			trace)
	}
	return append(f, stmt(unix.BPF_RET|unix.BPF_K, allow))
}
