package ldso

import (
	"bytes"
	"path"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/rootfs"
)

// loaderEntry is what fromscratch knows of one loader of the root.
type loaderEntry struct {
	once  sync.Once
	name  string // as named by PT_INTERP
	found bool
	real  string
	links []rootfs.Link
	info  *elfinfo.Info
	// glibc: the default directories (without trailing slash) and $LIB.
	systemDirs []string
	lib        string
	minor      int // glibc 2.minor, 0 if unknown
	// musl: the system path.
	muslPath []string
}

// loader returns the loader named interp ("" for none), examined once.
func (r *Resolver) loader(interp string, musl bool, a arch, prog *elfinfo.Info) *loaderEntry {
	key := interp
	if interp == "" {
		key = "\x00" + a.triplet
	}
	e, ok := r.loaders.Load(key)
	if !ok {
		e, _ = r.loaders.LoadOrStore(key, &loaderEntry{name: interp})
	}
	e.once.Do(func() {
		if interp != "" {
			if real, links, err := r.realpath(interp); err == nil {
				if info, err := r.parse(real); err == nil {
					e.found, e.real, e.links, e.info = true, real, links, info
				}
			}
		}
		if musl {
			e.muslPath = r.muslSysPath(interp, a)
			return
		}
		if e.found {
			if b, err := rootfs.ReadFile(r.fsys, e.real, maxLoaderScan); err == nil {
				e.systemDirs = scanSystemDirs(b)
				if m := releaseRE.FindSubmatch(b); m != nil {
					e.minor, _ = strconv.Atoi(string(m[1]))
				}
			}
		}
		if len(e.systemDirs) == 0 {
			e.systemDirs = r.guessSystemDirs(a)
		}
		e.lib = strings.Trim(e.systemDirs[0], "/")
	})
	return e
}

// releaseRE finds the version glibc's loader prints with --version.
var releaseRE = regexp.MustCompile(`release version 2\.([0-9]+)`)

// systemDirRE matches one of glibc's compiled-in default directories.
var systemDirRE = regexp.MustCompile(`^/[A-Za-z0-9_./+-]*lib[A-Za-z0-9_./+-]*/$`)

// scanSystemDirs finds glibc's SYSTEM_DIRS in the loader's bytes: the
// default directories are stored as one run of NUL-separated strings, each
// ending in a slash ("/lib/x86_64-linux-gnu/\0/usr/lib/x86_64-linux-gnu/\0
// /lib/\0/usr/lib/" on Debian, "/lib64/\0/usr/lib64/" on Fedora). The
// longest such run is taken. The result has no trailing slashes.
func scanSystemDirs(b []byte) []string {
	var best, run []string
	isDir := func(s []byte) bool {
		return len(s) >= 2 && len(s) < 64 && s[0] == '/' && s[len(s)-1] == '/' && systemDirRE.Match(s)
	}
	// A run of two or more directories holds "/\0/"; a run of one is no
	// answer. Walking every NUL-terminated string of the loader (most of
	// its bytes are code) is slower than finding those.
	for i := 0; ; {
		k := bytes.Index(b[i:], []byte("/\x00/"))
		if k < 0 {
			break
		}
		// From the string holding the "/\0/" through the end of the run
		// that follows.
		pos := bytes.LastIndexByte(b[:i+k], 0) + 1
		run = run[:0]
		for first := true; pos < len(b); first = false {
			str, next := b[pos:], len(b)
			if e := bytes.IndexByte(str, 0); e >= 0 {
				str, next = str[:e], pos+e+1
			}
			pos = next
			if isDir(str) {
				run = append(run, strings.TrimSuffix(string(str), "/"))
				if len(run) > len(best) {
					best = append([]string(nil), run...)
				}
				continue
			}
			run = run[:0]
			if !first {
				break
			}
		}
		if pos >= len(b) {
			break
		}
		i = pos
	}
	if len(best) < 2 {
		return nil
	}
	return best
}

// guessSystemDirs derives the default directories from the layout of the
// root when its loader cannot be read.
func (r *Resolver) guessSystemDirs(a arch) []string {
	if a.triplet != "" && (r.listDir("/lib/"+a.triplet) != nil || r.listDir("/usr/lib/"+a.triplet) != nil) {
		return []string{"/lib/" + a.triplet, "/usr/lib/" + a.triplet, "/lib", "/usr/lib"}
	}
	if a.libSuffix != "" && (r.listDir("/lib"+a.libSuffix) != nil || r.listDir("/usr/lib"+a.libSuffix) != nil) {
		return []string{"/lib" + a.libSuffix, "/usr/lib" + a.libSuffix}
	}
	return []string{"/lib", "/usr/lib"}
}

// direct is the library at p, a needed name with a slash (a relative one
// is opened from the working directory), as both loaders open it.
func (s *session) direct(p string) found {
	if !path.IsAbs(p) {
		p = path.Join(s.r.opts.WorkDir, p)
	}
	f, ok := s.candidate(path.Dir(p), path.Base(p))
	if ok {
		f.path, f.via = p, "direct"
	}
	return f
}

// searchGlibc is _dl_map_object's search for a name needed by object l.
func (s *session) searchGlibc(name string, l *object) found {
	if strings.Contains(name, "/") {
		p := name
		if strings.Contains(p, "$") {
			var ok bool
			if p, ok = s.expand(name, l); !ok {
				return found{}
			}
		}
		return s.direct(p)
	}
	// Most searches depend on the name alone (no RPATH, RUNPATH or
	// LD_LIBRARY_PATH in play): their answer is shared by every program
	// of the root with the same loader.
	if s.plainSearch(l) {
		if s.plain == nil {
			s.plain = s.r.plainCache(s.ld.name, s.arch.triplet)
		}
		f, ok := s.plain.Load(name)
		if !ok {
			f = s.searchSystem(name, l)
			s.plain.Store(name, f)
		}
		return f
	}
	// DT_RPATH of l and up its chain of loaders, then of the program, when
	// l has no DT_RUNPATH.
	if !l.info.HasRunPath {
		didMain := false
		for o := l; o != nil; o = o.loader {
			if o.info.HasRPath && !o.info.HasRunPath {
				if f, ok := s.openPath(name, s.rpathDirs(o), "rpath"); ok {
					return f
				}
				didMain = didMain || o == s.main
			}
		}
		if !didMain && s.main.info.HasRPath && !s.main.info.HasRunPath {
			if f, ok := s.openPath(name, s.rpathDirs(s.main), "rpath"); ok {
				return f
			}
		}
	}
	if len(s.r.opts.LibraryPath) > 0 {
		if s.libPath == nil {
			s.libPath = s.pathList(strings.Join(s.r.opts.LibraryPath, ":"), s.main)
		}
		if f, ok := s.openPath(name, s.libPath, "LD_LIBRARY_PATH"); ok {
			return f
		}
	}
	if l.info.HasRunPath {
		if !l.runpathDone {
			l.runpath, l.runpathDone = s.pathList(l.info.RunPath, l), true
		}
		if f, ok := s.openPath(name, l.runpath, "runpath"); ok {
			return f
		}
	}
	return s.searchSystem(name, l)
}

// rpathDirs returns o's DT_RPATH as a list of directories, expanded once
// for all the names o needs.
func (s *session) rpathDirs(o *object) []string {
	if !o.rpathDone {
		o.rpath, o.rpathDone = s.pathList(o.info.RPath, o), true
	}
	return o.rpath
}

// plainSearch reports whether a search for l depends on the name only:
// no search path of l, its loaders or the program, and no NODEFLIB.
func (s *session) plainSearch(l *object) bool {
	if len(s.r.opts.LibraryPath) > 0 || l.info.HasRunPath || l.info.NoDefLib() || s.main.info.HasRPath {
		return false
	}
	for o := l; o != nil; o = o.loader {
		if o.info.HasRPath {
			return false
		}
	}
	return true
}

// searchSystem is the end of the search: ld.so.cache and the default
// directories.
func (s *session) searchSystem(name string, l *object) found {
	nodeflib := l.info.NoDefLib()
	if !nodeflib {
		if f, ok := s.fromCache(name); ok {
			return f
		}
	} else if f, ok := s.fromCache(name); ok && !s.inSystemDir(f.path) {
		return f
	}
	if dirs := s.r.confDirs(); dirs != nil {
		// Options.UseConf on a root without a cache: what the cache would
		// hold once ldconfig has run.
		if f, ok := s.openPath(name, dirs, "ld.so.conf"); ok && !(nodeflib && s.inSystemDir(f.path)) {
			return f
		}
	}
	if !nodeflib {
		if f, ok := s.openPath(name, s.ld.systemDirs, "default"); ok {
			return f
		}
	}
	return found{}
}

// inSystemDir reports whether p is in one of the default directories (the
// prefix test of _dl_map_object for DF_1_NODEFLIB).
func (s *session) inSystemDir(p string) bool {
	for _, d := range s.ld.systemDirs {
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// fromCache looks name up in ROOT/etc/ld.so.cache. A cached path that is
// missing or unusable falls through to the default directories.
func (s *session) fromCache(name string) (found, bool) {
	c, err := s.r.cache()
	if err != nil || c == nil {
		return found{}, false
	}
	flags, ok := CacheFlags(s.main.info.Class, s.main.info.Machine, s.main.info.EFlags)
	if !ok {
		return found{}, false
	}
	p := c.Lookup(name, flags, s.hwcaps)
	if p == "" {
		return found{}, false
	}
	f, ok := s.candidate(path.Dir(p), path.Base(p))
	if !ok {
		return found{}, false
	}
	f.path, f.via = p, "ld.so.cache"
	return f, true
}

// openPath tries each directory, and in each its glibc-hwcaps
// subdirectories first (open_path). ok is true when the search ends: a
// library found, or a file the loader refuses (f.err).
func (s *session) openPath(name string, dirs []string, via string) (found, bool) {
	for _, d := range dirs {
		hwcaps := s.hwcaps
		if names := s.r.listDir(d); names != nil && !names["glibc-hwcaps"] {
			hwcaps = nil // d lists no glibc-hwcaps: none of its subdirectories exists
		}
		for _, h := range hwcaps {
			if f, ok := s.candidate(d+"/glibc-hwcaps/"+h, name); ok {
				f.via = via
				return f, true
			}
		}
		if f, ok := s.candidate(d, name); ok {
			f.via = via
			return f, true
		}
	}
	return found{}, false
}

// pathList splits a search path of object o and expands its tokens
// (fillin_rpath): empty elements are the working directory, trailing
// slashes are dropped, an element whose $ORIGIN is unknown is dropped.
func (s *session) pathList(list string, o *object) []string {
	var out []string
	for _, e := range strings.Split(list, ":") {
		if e != "" {
			var ok bool
			if e, ok = s.expand(e, o); !ok || e == "" {
				continue
			}
		}
		if !path.IsAbs(e) {
			e = strings.TrimSuffix(path.Join(s.r.opts.WorkDir, e), "/")
		}
		for len(e) > 1 && strings.HasSuffix(e, "/") {
			e = e[:len(e)-1]
		}
		if e == "/" {
			e = ""
		}
		out = append(out, e)
	}
	return out
}

// platform is $PLATFORM: the kernel's AT_PLATFORM, which glibc up to 2.36
// replaces on Intel x86-64 CPUs with "haswell" or "xeon_phi"
// (sysdeps/x86/cpu-features.c) when it runs on this machine.
func (s *session) platform() string {
	if s.r.opts.Platform != "" {
		return s.r.opts.Platform
	}
	if s.arch.goarch == "amd64" && runtime.GOARCH == "amd64" && s.ld.minor >= 26 && s.ld.minor <= 36 {
		if p := x86Platform(); p != "" {
			return p
		}
	}
	return s.arch.platform
}

// expand substitutes $ORIGIN, $LIB and $PLATFORM (and the ${...} forms) in
// s for object o (_dl_dst_substitute). A token is only recognised as a whole
// path component; an unknown one is kept as it is.
func (s *session) expand(str string, o *object) (string, bool) {
	if !strings.Contains(str, "$") {
		return str, true
	}
	var b strings.Builder
	for i := 0; i < len(str); i++ {
		if str[i] != '$' {
			b.WriteByte(str[i])
			continue
		}
		name, n := dstName(str[i+1:])
		var val string
		switch name {
		case "ORIGIN":
			val = o.origin()
			if val == "" {
				return "", false
			}
		case "LIB":
			val = s.ld.lib
		case "PLATFORM":
			val = s.platform()
		default:
			b.WriteByte('$')
			continue
		}
		b.WriteString(val)
		i += n
	}
	return b.String(), true
}

// dstName returns the token name at the start of s (after '$') and the
// number of bytes it takes, or "" if s does not start with a known token
// that ends a path component.
func dstName(s string) (string, int) {
	for _, name := range []string{"ORIGIN", "PLATFORM", "LIB"} {
		if strings.HasPrefix(s, "{"+name+"}") {
			rest := s[len(name)+2:]
			if rest == "" || rest[0] == '/' {
				return name, len(name) + 2
			}
		}
		if strings.HasPrefix(s, name) {
			rest := s[len(name):]
			if rest == "" || rest[0] == '/' {
				return name, len(name)
			}
		}
	}
	return "", 0
}
