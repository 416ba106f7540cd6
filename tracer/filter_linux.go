//go:build linux && (amd64 || arm64)

package tracer

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// lookPath finds a program as execvp does: a name with a slash is used as
// it is, another is looked for in each directory of PATH (from env; by
// default /bin:/usr/bin), the first executable regular file wins. root
// ("" for /) and dir are where the program will run: the candidates are
// looked at there, symbolic links resolved inside root. The result is the
// path as the program sees it.
func lookPath(root, dir, name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathEnv, ok := "", false
	for _, e := range env {
		if v, found := strings.CutPrefix(e, "PATH="); found {
			pathEnv, ok = v, true
		}
	}
	if !ok {
		pathEnv = "/bin:/usr/bin"
	}
	denied := ""
	for _, d := range filepath.SplitList(pathEnv) {
		if d == "" {
			d = "."
		}
		p := d + "/" + name
		host := p
		if !filepath.IsAbs(host) && dir != "" {
			host = filepath.Join(dir, host)
		}
		if root != "" {
			if !filepath.IsAbs(host) {
				continue // relative to a cwd not yet known
			}
			h, err := securejoin.SecureJoin(root, host)
			if err != nil {
				continue
			}
			host = h
		}
		var st unix.Stat_t
		if unix.Stat(host, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		if unix.Access(host, unix.X_OK) != nil || st.Mode&0o111 == 0 {
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
