package closure

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/ldso"
	"github.com/fromscratch/fromscratch/program"
	"github.com/fromscratch/fromscratch/rootfs"
)

// Layer says which layer of the image a path belongs to, lowest first, so
// that images built from one root share their lower layers.
type Layer int

const (
	// LayerBase holds the loader, the C library family and the runtime
	// files (/etc/passwd, ...).
	LayerBase Layer = iota
	// LayerLibs holds the other libraries.
	LayerLibs
	// LayerApp holds the programs and the files asked for.
	LayerApp
	numLayers
)

// Kind is the type of an item.
type Kind int

const (
	File Kind = iota
	Symlink
	Dir
)

// Item is one path of the image.
type Item struct {
	Path   string
	Kind   Kind
	Mode   fs.FileMode // permissions (and setuid, setgid, sticky)
	Target string      // symlink target
	// Source is where a file's content comes from: SourceFS at SourcePath,
	// or Data.
	SourceFS   rootfs.FS
	SourcePath string
	Data       []byte
	Size       int64
	UID, GID   int
}

// Input is a file to put in the image with its dependencies.
type Input struct {
	// Path is the file's path in the image. Unless FS is set it is also
	// its path in the root.
	Path string
	// FS and SourcePath give a file from outside the root (--add).
	FS         rootfs.FS
	SourcePath string
	Layer      Layer
	// Shallow takes a directory of the root as an empty directory (with
	// the symbolic links on the way), not with its contents: a directory a
	// traced run listed, whose entries it did not use.
	Shallow bool
}

// WholeSuffix ends a path of a list that takes a directory with its direct
// entries ("DIR/*", see EntryInputs), not as an empty directory.
const WholeSuffix = "/*"

// MaxWhole bounds the bytes of the files a "DIR/*" brings (16 MB): a
// directory of dictionaries comes whole, not /usr/sbin because git
// looked through PATH for its commands.
const MaxWhole = 16_000_000

// EntryInputs are the direct entries of directory dir (a path of fsys,
// symbolic links on the way allowed), sorted, each as a Shallow input in
// layer l: a file comes with its bytes (and ELF closure), a symbolic link
// with what it leads to, a directory empty. A link that leads nowhere in
// the root, what is neither file nor directory (a socket, a device, a
// FIFO) and the paths skip names are left out; nil if dir is no directory.
// size is the bytes of the files the entries are or lead to.
func EntryInputs(fsys rootfs.FS, dir string, l Layer, skip func(string) bool) (inputs []Input, size int64) {
	real, err := rootfs.Realpath(fsys, dir)
	if err != nil {
		return nil, 0
	}
	if st, err := fsys.Lstat(real); err != nil || !st.IsDir() {
		return nil, 0
	}
	names, err := rootfs.ReadDirNames(fsys, real)
	if err != nil {
		return nil, 0
	}
	sort.Strings(names)
	for _, n := range names {
		p := path.Join(dir, n)
		if skip != nil && skip(p) {
			continue
		}
		r, err := rootfs.Realpath(fsys, p)
		if err != nil {
			continue
		}
		if st, err := fsys.Lstat(r); err == nil && (st.Mode().IsRegular() || st.IsDir()) {
			inputs = append(inputs, Input{Path: p, Layer: l, Shallow: true})
			if st.Mode().IsRegular() {
				size += st.Size()
			}
		}
	}
	return inputs, size
}

// Options tune the closure.
type Options struct {
	Ldso ldso.Options
	// AllowMissing builds even when a library is not found.
	AllowMissing bool
	// BaselineOnly leaves out the glibc-hwcaps variants of libraries
	// (x86-64-v2..v4 builds); by default every variant present is taken,
	// as the CPU that will run the image is not known.
	BaselineOnly bool
	// Exclude are globs (path.Match) of paths to leave out, with what is
	// under them, and not to resolve further: a glob with a "/" matches a
	// whole path, one without matches any one name of it
	// ("llvmjit*.so", "__pycache__", "/usr/share/doc").
	Exclude []string
	// Env is the image's environment, whose PATH finds the command a #!
	// line's env runs (nil: PATH=program.DefaultPath).
	Env []string
}

// Plan is the content of an image, layer by layer.
type Plan struct {
	Layers  [numLayers][]Item
	Results []*ldso.Result // the loader's answer for each ELF input
	// Interpreter is the first ELF input's loader ("" for static).
	Info *elfinfo.Info // of the first ELF input (the entrypoint's architecture)
	// Cache is true when the root's ld.so.cache had to be included.
	Cache bool
	// Missing lists what was not found, "NAME (needed by FILE)".
	Missing []string
	// Warnings are things the user should know (a refused candidate...).
	Warnings []string
	// Excluded are the paths Options.Exclude left out (what was under
	// them is not listed), sorted.
	Excluded []string
}

// ErrMissing is returned (wrapped) when libraries are not found.
var ErrMissing = errors.New("not found")

// libcFamily are the libraries of glibc's libc6 package (and musl's libc),
// which go in the base layer with the loader.
var libcFamily = map[string]bool{
	"libc.so.6": true, "libm.so.6": true, "libmvec.so.1": true, "libpthread.so.0": true,
	"libdl.so.2": true, "librt.so.1": true, "libutil.so.1": true, "libresolv.so.2": true,
	"libanl.so.1": true, "libBrokenLocale.so.1": true, "libc_malloc_debug.so.0": true,
	"libthread_db.so.1": true, "libnsl.so.1": true, "libc.so": true,
}

func isLibcFamily(name string) bool {
	return libcFamily[name] || strings.HasPrefix(name, "libnss_") || strings.HasPrefix(name, "ld-linux")
}

// builder accumulates items.
type builder struct {
	fsys   rootfs.FS
	r      *ldso.Resolver
	opts   Options
	layers [numLayers]map[string]*Item
	plan   *Plan
	// followed are the real paths of the links followed (see follow).
	followed map[string]bool
	// excluded are the paths left out; unchecked the results that needed
	// one of them (the image cannot load what the root does).
	excluded  map[string]bool
	unchecked map[*ldso.Result]bool
	// run is set while the files of a Shallow input (a library a traced
	// run loaded) are added; runSONames are the DT_SONAMEs of those, and
	// runMissing their libraries that no search finds (see runLoaded).
	run        bool
	runSONames map[string]bool
	runMissing []runLib
}

// runLib is a library a run's library needs that no search finds: Name,
// and Missing as Plan.Missing says it.
type runLib struct{ Name, Missing string }

// Compute plans the image for inputs inside the root fsys. extra items
// (generated files: /etc/passwd, /tmp) go in as they are.
func Compute(fsys rootfs.FS, inputs []Input, extra []Item, opts Options) (*Plan, error) {
	if opts.Ldso.HWCaps == nil {
		opts.Ldso.HWCaps = []string{} // resolve the baseline; variants are added below
	}
	b := &builder{fsys: fsys, opts: opts, plan: &Plan{}, followed: map[string]bool{},
		excluded: map[string]bool{}, unchecked: map[*ldso.Result]bool{}, runSONames: map[string]bool{}}
	b.r = ldso.New(fsys, opts.Ldso)
	for i := range b.layers {
		b.layers[i] = map[string]*Item{}
	}
	for _, it := range extra {
		b.put(LayerBase, it)
	}
	for _, in := range inputs {
		if err := b.input(in); err != nil {
			return nil, err
		}
	}
	b.runLoaded()
	if len(b.plan.Missing) > 0 && !opts.AllowMissing {
		return nil, fmt.Errorf("%s: %w", strings.Join(b.plan.Missing, ", "), ErrMissing)
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	b.parents()
	for p := range b.excluded {
		b.plan.Excluded = append(b.plan.Excluded, p)
	}
	sort.Strings(b.plan.Excluded)
	for l := range b.layers {
		items := make([]Item, 0, len(b.layers[l]))
		for _, it := range b.layers[l] {
			items = append(items, *it)
		}
		sort.Slice(items, func(i, j int) bool { return items[i].Path < items[j].Path })
		b.plan.Layers[l] = items
	}
	return b.plan, nil
}

func (b *builder) put(l Layer, it Item) {
	if b.exclude(it.Path) {
		return
	}
	if _, ok := b.layers[l][it.Path]; ok {
		return
	}
	// A file goes in once, in the first layer that takes it: a library a
	// traced run opened, already in the libraries' layer, is not copied
	// again into the program's.
	if it.Kind == File {
		for o := range b.layers {
			if _, ok := b.layers[o][it.Path]; ok {
				return
			}
		}
	}
	b.layers[l][it.Path] = &it
}

// addPath puts p in layer l, with every symbolic link met on the way and
// the file it names (a directory recursively).
func (b *builder) addPath(p string, l Layer) error {
	real, links, err := rootfs.Resolve(b.fsys, p)
	if err != nil {
		return fmt.Errorf("resolving %q: %w", p, err)
	}
	for _, ln := range links {
		b.put(l, Item{Path: ln.Path, Kind: Symlink, Target: ln.Target, Mode: 0o777})
	}
	return b.addReal(real, l)
}

// exclude reports whether p is left out by Options.Exclude, and records it.
func (b *builder) exclude(p string) bool {
	if len(b.opts.Exclude) == 0 || !Excluded(b.opts.Exclude, p) {
		return false
	}
	b.excluded[p] = true
	return true
}

// Excluded reports whether globs leave p out: a glob with a "/" matches p
// or a directory above it, one without matches one of its names.
func Excluded(globs []string, p string) bool {
	for _, g := range globs {
		if strings.Contains(g, "/") {
			for q := p; ; q = path.Dir(q) {
				if ok, _ := path.Match(g, q); ok {
					return true
				}
				if q == "/" || q == "." {
					break
				}
			}
			continue
		}
		for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
			if ok, _ := path.Match(g, name); ok {
				return true
			}
		}
	}
	return false
}

// ExcludedString is "; excluded 2 paths: /a, /b" (the first 5 named), or
// "" for none.
func ExcludedString(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	list := paths
	more := ""
	if len(list) > 5 {
		list, more = list[:5], fmt.Sprintf(" and %d more", len(paths)-5)
	}
	noun := "paths"
	if len(paths) == 1 {
		noun = "path"
	}
	return fmt.Sprintf("; excluded %d %s: %s%s", len(paths), noun, strings.Join(list, ", "), more)
}

// addReal puts the physical path real in layer l.
func (b *builder) addReal(real string, l Layer) error {
	if b.exclude(real) {
		return nil
	}
	fi, err := b.fsys.Lstat(real)
	if err != nil {
		return fmt.Errorf("reading %q: %w", real, err)
	}
	switch {
	case fi.Mode().IsRegular():
		b.put(l, Item{Path: real, Kind: File, Mode: fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky),
			SourceFS: b.fsys, SourcePath: real, Size: fi.Size()})
	case fi.IsDir():
		b.put(l, Item{Path: real, Kind: Dir, Mode: fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)})
		ents, err := b.fsys.ReadDir(real)
		if err != nil {
			return fmt.Errorf("reading %q: %w", real, err)
		}
		for _, e := range ents {
			child := path.Join(real, e.Name())
			if e.Type()&fs.ModeSymlink != 0 {
				t, err := b.fsys.Readlink(child)
				if err != nil {
					return fmt.Errorf("reading %q: %w", child, err)
				}
				b.put(l, Item{Path: child, Kind: Symlink, Target: t, Mode: 0o777})
				if err := b.follow(child, t, l); err != nil {
					return err
				}
				continue
			}
			if err := b.addReal(child, l); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%q: not a regular file, directory or symbolic link (%v)", real, fi.Mode().Type())
	}
	return nil
}

// follow adds what the symbolic link p (-> target), met inside a directory
// being added, names in the root, with its dependencies, as an input of
// layer l: /usr/lib/ssl/openssl.cnf -> /etc/ssl/openssl.cnf brings
// /etc/ssl/openssl.cnf. Resolution stays inside the root. A link whose
// target is not in the root, or is a directory holding the link (/, ..),
// is kept as it is, with a warning for the first.
func (b *builder) follow(p, target string, l Layer) error {
	if b.exclude(p) {
		return nil
	}
	real, _, err := rootfs.Resolve(b.fsys, p)
	if err != nil {
		b.plan.Warnings = append(b.plan.Warnings, fmt.Sprintf("%s -> %s: the target is not in the root (the link is kept, dangling)", p, target))
		return nil
	}
	if real == "/" || strings.HasPrefix(p, real+"/") || b.followed[real] {
		return nil
	}
	b.followed[real] = true
	if err := b.input(Input{Path: p, Layer: l}); err != nil && !errors.Is(err, ldso.ErrNotDynamic) {
		return fmt.Errorf("%s -> %s: %w", p, target, err)
	}
	return nil
}

// input adds one input and what it needs.
func (b *builder) input(in Input) error {
	if b.exclude(in.Path) {
		return nil
	}
	var head []byte
	var info *elfinfo.Info
	var res *ldso.Result
	if in.FS != nil {
		// A file from outside the root, put at in.Path, whose directory is
		// taken as the root has it (a symbolic link such as /lib -> usr/lib
		// is followed, not replaced by a directory).
		in.Path = b.physical(in.Path, in.Layer)
		fi, err := rootfs.Realpath(in.FS, in.SourcePath)
		if err != nil {
			return fmt.Errorf("%q: %w", in.SourcePath, err)
		}
		st, err := in.FS.Lstat(fi)
		if err != nil {
			return err
		}
		if st.IsDir() {
			return b.addTree(in, fi)
		}
		b.put(in.Layer, Item{Path: in.Path, Kind: File, Mode: st.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky),
			SourceFS: in.FS, SourcePath: fi, Size: st.Size()})
		head, info = sniff(in.FS, fi)
		if info != nil {
			if res, err = b.r.ResolveELF(in.Path, info); err != nil {
				return fmt.Errorf("%q: %w", in.SourcePath, err)
			}
		}
	} else if in.Shallow {
		real, links, err := rootfs.Resolve(b.fsys, in.Path)
		if err != nil {
			return fmt.Errorf("resolving %q: %w", in.Path, err)
		}
		if st, err := b.fsys.Lstat(real); err == nil && st.IsDir() {
			for _, ln := range links {
				b.put(in.Layer, Item{Path: ln.Path, Kind: Symlink, Target: ln.Target, Mode: 0o777})
			}
			b.put(in.Layer, Item{Path: real, Kind: Dir, Mode: st.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)})
			return nil
		}
		in.Shallow = false
		if _, info := sniff(b.fsys, real); info != nil && info.SOName != "" {
			b.runSONames[info.SOName] = true
		}
		// An ELF file no loader loads (an object file) is copied as it is.
		b.run = true
		err = b.input(in)
		b.run = false
		if err != nil && !errors.Is(err, ldso.ErrNotDynamic) {
			return err
		}
		return nil
	} else {
		if err := b.addPath(in.Path, in.Layer); err != nil {
			return err
		}
		real, err := rootfs.Realpath(b.fsys, in.Path)
		if err != nil {
			return err
		}
		if st, err := b.fsys.Lstat(real); err == nil && st.IsDir() {
			return b.dirInputs(real, in.Layer)
		}
		head, info = sniff(b.fsys, real)
		if info != nil {
			if res, err = b.r.Resolve(in.Path); err != nil {
				return fmt.Errorf("%q: %w", in.Path, err)
			}
		}
	}
	if res != nil {
		return b.result(res)
	}
	return b.script(in, head)
}

// script adds what the kernel executes for a #! file in: its interpreters
// and, when one is env, the command env runs, with their libraries. A file
// whose #! line names no absolute interpreter is data.
func (b *builder) script(in Input, head []byte) error {
	if sb, err := program.ParseShebang(head); err != nil || !path.IsAbs(sb.Interpreter) {
		return nil
	}
	ex, err := program.ResolveScript(b.fsys, in.Path, head, nil, b.opts.Env)
	if err != nil {
		return fmt.Errorf("%q: %w", in.Path, err)
	}
	for _, f := range ex.Files[1:] {
		if err := b.addPath(f.Path, in.Layer); err != nil {
			return err
		}
		if f.ELF == nil {
			continue
		}
		res, err := b.r.Resolve(f.Path)
		if err != nil {
			return fmt.Errorf("%q: %w", f.Path, err)
		}
		if err := b.result(res); err != nil {
			return err
		}
	}
	return nil
}

// physical returns p with its deepest existing ancestor resolved in the
// root, and puts the symbolic links on the way in layer l: a file added at
// /var/run/x where the root has /var/run -> /run goes to /run/x, and
// /var/run comes along.
func (b *builder) physical(p string, l Layer) string {
	rest := ""
	for dir := path.Dir(p); ; dir = path.Dir(dir) {
		real, links, err := rootfs.Resolve(b.fsys, dir)
		if err == nil {
			for _, ln := range links {
				b.put(l, Item{Path: ln.Path, Kind: Symlink, Target: ln.Target, Mode: 0o777})
			}
			return path.Join(real, rest, path.Base(p))
		}
		if dir == "/" {
			return p
		}
		rest = path.Join(path.Base(dir), rest)
	}
}

// addTree adds the host directory dir (from an --add) at in.Path.
func (b *builder) addTree(in Input, dir string) error {
	st, err := in.FS.Lstat(dir)
	if err != nil {
		return err
	}
	b.put(in.Layer, Item{Path: in.Path, Kind: Dir, Mode: st.Mode() & (fs.ModePerm | fs.ModeSticky | fs.ModeSetgid)})
	ents, err := in.FS.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading %q: %w", dir, err)
	}
	for _, e := range ents {
		src := path.Join(dir, e.Name())
		dst := path.Join(in.Path, e.Name())
		if e.Type()&fs.ModeSymlink != 0 {
			t, err := in.FS.Readlink(src)
			if err != nil {
				return err
			}
			b.put(in.Layer, Item{Path: dst, Kind: Symlink, Target: t, Mode: 0o777})
			continue
		}
		// An ELF file no loader loads (an object file, a static archive's
		// member) is copied and has no dependencies.
		if err := b.input(Input{Path: dst, FS: in.FS, SourcePath: src, Layer: in.Layer}); err != nil && !errors.Is(err, ldso.ErrNotDynamic) {
			return err
		}
	}
	return nil
}

// dirInputs resolves the ELF files of a directory of the root that was
// asked for as a whole.
func (b *builder) dirInputs(dir string, l Layer) error {
	ents, err := b.fsys.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := path.Join(dir, e.Name())
		if len(b.opts.Exclude) > 0 && Excluded(b.opts.Exclude, p) {
			continue
		}
		switch {
		case e.IsDir():
			if err := b.dirInputs(p, l); err != nil {
				return err
			}
		case e.Type().IsRegular():
			if _, info := sniff(b.fsys, p); info != nil {
				res, err := b.r.Resolve(p)
				if errors.Is(err, ldso.ErrNotDynamic) {
					continue // copied, with no dependencies
				}
				if err != nil {
					return fmt.Errorf("%q: %w", p, err)
				}
				if err := b.result(res); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// result adds the loader and libraries of one resolved ELF file.
func (b *builder) result(res *ldso.Result) error {
	b.plan.Results = append(b.plan.Results, res)
	if b.plan.Info == nil {
		b.plan.Info = res.Info
	}
	if res.Static {
		return nil
	}
	if res.Interpreter != "" {
		if !res.InterpreterFound {
			b.plan.Missing = append(b.plan.Missing, fmt.Sprintf("loader %s (of %s)", res.Interpreter, res.File))
		} else if err := b.addPath(res.Interpreter, LayerBase); err != nil {
			return err
		}
	}
	for _, lib := range res.Libraries {
		if !lib.Found {
			m := fmt.Sprintf("%s (needed by %s)", lib.Name, lib.NeededBy)
			if lib.Error != "" {
				m += ": " + lib.Error
			}
			if b.run {
				b.runMissing = append(b.runMissing, runLib{lib.Name, m})
				continue
			}
			b.plan.Missing = append(b.plan.Missing, m)
			continue
		}
		if b.exclude(lib.Path) || lib.Realpath != lib.Path && b.exclude(lib.Realpath) {
			b.unchecked[res] = true
			continue
		}
		l := LayerLibs
		if isLibcFamily(lib.Name) || res.Flavor == "musl" && lib.Realpath == res.InterpreterReal {
			l = LayerBase
		}
		if err := b.addPath(lib.Path, l); err != nil {
			return err
		}
		if !b.opts.BaselineOnly && res.Info != nil {
			b.hwcapsVariants(lib, res.Info, l)
		}
	}
	return nil
}

// runLoaded counts as missing the libraries that a run's libraries need
// and no search finds, but for those whose name is the DT_SONAME of a
// library the run loaded: the loader takes an object already loaded whose
// soname is the name needed (glibc's _dl_map_object), as the JVM's
// libjava.so finds libjvm.so, which java dlopens by its path in
// lib/server.
func (b *builder) runLoaded() {
	for _, m := range b.runMissing {
		if !b.runSONames[m.Name] {
			b.plan.Missing = append(b.plan.Missing, m.Missing)
		}
	}
}

// hwcapsVariants adds DIR/glibc-hwcaps/*/NAME next to a library found in DIR.
func (b *builder) hwcapsVariants(lib ldso.Library, prog *elfinfo.Info, l Layer) {
	dir := path.Dir(lib.Path)
	if strings.Contains(dir, "/glibc-hwcaps/") {
		return
	}
	for _, h := range ldso.AllHWCaps(prog) {
		p := dir + "/glibc-hwcaps/" + h + "/" + path.Base(lib.Path)
		if _, err := rootfs.Realpath(b.fsys, p); err == nil {
			b.addPath(p, l)
		}
	}
}

// check resolves every ELF input again inside the planned image and
// compares with the root's answer.
func (b *builder) check() error {
	for try := 0; try < 2; try++ {
		tree := b.tree()
		r := ldso.New(tree, b.opts.Ldso)
		var diffs []string
		for _, want := range b.plan.Results {
			if b.unchecked[want] {
				continue
			}
			got, err := r.Resolve(want.File)
			if err != nil {
				diffs = append(diffs, fmt.Sprintf("%s: %v", want.File, err))
				continue
			}
			if d := diff(want, got); d != "" {
				diffs = append(diffs, want.File+": "+d)
			}
		}
		if len(diffs) == 0 {
			return nil
		}
		if try == 0 && !b.plan.Cache {
			if _, err := rootfs.Realpath(b.fsys, "/etc/ld.so.cache"); err == nil {
				b.plan.Cache = true
				if err := b.addPath("/etc/ld.so.cache", LayerBase); err != nil {
					return err
				}
				continue
			}
		}
		return fmt.Errorf("the image would not load the same libraries as the root: %s", strings.Join(diffs, "; "))
	}
	return nil
}

// diff compares the real paths two answers load.
func diff(want, got *ldso.Result) string {
	set := func(r *ldso.Result) map[string]bool {
		m := map[string]bool{}
		if r.InterpreterFound {
			m[r.InterpreterReal] = true
		}
		for _, l := range r.Libraries {
			if l.Found {
				m[l.Realpath] = true
			} else {
				m["not found: "+l.Name] = true
			}
		}
		return m
	}
	w, g := set(want), set(got)
	var out []string
	for k := range w {
		if !g[k] {
			out = append(out, "missing "+k)
		}
	}
	for k := range g {
		if !w[k] {
			out = append(out, "extra "+k)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// parents adds to each layer the directories above its items, with their
// modes in the root, so that a layer never changes a directory that a lower
// layer made (/tmp stays 1777).
func (b *builder) parents() {
	for l := range b.layers {
		var paths []string
		for p := range b.layers[l] {
			paths = append(paths, p)
		}
		for _, p := range paths {
			for d := path.Dir(p); d != "/"; d = path.Dir(d) {
				if _, ok := b.layers[l][d]; ok {
					continue
				}
				// The root's mode, but open to all for reading and
				// traversal: the image runs as nonroot by default, and
				// a 0700 build directory must not stop it.
				mode := fs.FileMode(0o755)
				if fi, err := b.fsys.Lstat(d); err == nil && fi.IsDir() {
					mode = fi.Mode()&(fs.ModePerm|fs.ModeSticky|fs.ModeSetgid) | 0o555
				}
				for _, lower := range b.layers[:l] {
					if it, ok := lower[d]; ok && it.Kind == Dir {
						mode = it.Mode
					}
				}
				b.layers[l][d] = &Item{Path: d, Kind: Dir, Mode: mode}
			}
		}
	}
}

// tree is the planned image's filesystem.
func (b *builder) tree() *rootfs.Tree {
	t := rootfs.NewTree()
	for l := range b.layers {
		for _, it := range b.layers[l] {
			addItem(t, it)
		}
	}
	return t
}

// Tree is the filesystem of items, layer after layer (a later item
// replaces an earlier one at its path): the image a plan makes, as a root
// view to check before writing it.
func Tree(layers ...[]Item) *rootfs.Tree {
	t := rootfs.NewTree()
	for _, items := range layers {
		for i := range items {
			addItem(t, &items[i])
		}
	}
	return t
}

func addItem(t *rootfs.Tree, it *Item) {
	switch it.Kind {
	case Dir:
		t.AddDir(it.Path, it.Mode)
	case Symlink:
		t.AddSymlink(it.Path, it.Target)
	case File:
		if it.SourceFS != nil {
			t.AddFile(it.Path, it.Mode, it.SourceFS, it.SourcePath, it.Size)
		} else {
			t.AddData(it.Path, it.Mode, it.Data)
		}
	}
}

// FileBytes counts the regular files of items and their bytes.
func FileBytes(items []Item) (files int, bytes int64) {
	for _, it := range items {
		if it.Kind == File {
			files++
			if it.SourceFS == nil {
				bytes += int64(len(it.Data))
			} else {
				bytes += it.Size
			}
		}
	}
	return files, bytes
}

// sniff reads the start of a file: its first bytes, and its ELF
// description if it is an ELF file (nil when unreadable).
func sniff(fsys rootfs.FS, p string) ([]byte, *elfinfo.Info) {
	head, info, _ := program.Sniff(fsys, p)
	return head, info
}
