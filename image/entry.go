package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/fromscratch/fromscratch/rootfs"
)

// Entry is one file of a layer.
type Entry struct {
	// Path is the absolute, clean path of the file in the image, e.g.
	// "/usr/lib/x86_64-linux-gnu/libc.so.6". The root "/" itself is not an
	// entry.
	Path string
	// Type is tar.TypeReg, tar.TypeDir, tar.TypeSymlink or tar.TypeLink (a
	// hard link to Linkname, another entry of the same layer).
	Type byte
	// Mode holds the permission bits as Go reports them ([fs.FileInfo.Mode]):
	// Perm() plus fs.ModeSetuid, fs.ModeSetgid and fs.ModeSticky. File type
	// bits are ignored (Type decides). The raw Unix bits 04000, 02000 and 01000
	// are honoured too. Mode is used as given: 0 means no permissions at all.
	// The mode of a hard link is that of the file it links to; a symbolic
	// link's is always 0777.
	Mode fs.FileMode
	// Linkname is a symbolic link's target as stored (relative or absolute),
	// or a hard link's target: the absolute Path of another entry of the
	// same layer. Empty for other types.
	Linkname string
	// Source is, for a regular file, the path inside the source rootfs.FS
	// to copy the content from (opened with rootfs.FS.Open, so symbolic
	// links on the way are followed inside that root).
	Source string
	// SourceFS, when not nil, is the filesystem Source is opened in instead
	// of the one passed to Layer (a file added from outside the root).
	SourceFS rootfs.FS
	// Data is, for a regular file without Source, its content (generated
	// files such as /etc/passwd). A regular entry with neither is empty.
	Data []byte
	// UID and GID own the file in the image (the disk's owners are never
	// used). The owner of a hard link is that of the file it links to.
	UID, GID int
}

// LayerSpec is a layer to build.
type LayerSpec struct {
	// Entries are the files of the layer, in any order. Their parent
	// directories need not be listed: missing ones are written with mode
	// 0755 owned by 0:0.
	Entries []Entry
	// CreatedBy is the image history's created_by for this layer, e.g.
	// "fromscratch build: loader and libc".
	CreatedBy string
	// Comment is the image history's comment for this layer.
	Comment string
}

// Errors callers can test for with errors.Is.
var (
	// ErrDuplicatePath is returned when two entries of a layer have the
	// same path.
	ErrDuplicatePath = errors.New("duplicate path in layer")
	// ErrSourceChanged is returned when a regular file's size changes while
	// it is copied into a layer.
	ErrSourceChanged = errors.New("file changed size while being read")
	// ErrInvalidEntry is returned for an entry that cannot be written as
	// given (bad path, type, link or content).
	ErrInvalidEntry = errors.New("invalid layer entry")
)

// planned is one header of a layer, in write order.
type planned struct {
	path string // absolute path in the image
	e    *Entry // what to write; for a hard link group's first member, the group's file
	link string // for a hard link, the absolute path of the group's first member
}

func invalid(p, format string, args ...any) error {
	return fmt.Errorf("layer entry %q: %s: %w", p, fmt.Sprintf(format, args...), ErrInvalidEntry)
}

// checkEntry checks one entry on its own.
func checkEntry(e *Entry) error {
	p := e.Path
	if p == "" || p[0] != '/' || path.Clean(p) != p || strings.IndexByte(p, 0) >= 0 {
		return invalid(p, "path must be absolute and clean")
	}
	if p == "/" {
		return invalid(p, "the root directory cannot be an entry")
	}
	if e.UID < 0 || e.GID < 0 {
		return invalid(p, "negative owner %d:%d", e.UID, e.GID)
	}
	content := e.Source != "" || e.Data != nil || e.SourceFS != nil
	switch e.Type {
	case tar.TypeReg:
		if e.Linkname != "" {
			return invalid(p, "a regular file has no link target")
		}
		if e.Source != "" && e.Data != nil {
			return invalid(p, "both Source and Data are set")
		}
		if e.SourceFS != nil && e.Source == "" {
			return invalid(p, "SourceFS without Source")
		}
	case tar.TypeDir:
		if content || e.Linkname != "" {
			return invalid(p, "a directory has no content or link target")
		}
	case tar.TypeSymlink:
		if content {
			return invalid(p, "a symbolic link has no content")
		}
		if e.Linkname == "" || strings.IndexByte(e.Linkname, 0) >= 0 {
			return invalid(p, "bad symbolic link target %q", e.Linkname)
		}
	case tar.TypeLink:
		if content {
			return invalid(p, "a hard link has no content of its own")
		}
		l := e.Linkname
		if l == "" || l[0] != '/' || path.Clean(l) != l || l == "/" {
			return invalid(p, "hard link target %q must be the absolute, clean path of another entry", l)
		}
	default:
		return invalid(p, "unsupported type %q", e.Type)
	}
	return nil
}

// plan checks the entries and returns the headers to write, in order:
// sorted by path, with missing parent directories added, and every hard link
// group stored under its first path in that order (tar needs a hard link's
// target earlier in the archive; all names of a hard link are equal, so the
// group's content goes to whichever comes first).
func plan(entries []Entry) ([]planned, error) {
	byPath := make(map[string]*Entry, len(entries))
	for i := range entries {
		e := &entries[i]
		if err := checkEntry(e); err != nil {
			return nil, err
		}
		if _, dup := byPath[e.Path]; dup {
			return nil, fmt.Errorf("layer entry %q: %w", e.Path, ErrDuplicatePath)
		}
		byPath[e.Path] = e
	}

	// Parent directories: explicit ones must be directories; missing ones
	// are added once.
	implicit := map[string]*Entry{}
	for _, e := range byPath {
		for dir := path.Dir(e.Path); dir != "/"; dir = path.Dir(dir) {
			if pe, ok := byPath[dir]; ok {
				if pe.Type != tar.TypeDir {
					return nil, invalid(e.Path, "parent %q is not a directory in the layer", dir)
				}
				continue
			}
			if _, ok := implicit[dir]; ok {
				break // its own parents were handled when it was added
			}
			implicit[dir] = &Entry{Path: dir, Type: tar.TypeDir, Mode: 0o755}
		}
	}
	for p, e := range implicit {
		byPath[p] = e
	}

	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	// A plain string sort puts every directory before its children: a
	// parent is a proper prefix of its children's paths.
	slices.Sort(paths)

	// Hard links: find each link's file (following links to links).
	roots := map[string]string{} // hard link path -> the file it names
	for p, e := range byPath {
		if e.Type != tar.TypeLink {
			continue
		}
		cur := e
		for range len(byPath) + 1 {
			if cur.Type != tar.TypeLink {
				break
			}
			t, ok := byPath[cur.Linkname]
			if !ok {
				return nil, invalid(p, "hard link target %q is not in the layer", cur.Linkname)
			}
			cur = t
		}
		switch cur.Type {
		case tar.TypeLink:
			return nil, invalid(p, "hard link loop")
		case tar.TypeDir:
			return nil, invalid(p, "hard link to directory %q", cur.Path)
		}
		roots[p] = cur.Path
	}
	first := map[string]string{} // the file -> the first path of its group
	out := make([]planned, 0, len(paths))
	for _, p := range paths {
		root := p
		if r, ok := roots[p]; ok {
			root = r
		}
		if f, ok := first[root]; ok {
			out = append(out, planned{path: p, e: byPath[root], link: f})
			continue
		}
		first[root] = p
		out = append(out, planned{path: p, e: byPath[root]})
	}
	return out, nil
}
