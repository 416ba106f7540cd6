package ldso

import (
	"path"
	"strings"

	"github.com/fromscratch/fromscratch/rootfs"
)

// muslReserved are the names musl's loader answers itself (libc.so.6 is
// not among them: "libc." is matched as a prefix, as load_library does).
var muslReserved = []string{"c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet."}

// muslIsSelf reports whether name is the musl loader itself.
func (s *session) muslIsSelf(name string) bool {
	if strings.HasPrefix(name, "lib") {
		for _, r := range muslReserved {
			if strings.HasPrefix(name[3:], r) {
				return true
			}
		}
	}
	return name == s.res.Interpreter
}

// muslSysPath reads PREFIX/etc/ld-musl-ARCH.path, where PREFIX is the
// loader's path less its last two components, as musl does; a missing file
// means /lib:/usr/local/lib:/usr/lib, an unreadable one an empty path.
func (r *Resolver) muslSysPath(interp string, a arch) []string {
	prefix := ""
	if strings.HasPrefix(interp, "/") {
		prefix = path.Dir(path.Dir(interp))
		if prefix == "/" {
			prefix = ""
		}
	}
	b, err := rootfs.ReadFile(r.fsys, prefix+"/etc/ld-musl-"+a.muslArch+".path", 1<<20)
	if err != nil {
		if isNotExist(err) {
			return []string{"/lib", "/usr/local/lib", "/usr/lib"}
		}
		return nil
	}
	return splitAny(string(b), ":\n")
}

// searchMusl is load_library's search for a name needed by object l.
func (s *session) searchMusl(name string, l *object) found {
	if strings.Contains(name, "/") {
		return s.direct(name)
	}
	if len(s.r.opts.LibraryPath) > 0 {
		if f, ok := s.muslOpen(name, s.r.opts.LibraryPath, "LD_LIBRARY_PATH"); ok {
			return f
		}
	}
	for o := l; o != nil; o = o.loader {
		rp, ok := s.muslRpath(o)
		if !ok {
			continue
		}
		if f, ok := s.muslOpen(name, splitAny(rp, ":\n"), "rpath"); ok {
			return f
		}
	}
	f, _ := s.muslOpen(name, s.ld.muslPath, "musl-path")
	return f
}

// muslRpath is fixup_rpath: DT_RUNPATH (else DT_RPATH) with $ORIGIN and
// ${ORIGIN} expanded; any other token disables the object's path.
func (s *session) muslRpath(o *object) (string, bool) {
	rp, has := o.info.RPath, o.info.HasRPath
	if o.info.HasRunPath {
		rp, has = o.info.RunPath, true
	}
	if !has {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(rp); i++ {
		if rp[i] != '$' {
			b.WriteByte(rp[i])
			continue
		}
		switch {
		case strings.HasPrefix(rp[i:], "$ORIGIN"):
			i += len("$ORIGIN") - 1
		case strings.HasPrefix(rp[i:], "${ORIGIN}"):
			i += len("${ORIGIN}") - 1
		default:
			return "", false
		}
		b.WriteString(o.origin())
	}
	return b.String(), true
}

// muslOpen is path_open: the first directory holding name wins, whatever
// the file is.
func (s *session) muslOpen(name string, dirs []string, via string) (found, bool) {
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if f, ok := s.candidate(d, name); ok {
			f.via = via
			return f, true
		}
	}
	return found{}, false
}
