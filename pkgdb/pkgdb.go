package pkgdb

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/fromscratch/fromscratch/rootfs"
)

// Limits on what is read, for hostile databases.
const (
	// MaxStatus bounds dpkg's status file and apk's installed database.
	MaxStatus = 64 << 20
	// MaxList bounds one file list (NAME.list, NAME.md5sums) or one
	// status.d file.
	MaxList = 16 << 20
	// MaxCopyright bounds one copyright file.
	MaxCopyright = 4 << 20
	// MaxPackages bounds the packages of one root.
	MaxPackages = 100000
	// MaxPaths bounds the file paths of all packages together.
	MaxPaths = 4 << 20
	// MaxLine bounds one line of any database file.
	MaxLine = 1 << 20
)

// Database paths, inside the root.
const (
	DpkgStatus   = "/var/lib/dpkg/status"
	DpkgInfo     = "/var/lib/dpkg/info"
	DpkgStatusD  = "/var/lib/dpkg/status.d"
	ApkInstalled = "/lib/apk/db/installed"
)

// Kinds of package.
const (
	Deb = "deb"
	Apk = "apk"
)

// Package is one installed package.
type Package struct {
	Kind         string // Deb or Apk
	Name         string
	Version      string
	Architecture string
	// Source is the source package ("" when it is Name), SourceVersion
	// its version when it differs from Version.
	Source        string
	SourceVersion string
	// Depends, PreDepends and Provides are the fields as written.
	Depends, PreDepends, Provides string
	// Stanza is the package's paragraph of the status database, as
	// written (without Status for a status.d record).
	Stanza string
	// Files are the paths the package lists, as listed (absolute, clean).
	Files []string
	// MD5 is the md5sums entry of each listed file that has one, for a
	// status.d record (read on demand by [DB.MD5Sums] for others).
	MD5 map[string]string
	// apk's declared licence (L:), "" for deb.
	declaredLicense string
	// partial: Files are those of its list that OpenFor asked for
	// ([DB.Expand] reads the rest).
	partial bool

	licOnce  sync.Once
	licenses []string
}

// SourceName is Source, or Name when the package has no separate source.
func (p *Package) SourceName() string {
	if p.Source != "" {
		return p.Source
	}
	return p.Name
}

// ID is NAME for a package of its root's architecture, NAME:ARCH as dpkg
// names Multi-Arch: same packages' info files.
func (p *Package) ID() string { return p.Name }

// Error is a malformed or oversized database file.
type Error struct {
	File   string // path in the root
	Line   int    // 0 when not about a line
	Reason string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s: line %d: %s", e.File, e.Line, e.Reason)
	}
	return e.File + ": " + e.Reason
}

// ErrMalformed matches every *Error with errors.Is.
var ErrMalformed = errors.New("malformed package database")

// Is makes errors.Is(err, ErrMalformed) true for an *Error.
func (e *Error) Is(target error) bool { return target == ErrMalformed }

// DB is the package view of a root.
type DB struct {
	fsys     rootfs.FS
	Packages []*Package
	owner    map[string]*Package        // physical path -> package
	dirs     map[string]string          // listed directory -> physical
	only     map[string]bool            // base names indexed (nil: all)
	listed   map[string]map[string]bool // names in info/ and status.d/, once read
	expanded int                        // paths read by Expand
	// Distro is the root's os-release ID and VERSION_ID ("debian", "12"),
	// empty when it has none.
	Distro, DistroVersion string
}

// Open reads the package databases of fsys. A root without any gives an
// empty DB, not an error.
func Open(fsys rootfs.FS) (*DB, error) { return open(fsys, nil) }

// OpenFor is Open for looking up paths only: [DB.Owner] answers for those
// (and os-release), which is much less work than indexing every file of
// every package.
func OpenFor(fsys rootfs.FS, paths []string) (*DB, error) {
	only := map[string]bool{"os-release": true}
	for _, p := range paths {
		only[path.Base(p)] = true
	}
	return open(fsys, only)
}

func open(fsys rootfs.FS, only map[string]bool) (*DB, error) {
	db := &DB{fsys: fsys, owner: map[string]*Package{}, dirs: map[string]string{"/": "/"}, only: only}
	db.Distro, db.DistroVersion = osRelease(fsys)
	if err := db.readDpkg(); err != nil {
		return nil, err
	}
	if err := db.readApk(); err != nil {
		return nil, err
	}
	paths := 0
	for _, p := range db.Packages {
		paths += len(p.Files)
		if paths > MaxPaths {
			return nil, &Error{File: fsys.String(), Reason: fmt.Sprintf("more than %d package file paths", MaxPaths)}
		}
	}
	db.owner = make(map[string]*Package, paths)
	for _, p := range db.Packages {
		for _, f := range p.Files {
			if only != nil && !only[f[strings.LastIndexByte(f, '/')+1:]] {
				continue
			}
			phys := db.physical(f)
			if _, ok := db.owner[phys]; !ok {
				db.owner[phys] = p
			}
		}
	}
	sort.SliceStable(db.Packages, func(i, j int) bool { return db.Packages[i].Name < db.Packages[j].Name })
	return db, nil
}

// Expand reads the whole file lists of pkgs, of which a DB from OpenFor
// keeps only the paths it was asked about, and indexes them: Files and
// Owner then answer for every file of those packages.
func (db *DB) Expand(pkgs []*Package) error {
	for _, p := range pkgs {
		if !p.partial {
			continue
		}
		file, data, err := db.infoFile(p, DpkgInfo, ".list", MaxList)
		if err != nil {
			return err
		}
		files, err := parseList(file, data, nil)
		if err != nil {
			return err
		}
		if db.expanded += len(files); db.expanded > MaxPaths {
			return &Error{File: DpkgInfo, Reason: fmt.Sprintf("more than %d package file paths", MaxPaths)}
		}
		p.Files, p.partial = files, false
		for _, f := range files {
			if phys := db.physical(f); db.owner[phys] == nil {
				db.owner[phys] = p
			}
		}
	}
	return nil
}

// MD5Sums returns pkg's md5sums by listed path (nil when it has none).
func (db *DB) MD5Sums(pkg *Package) (map[string]string, error) {
	if pkg.MD5 == nil && pkg.Kind == Deb {
		if err := db.dpkgMD5(pkg, DpkgInfo); err != nil {
			return nil, err
		}
	}
	return pkg.MD5, nil
}

// Empty reports whether the root has no package database.
func (db *DB) Empty() bool { return len(db.Packages) == 0 }

// Owner returns the package that lists the file at the physical path p
// (as [rootfs.Resolve] gives it), or nil.
func (db *DB) Owner(p string) *Package {
	if pkg, ok := db.owner[p]; ok {
		return pkg
	}
	// A path that is not physical in the root: resolve its directory.
	if phys := db.physical(rootfs.Clean(p)); phys != p {
		return db.owner[phys]
	}
	return nil
}

// ListedPath returns the path under which pkg lists the file at physical
// path p ("" if it does not).
func (db *DB) ListedPath(pkg *Package, p string) string {
	for _, f := range pkg.Files {
		if f == p || db.physical(f) == p {
			return f
		}
	}
	return ""
}

// physical maps a listed path to its physical path in the root: its
// directory resolved through the root's symbolic links, one Lstat per
// directory met the first time.
func (db *DB) physical(listed string) string {
	if listed == "/" {
		return "/"
	}
	dir, base := path.Split(listed)
	return path.Join(db.resolveDir(path.Clean(dir)), base)
}

func (db *DB) resolveDir(d string) string {
	if r, ok := db.dirs[d]; ok {
		return r
	}
	parent := db.resolveDir(path.Dir(d))
	c := path.Join(parent, path.Base(d))
	r := c
	if fi, err := db.fsys.Lstat(c); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if real, err := rootfs.Realpath(db.fsys, c); err == nil {
			r = real
		}
	}
	db.dirs[d] = r
	return r
}

// cleanListed makes a listed path absolute and clean; ok is false for one
// that is not a usable path ("/." in dpkg lists is the root).
func cleanListed(s string) (string, bool) {
	if s == "" || strings.IndexByte(s, 0) >= 0 {
		return "", false
	}
	p := rootfs.Clean(s)
	return p, p != "/"
}

// osRelease reads ID and VERSION_ID of the root's os-release.
func osRelease(fsys rootfs.FS) (id, version string) {
	for _, name := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		b, err := rootfs.ReadFile(fsys, name, 64<<10)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
			if !ok {
				continue
			}
			v = strings.Trim(v, `"'`)
			switch k {
			case "ID":
				id = v
			case "VERSION_ID":
				version = v
			}
		}
		return id, version
	}
	return "", ""
}

// readBounded reads name in the root, nil when it does not exist, an *Error
// when it is larger than max or unreadable.
func readBounded(fsys rootfs.FS, name string, max int64) ([]byte, error) {
	b, err := rootfs.ReadFile(fsys, name, max)
	if err == nil {
		return b, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return nil, &Error{File: name, Reason: err.Error()}
}

func sortStrings(s []string) { sort.Strings(s) }

// FS is the root the database was read from.
func (db *DB) FS() rootfs.FS { return db.fsys }

// Wanted reports whether the file name of a root is one Open reads (for a
// view of an image that keeps only some files' content): the databases,
// copyright files and os-release.
func Wanted(name string, size int64) bool {
	switch {
	case size > MaxStatus:
		return false
	case name == DpkgStatus || name == ApkInstalled || name == "/etc/os-release" || name == "/usr/lib/os-release":
		return true
	case strings.HasPrefix(name, DpkgStatusD+"/"):
		return true
	case strings.HasPrefix(name, DpkgInfo+"/"):
		return strings.HasSuffix(name, ".list") || strings.HasSuffix(name, ".md5sums")
	case strings.HasPrefix(name, "/usr/share/doc/"):
		return strings.HasSuffix(name, "/copyright") && strings.Count(name, "/") == 5
	}
	return false
}
