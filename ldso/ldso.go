package ldso

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/internal/syncmap"
	"github.com/fromscratch/fromscratch/rootfs"
)

// ErrNotDynamic is returned for an ELF file that no loader loads: a
// relocatable object or a core dump.
var ErrNotDynamic = errors.New("not a program or shared library")

// maxELFSize caps the size of a file read as ELF headers come from it lazily
// anyway; it only guards against device files pretending to be huge.
const maxLoaderScan = 16 << 20

// Options tune the emulated loader.
type Options struct {
	// LibraryPath is LD_LIBRARY_PATH, already split.
	LibraryPath []string
	// HWCaps are the glibc-hwcaps subdirectories to search, best first.
	// nil means the ones the host CPU supports when the file is of the
	// host's architecture (as the loader on this machine would do), and
	// none for another architecture. A non-nil empty slice means none.
	HWCaps []string
	// Platform is $PLATFORM (AT_PLATFORM); "" means the architecture's
	// usual value (x86_64, aarch64, ...).
	Platform string
	// WorkDir is the directory relative search path elements are taken
	// from (the loader uses its current directory); "" means "/".
	WorkDir string
	// UseConf, for a root that has no /etc/ld.so.cache, searches the
	// directories of its /etc/ld.so.conf where the cache would be
	// consulted: the answer the loader gives once `ldconfig -r ROOT` has
	// run. The loader itself never reads ld.so.conf, so this is off by
	// default.
	UseConf bool
}

// Library is one object the loader loads (or fails to find).
type Library struct {
	Name     string        `json:"name"`               // the DT_NEEDED name
	Path     string        `json:"path"`               // the path the loader opens, "" if not found
	Found    bool          `json:"found"`              // false: the loader fails
	Realpath string        `json:"realpath,omitempty"` // Path with every symbolic link resolved
	Via      string        `json:"via,omitempty"`      // how it was found: rpath, LD_LIBRARY_PATH, runpath, ld.so.cache, default, direct, musl-path
	Error    string        `json:"error,omitempty"`    // why a candidate was refused, when not found
	NeededBy string        `json:"needed_by,omitempty"`
	Links    []rootfs.Link `json:"-"` // symbolic links followed from Path to Realpath
	Info     *elfinfo.Info `json:"-"`
	// Deps are the objects this one's DT_NEEDED entries resolved to, as
	// indexes into Result.Libraries; DepInterpreter and DepMain stand for
	// the loader and the program.
	Deps []int `json:"-"`
}

// Special values of Library.Deps.
const (
	DepInterpreter = -1
	DepMain        = -2
)

// Result is the loader's answer for one file.
type Result struct {
	File     string        // as asked
	Realpath string        // the file's real path inside the root
	Links    []rootfs.Link // symbolic links followed to reach it
	Info     *elfinfo.Info
	Static   bool   // no loader involved
	Flavor   string // "glibc" or "musl"; "" when static
	// Interpreter is the loader: PT_INTERP, or for a shared library the
	// loader glibc's ldd would run it with.
	Interpreter      string
	InterpreterFound bool
	InterpreterReal  string
	InterpreterLinks []rootfs.Link
	InterpreterInfo  *elfinfo.Info
	// Libraries are every object loaded, in the loader's breadth-first load
	// order, each once, without the program and the loader.
	Libraries []Library
	// InterpreterIndex is where the loader falls in the load order: it is
	// loaded just before Libraries[InterpreterIndex]; len(Libraries) when
	// nothing needs it by name.
	InterpreterIndex int
	// Deps are the program's own dependencies (see Library.Deps).
	Deps []int
}

// Missing reports whether something the loader needs was not found.
func (r *Result) Missing() bool {
	if r.Static {
		return false
	}
	if r.Interpreter != "" && !r.InterpreterFound {
		return true
	}
	for _, l := range r.Libraries {
		if !l.Found {
			return true
		}
	}
	return false
}

// Resolver answers for many files of one root, sharing parsed files,
// directory listings and the loader cache between them. It is safe for
// concurrent use.
type Resolver struct {
	fsys rootfs.FS
	opts Options

	files    syncmap.Map[string, *fileEntry]
	reals    syncmap.Map[string, *realEntry]
	dirs     syncmap.Map[string, *dirEntry]
	loaders  syncmap.Map[string, *loaderEntry]
	cache    func() (*Cache, error)
	preloads func() []string
	confDirs func() []string
	// plain are the answers of searches that depend on the name only,
	// by loader and architecture (see plainCache).
	plain syncmap.Map[string, *syncmap.Map[string, found]]
}

// plainCache returns the answers of the searches that depend on the name
// only for programs of loader ld and architecture triplet: they are shared
// by every such program of the root.
func (r *Resolver) plainCache(ld, triplet string) *syncmap.Map[string, found] {
	key := ld + "\x00" + triplet
	if m, ok := r.plain.Load(key); ok {
		return m
	}
	m, _ := r.plain.LoadOrStore(key, new(syncmap.Map[string, found]))
	return m
}

type fileEntry struct {
	once sync.Once
	info *elfinfo.Info
	err  error
}

type realEntry struct {
	real  string
	links []rootfs.Link
	err   error
}

// New returns a Resolver for the root filesystem fsys, which must not change
// while the Resolver is used (its metadata is cached).
func New(fsys rootfs.FS, opts Options) *Resolver {
	if opts.WorkDir == "" {
		opts.WorkDir = "/"
	}
	fsys = rootfs.Cached(fsys)
	r := &Resolver{fsys: fsys, opts: opts}
	r.cache = sync.OnceValues(func() (*Cache, error) {
		b, err := rootfs.ReadFile(fsys, "/etc/ld.so.cache", 256<<20)
		if err != nil {
			return nil, err
		}
		return ParseCache(b)
	})
	r.confDirs = sync.OnceValue(func() []string {
		if !opts.UseConf {
			return nil
		}
		if _, err := r.cache(); err == nil {
			return nil
		}
		dirs, _ := ReadConf(fsys, "/etc/ld.so.conf")
		return dirs
	})
	r.preloads = sync.OnceValue(func() []string {
		b, err := rootfs.ReadFile(fsys, "/etc/ld.so.preload", 1<<20)
		if err != nil {
			return nil
		}
		return splitAny(string(b), " \t\n:")
	})
	return r
}

// CacheStatus describes ROOT/etc/ld.so.cache: its format, or why there is
// none (then the loader searches only the default directories).
func (r *Resolver) CacheStatus() (string, error) {
	c, err := r.cache()
	if err != nil {
		return "", err
	}
	return c.Format(), nil
}

// ResolveAll resolves files concurrently; results and errors are in the
// order of files. A fixed set of GOMAXPROCS workers takes the next file from
// a shared counter: a goroutine per file would pay for its start and its
// stack growth each time, for a few tens of microseconds of work.
func (r *Resolver) ResolveAll(files []string) ([]*Result, []error) {
	res := make([]*Result, len(files))
	errs := make([]error, len(files))
	var next atomic.Int64
	work := func() {
		for {
			i := int(next.Add(1) - 1)
			if i >= len(files) {
				return
			}
			res[i], errs[i] = r.Resolve(files[i])
		}
	}
	n := min(runtime.GOMAXPROCS(0), len(files))
	var wg sync.WaitGroup
	for range n - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
	return res, errs
}

// realpath resolves p inside the root, with a cache.
func (r *Resolver) realpath(p string) (string, []rootfs.Link, error) {
	if e, ok := r.reals.Load(p); ok {
		return e.real, e.links, e.err
	}
	real, links, err := rootfs.Resolve(r.fsys, p)
	r.reals.Store(p, &realEntry{real, links, err})
	return real, links, err
}

// listDir returns the names in directory dir (any path inside the root), or
// nil if it is not a readable directory. Each directory is listed once,
// however many paths lead to it (/lib/x86_64-linux-gnu and
// /usr/lib/x86_64-linux-gnu, a thousand names or more), and once however
// many goroutines ask at the same time.
func (r *Resolver) listDir(dir string) map[string]bool {
	dir = rootfs.Clean(dir)
	e, ok := r.dirs.Load(dir)
	if !ok {
		e, _ = r.dirs.LoadOrStore(dir, &dirEntry{})
	}
	e.once.Do(func() {
		real, _, err := r.realpath(dir)
		if err != nil {
			return
		}
		if real == dir {
			e.names = r.readDir(real)
			return
		}
		re, ok := r.dirs.Load(real)
		if !ok {
			re, _ = r.dirs.LoadOrStore(real, &dirEntry{})
		}
		re.once.Do(func() { re.names = r.readDir(real) })
		e.names = re.names
	})
	return e.names
}

// readDir lists the directory at the physical path real, nil if it cannot.
func (r *Resolver) readDir(real string) map[string]bool {
	list, err := rootfs.ReadDirNames(r.fsys, real)
	if err != nil {
		return nil
	}
	names := make(map[string]bool, len(list))
	for _, n := range list {
		names[n] = true
	}
	return names
}

type dirEntry struct {
	once  sync.Once
	names map[string]bool
}

// exists reports whether dir holds an entry called name, from the cached
// listing of dir.
func (r *Resolver) exists(dir, name string) bool {
	return r.listDir(dir)[name]
}

// parse reads the ELF file at the physical path real, once.
func (r *Resolver) parse(real string) (*elfinfo.Info, error) {
	e, ok := r.files.Load(real)
	if !ok {
		e, _ = r.files.LoadOrStore(real, &fileEntry{})
	}
	return r.parseEntry(e, real, nil)
}

// parseEntry reads real into e, once, if not done; real is already open as
// f (closed here) if f is not nil.
func (r *Resolver) parseEntry(e *fileEntry, real string, f rootfs.File) (*elfinfo.Info, error) {
	e.once.Do(func() {
		g := f
		f = nil // used here
		if g == nil {
			var err error
			if g, err = r.fsys.Open(real); err != nil {
				e.err = err
				return
			}
		}
		defer g.Close()
		fi, err := g.Stat()
		if err != nil {
			e.err = err
			return
		}
		e.info, e.err = elfinfo.Read(g, fi.Size())
	})
	if f != nil { // not used: another goroutine read real
		f.Close()
	}
	return e.info, e.err
}

// resolveDirect is Resolve's short way for a file of the host root that is
// not a symbolic link, as most files named on a command line are: its
// directory is resolved (cached), and the file opened without following a
// symbolic link, which saves the lstat that resolving it would make. ok is
// false when Resolve must take the general way: abs is already resolved, its
// directory does not resolve, or the file cannot be opened so.
func (r *Resolver) resolveDirect(file, abs string) (res *Result, ok bool, err error) {
	abs = rootfs.Clean(abs)
	i := strings.LastIndexByte(abs, '/')
	if i == len(abs)-1 {
		return nil, false, nil
	}
	if _, done := r.reals.Load(abs); done {
		return nil, false, nil
	}
	dir, base := abs[:i], abs[i+1:]
	if dir == "" {
		dir = "/"
	}
	dreal, links, err := r.realpath(dir)
	if err != nil {
		return nil, false, nil
	}
	real := abs
	if dreal != dir {
		real = path.Join(dreal, base)
	}
	var f rootfs.File
	e, parsed := r.files.Load(real)
	if !parsed {
		// Otherwise real is known: a physical path that is not a symbolic
		// link (the root does not change), as a dependency or as another
		// name of a file named before.
		var opened bool
		if f, opened = rootfs.OpenNoFollow(r.fsys, real); !opened {
			return nil, false, nil
		}
		e, _ = r.files.LoadOrStore(real, &fileEntry{})
	}
	links = links[:len(links):len(links)]
	info, err := r.parseEntry(e, real, f)
	if err != nil {
		return nil, true, err
	}
	return &Result{File: file, Realpath: real, Links: links, Info: info}, true, nil
}

// Resolve answers for one file, a path inside the root.
func (r *Resolver) Resolve(file string) (*Result, error) {
	abs := file
	if !path.IsAbs(abs) {
		abs = path.Join(r.opts.WorkDir, abs)
	}
	if res, ok, err := r.resolveDirect(file, abs); ok {
		if err != nil {
			return nil, err
		}
		return r.resolve(res)
	}
	real, links, err := r.realpath(abs)
	if err != nil {
		return nil, err
	}
	info, err := r.parse(real)
	if err != nil {
		return nil, err
	}
	res := &Result{File: file, Realpath: real, Links: links, Info: info}
	return r.resolve(res)
}

// ResolveELF answers for an ELF file that is not in the root (a file added
// to an image): info is its content, and name the path it will have (for
// $ORIGIN); its dependencies are looked up in the root.
func (r *Resolver) ResolveELF(name string, info *elfinfo.Info) (*Result, error) {
	name = rootfs.Clean(name)
	return r.resolve(&Result{File: name, Realpath: name, Info: info})
}

func (r *Resolver) resolve(res *Result) (*Result, error) {
	info := res.Info
	if info.Type != elf.ET_EXEC && info.Type != elf.ET_DYN {
		return nil, fmt.Errorf("%w (%s)", ErrNotDynamic, info.Type)
	}
	if err := info.ExecError(); err != nil {
		return nil, err // the kernel refuses to run it: nothing is loaded
	}
	if info.IsStatic() {
		res.Static = true
		return res, nil
	}
	s := newSession(r, res)
	s.run()
	s.release()
	return res, nil
}

func splitAny(s, seps string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		sep := i == len(s)
		if !sep {
			for j := 0; j < len(seps); j++ {
				if s[i] == seps[j] {
					sep = true
					break
				}
			}
		}
		if sep {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	return out
}

// isNotExist reports whether err means a path does not exist.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
