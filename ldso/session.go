package ldso

import (
	"debug/elf"
	"errors"
	"path"
	"strings"
	"sync"

	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/internal/syncmap"
	"github.com/fromscratch/fromscratch/rootfs"
)

// object is a loaded object, the loader's struct link_map.
type object struct {
	name  string // l_name: the path it was opened by
	real  string // identity: its real path inside the root
	alias string // l_libname: the name it was asked for
	short string // musl's shortname: the base name of a searched library
	info  *elfinfo.Info
	// soname is info.SOName, kept here for match, which compares it for
	// every object loaded and every name needed.
	soname string
	// originOf is the path whose directory is $ORIGIN, "" if unknown. The
	// directory is worked out when a search path names $ORIGIN, which few
	// do.
	originOf string
	// DT_RPATH and DT_RUNPATH as directories, once worked out.
	rpath, runpath         []string
	rpathDone, runpathDone bool
	loader                 *object // l_loader: the object that loaded it
	index                  int     // in Result.Libraries; DepMain, DepInterpreter
}

// session is one run of the loader over one program.
type session struct {
	r      *Resolver
	res    *Result
	main   *object
	interp *object // nil if the loader is not in the root
	loaded []*object
	musl   bool
	ld     *loaderEntry
	hwcaps []string
	arch   arch
	// missing names already reported, so each is listed once.
	missing map[string]int
	// plain caches the searches that depend on the name only, for this
	// session's loader and architecture; nil until the first.
	plain *syncmap.Map[string, found]
	// libPath is LD_LIBRARY_PATH as directories, once worked out.
	libPath []string

	// Scratch space kept from one session to the next (sessionPool):
	// the objects (nothing outside the session points to them), the
	// queue, and the libraries, copied to an exact-size Result.Libraries
	// at the end.
	objs  []object
	queue []*object
	libs  []Library
}

// sessionPool recycles sessions: a program's session makes a handful of
// objects and slices, and the corpus of a system has thousands of programs.
var sessionPool = sync.Pool{New: func() any { return new(session) }}

// newObject returns a zeroed object from the session's slab. The slab is
// never reallocated in place, so the pointers stay valid.
func (s *session) newObject() *object {
	if len(s.objs) == cap(s.objs) {
		s.objs = make([]object, 0, max(16, 2*cap(s.objs)))
	}
	s.objs = s.objs[:len(s.objs)+1]
	return &s.objs[len(s.objs)-1]
}

func newSession(r *Resolver, res *Result) *session {
	info := res.Info
	s := sessionPool.Get().(*session)
	s.r, s.res, s.arch = r, res, archOf(info)
	s.main = s.newObject()
	*s.main = object{
		name:     res.File,
		real:     res.Realpath,
		alias:    res.File,
		info:     info,
		soname:   info.SOName,
		originOf: res.Realpath,
		index:    DepMain,
	}
	s.loaded = append(s.loaded[:0], s.main)
	interp := info.Interp
	if interp == "" {
		interp = s.arch.glibcLD
		if needsMusl(info) {
			interp = "/lib/ld-musl-" + s.arch.muslArch + ".so.1"
		}
	}
	s.musl = strings.Contains(path.Base(interp), "ld-musl-")
	res.Flavor = "glibc"
	if s.musl {
		res.Flavor = "musl"
	}
	res.Interpreter = interp
	if interp != "" {
		s.ld = r.loader(interp, s.musl, s.arch, info)
		if s.ld.found {
			res.InterpreterFound = true
			res.InterpreterReal = s.ld.real
			res.InterpreterInfo = s.ld.info
			res.InterpreterLinks = s.ld.links
			s.interp = s.newObject()
			*s.interp = object{
				name:   interp,
				real:   s.ld.real,
				alias:  interp,
				info:   s.ld.info,
				soname: s.ld.info.SOName,
				index:  DepInterpreter,
			}
			s.loaded = append(s.loaded, s.interp)
		}
	} else {
		s.ld = r.loader("", s.musl, s.arch, info)
	}
	s.hwcaps = r.opts.HWCaps
	if s.hwcaps == nil {
		s.hwcaps = hostHWCaps(s.arch)
	}
	res.InterpreterIndex = -1
	return s
}

// origin returns $ORIGIN for o, "" if unknown.
func (o *object) origin() string {
	if o.originOf == "" {
		return ""
	}
	return path.Dir(o.originOf)
}

// needsMusl guesses the loader of a shared library that names none: musl's
// libc has the soname libc.so.
func needsMusl(info *elfinfo.Info) bool {
	for _, n := range info.Needed {
		if n == "libc.so" || strings.HasPrefix(n, "libc.musl-") {
			return true
		}
	}
	return false
}

// release clears the session and returns it to sessionPool; s must not be
// used after.
func (s *session) release() {
	// Only what this session used: the rest was cleared before.
	clear(s.objs)
	clear(s.loaded)
	clear(s.queue)
	clear(s.libs)
	clear(s.missing)
	*s = session{objs: s.objs[:0], loaded: s.loaded[:0], queue: s.queue[:0], libs: s.libs[:0], missing: s.missing}
	sessionPool.Put(s)
}

// run walks DT_NEEDED breadth-first, as _dl_map_object_deps (glibc) and
// load_deps (musl) do.
func (s *session) run() {
	queue := append(s.queue[:0], s.main)
	if !s.musl {
		// ROOT/etc/ld.so.preload: loaded for the program, before its
		// own dependencies, which come after them in the queue.
		for _, name := range s.r.preloads() {
			if o, isNew := s.load(name, s.main); isNew {
				queue = append(queue, o)
			}
		}
	}
	for i := 0; i < len(queue); i++ {
		o := queue[i]
		var deps []int
		if len(o.info.Needed) > 0 {
			deps = make([]int, 0, len(o.info.Needed))
		}
		for _, name := range o.info.Needed {
			dep, isNew := s.load(name, o)
			if dep == nil {
				deps = append(deps, s.missing[name])
				continue
			}
			deps = append(deps, dep.index)
			if isNew {
				queue = append(queue, dep)
			}
		}
		if o == s.main {
			s.res.Deps = deps
		} else if o.index >= 0 {
			s.libs[o.index].Deps = deps
		}
	}
	if s.res.InterpreterIndex < 0 {
		s.res.InterpreterIndex = len(s.libs)
		if s.res.Info.Interp == "" {
			// A shared library that does not name the loader: whatever
			// program loads it brings its own.
			s.res.Interpreter, s.res.InterpreterFound = "", false
			s.res.InterpreterReal, s.res.InterpreterLinks, s.res.InterpreterInfo = "", nil, nil
		}
	}
	s.queue = queue
	if len(s.libs) > 0 {
		s.res.Libraries = append([]Library(nil), s.libs...) // exact size
	}
}

// match finds an object already loaded under name (_dl_name_match_p, and
// the DT_SONAME test of _dl_map_object).
func (s *session) match(name string) *object {
	for _, o := range s.loaded {
		if s.musl {
			// musl matches the short name of a searched library only
			// (load_library).
			if o != s.main && o.short != "" && o.short == name && !strings.Contains(name, "/") {
				return o
			}
			continue
		}
		if o.name == name || o.alias == name {
			return o
		}
		if o.info != nil && o.soname == name {
			return o
		}
	}
	return nil
}

// byReal finds an object already loaded from the same file.
func (s *session) byReal(real string) *object {
	for _, o := range s.loaded {
		if o.real == real {
			return o
		}
	}
	return nil
}

// found is the outcome of a search.
type found struct {
	path  string
	real  string
	links []rootfs.Link
	info  *elfinfo.Info
	via   string
	err   string // a refused candidate that stops the search (glibc)
}

// load maps name for loader o and returns the object (nil if not found),
// and whether it is new, its dependencies still to be loaded.
func (s *session) load(name string, o *object) (*object, bool) {
	if s.musl && s.muslIsSelf(name) {
		return s.useInterp(), false
	}
	if m := s.match(name); m != nil {
		if m == s.interp {
			return s.useInterp(), false
		}
		return m, false
	}
	var f found
	if s.musl {
		f = s.searchMusl(name, o)
	} else {
		f = s.searchGlibc(name, o)
	}
	if f.path == "" || f.err != "" {
		if _, ok := s.missing[name]; !ok {
			if s.missing == nil {
				s.missing = map[string]int{}
			}
			s.missing[name] = len(s.libs)
			s.libs = append(s.libs, Library{Name: name, Error: f.err, NeededBy: o.name})
		}
		return nil, false
	}
	if m := s.byReal(f.real); m != nil {
		if s.musl && m.short == "" && !strings.Contains(name, "/") {
			m.short = path.Base(m.name)
		}
		if m == s.interp {
			return s.useInterp(), false
		}
		return m, false
	}
	obj := s.newObject()
	*obj = object{
		name:     f.path,
		real:     f.real,
		alias:    name,
		info:     f.info,
		soname:   f.info.SOName,
		originOf: f.path,
		loader:   o,
		index:    len(s.libs),
	}
	if s.musl && !strings.Contains(name, "/") {
		obj.short = path.Base(f.path)
	}
	s.loaded = append(s.loaded, obj)
	s.libs = append(s.libs, Library{
		Name: name, Path: f.path, Found: true, Realpath: f.real, Via: f.via,
		NeededBy: o.name, Links: f.links, Info: f.info,
	})
	return obj, true
}

// useInterp records that the loader was needed by name, which fixes its
// place in the load order.
func (s *session) useInterp() *object {
	if s.res.InterpreterIndex < 0 {
		s.res.InterpreterIndex = len(s.libs)
	}
	if s.interp == nil {
		// The loader is not in the root: the program cannot start anyway.
		return &object{index: DepInterpreter}
	}
	return s.interp
}

// candidate checks the file dir/name. ok is false when there is no such
// file, or when the loader skips it silently (glibc: another class or
// machine) and searches on. A file the loader opens but cannot use ends
// the search with an error, as in glibc's open_verify: then ok is true and
// f.err says why.
func (s *session) candidate(dir, name string) (f found, ok bool) {
	if !s.r.exists(dir, name) {
		return found{}, false
	}
	p := strings.TrimSuffix(dir, "/") + "/" + name
	real, links, err := s.r.realpath(p)
	if err != nil {
		return found{}, false
	}
	info, err := s.r.parse(real)
	if err != nil {
		if isNotExist(err) {
			return found{}, false
		}
		return found{path: p, err: refusal(err)}, true
	}
	if reason := s.unusable(info); reason != "" {
		return found{path: p, err: reason}, true
	}
	if !s.musl && !compatible(s.main.info, info) {
		return found{}, false
	}
	return found{path: p, real: real, links: links, info: info}, true
}

// refusal words a read error as glibc does.
func refusal(err error) string {
	if errors.Is(err, elfinfo.ErrNotELF) {
		return "invalid ELF header"
	}
	var fe *elfinfo.FormatError
	if errors.As(err, &fe) {
		return "file too short or malformed: " + fe.Msg
	}
	return err.Error()
}

// unusable returns why the loader refuses to load info as a library (the
// fatal checks of glibc's open_verify and _dl_map_object_from_fd), "" if it
// does not.
func (s *session) unusable(info *elfinfo.Info) string {
	if s.musl {
		return ""
	}
	want := s.main.info
	switch {
	case info.Class == want.Class && info.Data != want.Data:
		if want.Data == elf.ELFDATA2LSB {
			return "ELF file data encoding not little-endian"
		}
		return "ELF file data encoding not big-endian"
	case info.Class != want.Class || info.Machine != want.Machine:
		return "" // skipped silently (compatible)
	case info.Type != elf.ET_DYN && info.Type != elf.ET_EXEC:
		return "only ET_DYN and ET_EXEC can be loaded"
	case info.Type == elf.ET_EXEC:
		return "cannot dynamically load executable"
	case info.Flags1&elf.DF_1_PIE != 0:
		return "cannot dynamically load position-independent executable"
	}
	return ""
}
