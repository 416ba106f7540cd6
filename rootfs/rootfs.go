package rootfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/fromscratch/fromscratch/internal/syncmap"
)

// FS is a read-only root filesystem.
//
// Lstat, Readlink and ReadDir take "physical" paths: clean absolute paths
// whose directory part contains no symbolic link (as produced by [Resolve]).
// Open takes any path and follows symbolic links, confined to the root.
type FS interface {
	// Lstat describes name without following it if it is a symbolic link.
	Lstat(name string) (fs.FileInfo, error)
	// Readlink returns the target of the symbolic link name, unmodified.
	Readlink(name string) (string, error)
	// ReadDir lists the directory name, sorted by file name.
	ReadDir(name string) ([]fs.DirEntry, error)
	// Open opens the regular file reached from name, following symbolic
	// links inside the root.
	Open(name string) (File, error)
	// String describes the root for messages, e.g. "/" or "/srv/arm64root".
	String() string
}

// File is an open file of an FS.
type File interface {
	io.Reader
	io.ReaderAt
	io.Closer
	Stat() (fs.FileInfo, error)
}

// MaxSymlinks is how many symbolic links one resolution may follow, as
// Linux's MAXSYMLINKS (40).
const MaxSymlinks = 40

// ErrLoop is returned when resolving a path follows too many symbolic links.
var ErrLoop = errors.New("too many levels of symbolic links")

// Link is a symbolic link met while resolving a path.
type Link struct {
	Path   string // the link itself, a physical path inside the root
	Target string // its target as stored
}

// Clean returns name as a clean absolute path.
func Clean(name string) string {
	if isClean(name) {
		return name // most names are; path.Clean would copy them
	}
	return path.Clean("/" + name)
}

// isClean reports whether name is what path.Clean("/" + name) returns: "/",
// or "/" followed by components that are not empty, "." or "..".
func isClean(name string) bool {
	if name == "/" {
		return true
	}
	if len(name) < 2 || name[0] != '/' {
		return false
	}
	start := 1
	for i := 1; i <= len(name); i++ {
		if i < len(name) && name[i] != '/' {
			continue
		}
		switch name[start:i] {
		case "", ".", "..":
			return false
		}
		start = i + 1
	}
	return true
}

// Resolve follows every symbolic link in name inside fsys and returns the
// physical path it names, with the links met on the way in the order they
// were followed. The final component need not exist: then Resolve returns
// the physical path it would have and an error wrapping [fs.ErrNotExist].
func Resolve(fsys FS, name string) (string, []Link, error) {
	var links []Link
	clean := Clean(name)
	cur := "/"        // resolved so far, physical
	rest := clean[1:] // still to walk, components separated by '/'
	followed := 0
	for {
		for rest != "" && rest[0] == '/' {
			rest = rest[1:]
		}
		if rest == "" {
			return cur, links, nil
		}
		comp := rest
		if k := strings.IndexByte(rest, '/'); k >= 0 {
			comp, rest = rest[:k], rest[k:]
		} else {
			rest = ""
		}
		last := strings.Trim(rest, "/") == ""
		switch comp {
		case ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := join(clean, cur, comp)
		fi, err := fsys.Lstat(next)
		if err != nil {
			if last {
				return next, links, err
			}
			return "", links, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if !last && !fi.IsDir() {
				return "", links, &fs.PathError{Op: "resolve", Path: next, Err: errNotDir}
			}
			cur = next
			continue
		}
		followed++
		if followed > MaxSymlinks {
			return "", links, &fs.PathError{Op: "resolve", Path: Clean(name), Err: ErrLoop}
		}
		target, err := fsys.Readlink(next)
		if err != nil {
			return "", links, err
		}
		links = append(links, Link{Path: next, Target: target})
		if strings.HasPrefix(target, "/") {
			cur = "/"
		}
		rest = target + "/" + rest
	}
}

// join returns cur + "/" + comp (comp alone after "/"), and without
// allocating when it is a prefix of clean, as it is until a symbolic link is
// followed.
func join(clean, cur, comp string) string {
	n := len(cur) + 1 + len(comp)
	if cur == "/" {
		n--
	}
	if len(clean) >= n && clean[n-len(comp)-1] == '/' && clean[n-len(comp):n] == comp && (cur == "/" || clean[:len(cur)] == cur) {
		return clean[:n]
	}
	if cur == "/" {
		return "/" + comp
	}
	return cur + "/" + comp
}

var (
	errNotDir     = errors.New("not a directory")
	errIsDir      = errors.New("is a directory")
	errNotRegular = errors.New("not a regular file")
)

// Realpath is [Resolve] without the links.
func Realpath(fsys FS, name string) (string, error) {
	p, _, err := Resolve(fsys, name)
	return p, err
}

// ReadFile reads the file name, refusing files larger than max bytes.
func ReadFile(fsys FS, name string, max int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("not a regular file")}
	}
	if fi.Size() > max {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("file too large (%d bytes, limit %d)", fi.Size(), max)}
	}
	// io.ReadAll with a buffer of the size Stat gave (and one more byte,
	// to see a file that grew), rather than doubling from 512 bytes.
	r := io.LimitReader(f, max+1)
	size := fi.Size()
	if size < 0 {
		size = 0
	}
	b := make([]byte, 0, size+1)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if int64(len(b)) > max {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("file too large (limit %d bytes)", max)}
	}
	return b, nil
}

// Glob returns the paths inside fsys matching pattern (path.Match syntax,
// absolute), sorted. Directories in the pattern are resolved inside the root.
func Glob(fsys FS, pattern string) ([]string, error) {
	pattern = Clean(pattern)
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, err
	}
	dirs := []string{"/"}
	comps := strings.Split(pattern, "/")[1:]
	for i, comp := range comps {
		last := i == len(comps)-1
		var next []string
		for _, d := range dirs {
			if !hasMeta(comp) {
				p := path.Join(d, comp)
				if last {
					if _, err := fsys.Lstat(mustPhysicalParent(fsys, p)); err == nil {
						next = append(next, p)
					}
				} else {
					next = append(next, p)
				}
				continue
			}
			rd, err := Realpath(fsys, d)
			if err != nil {
				continue
			}
			ents, err := fsys.ReadDir(rd)
			if err != nil {
				continue
			}
			for _, e := range ents {
				if ok, _ := path.Match(comp, e.Name()); ok {
					next = append(next, path.Join(d, e.Name()))
				}
			}
		}
		dirs = next
	}
	return dirs, nil
}

// mustPhysicalParent returns p with its directory part resolved; on error it
// returns a path that does not exist.
func mustPhysicalParent(fsys FS, p string) string {
	dir, err := Realpath(fsys, path.Dir(p))
	if err != nil {
		return "/\x00"
	}
	return path.Join(dir, path.Base(p))
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// ReadDirNames lists the names in directory name (a physical path), in no
// particular order, with fsys's ReadDirNames method when it has one.
func ReadDirNames(fsys FS, name string) ([]string, error) {
	if c, ok := fsys.(*cachedFS); ok {
		fsys = c.FS
	}
	if n, ok := fsys.(interface {
		ReadDirNames(string) ([]string, error)
	}); ok {
		return n.ReadDirNames(name)
	}
	ents, err := fsys.ReadDir(name)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, nil
}

// Cached wraps fsys so that Lstat, Readlink and ReadDir results are kept:
// for a root that does not change while it is read, as the loader
// emulation's many lookups of the same directories.
func Cached(fsys FS) FS {
	if _, ok := fsys.(*cachedFS); ok {
		return fsys
	}
	return &cachedFS{FS: fsys}
}

type cachedFS struct {
	FS
	lstat syncmap.Map[string, lstatResult]
	links syncmap.Map[string, linkResult]
}

type lstatResult struct {
	fi  fs.FileInfo
	err error
}

type linkResult struct {
	target string
	err    error
}

// Lstat implements FS.
func (c *cachedFS) Lstat(name string) (fs.FileInfo, error) {
	if r, ok := c.lstat.Load(name); ok {
		return r.fi, r.err
	}
	fi, err := c.FS.Lstat(name)
	c.lstat.Store(name, lstatResult{fi, err})
	return fi, err
}

// Readlink implements FS.
func (c *cachedFS) Readlink(name string) (string, error) {
	if r, ok := c.links.Load(name); ok {
		return r.target, r.err
	}
	t, err := c.FS.Readlink(name)
	c.links.Store(name, linkResult{t, err})
	return t, err
}
