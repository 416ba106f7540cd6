package imagefs

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"time"

	"github.com/fromscratch/fromscratch/rootfs"
)

// Lstat implements rootfs.FS.
func (t *FS) Lstat(name string) (fs.FileInfo, error) {
	n := t.lookup(rootfs.Clean(name))
	if n == nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrNotExist}
	}
	return info{n}, nil
}

// Readlink implements rootfs.FS.
func (t *FS) Readlink(name string) (string, error) {
	n := t.lookup(rootfs.Clean(name))
	switch {
	case n == nil:
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrNotExist}
	case n.typ != tar.TypeSymlink:
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.target, nil
}

// ReadDir implements rootfs.FS.
func (t *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	n := t.lookup(rootfs.Clean(name))
	switch {
	case n == nil:
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	case !n.isDir():
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fmt.Errorf("not a directory")}
	}
	kids := n.sortedChildren()
	out := make([]fs.DirEntry, len(kids))
	for i, c := range kids {
		out[i] = fs.FileInfoToDirEntry(info{c})
	}
	return out, nil
}

// Open implements rootfs.FS. Only the contents the view keeps can be read
// (see the package documentation); others give [ErrContentNotKept], and a
// "#!" script of which only the head is kept reads as its head, then
// ErrContentNotKept.
func (t *FS) Open(name string) (rootfs.File, error) {
	real, err := rootfs.Realpath(t, name)
	if err != nil {
		return nil, err
	}
	n := t.lookup(real)
	switch {
	case n == nil:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case n.isDir():
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("is a directory")}
	case n.typ != tar.TypeReg:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("not a regular file")}
	}
	c := n.data
	if c.file != "" {
		f, err := os.Open(c.file)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		if c.avail != nil {
			return &partialFile{File: f, avail: c.avail, size: c.size, info: info{n}}, nil
		}
		return &keptFile{File: f, info: info{n}}, nil
	}
	if c.size == 0 {
		return &headFile{Reader: bytes.NewReader(nil), info: info{n}}, nil
	}
	if c.head == nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: ErrContentNotKept}
	}
	return &headFile{Reader: bytes.NewReader(c.head), info: info{n}}, nil
}

// String implements rootfs.FS.
func (t *FS) String() string {
	if t.name == "" {
		return "(image)"
	}
	return t.name
}

// File is a path of the final filesystem, for reports.
type File struct {
	Path   string      `json:"path"`
	Mode   fs.FileMode `json:"-"`
	Size   int64       `json:"size"`
	Layer  int         `json:"layer"` // the layer that last wrote it
	Target string      `json:"target,omitempty"`
	// Links are the other names of a regular file's content (hard links),
	// in [FS.Largest].
	Links []string `json:"links,omitempty"`
}

// Waste is a path whose contents some layer wrote and the final filesystem
// does not hold: overwritten by a later (or the same) layer, or deleted.
type Waste struct {
	Path  string `json:"path"`
	Count int    `json:"count"` // copies wasted
	Bytes int64  `json:"bytes"` // their bytes
}

// Wasted returns the k paths with the most wasted bytes (ties: more
// copies, then by path), every one for k < 0.
func (t *FS) Wasted(k int) []Waste {
	out := make([]Waste, 0, len(t.wasted))
	for _, w := range t.wasted {
		out = append(out, *w)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Bytes != b.Bytes {
			return a.Bytes > b.Bytes
		}
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Path < b.Path
	})
	if k >= 0 && len(out) > k {
		out = out[:k]
	}
	return out
}

// Files returns every path of the final filesystem but "/", sorted.
func (t *FS) Files() []File {
	var out []File
	t.EachFile(func(f File) { out = append(out, f) })
	return out
}

// EachFile calls fn with each path of the tree, as Files lists them,
// without holding the list.
func (t *FS) EachFile(fn func(File)) {
	walk(t.root, func(n *node) {
		if n.parent == nil {
			return
		}
		f := File{Path: n.path(), Mode: n.fileMode(), Size: n.size(), Layer: n.layer}
		if n.typ == tar.TypeSymlink {
			f.Target = n.target
		}
		fn(f)
	})
}

// Largest returns the k largest regular files of the final filesystem,
// largest first (ties in walk order, as [FS.Files] lists them). It holds k
// nodes at a time, not the list of every file.
//
// Names hard linked to one content are one file, its first name in walk
// order, the others in Links.
func (t *FS) Largest(k int) []File {
	if k <= 0 {
		return nil
	}
	type item struct {
		n   *node
		seq int // walk order
	}
	// A min-heap of the k largest so far: the root is the smallest, the
	// latest walked among equals.
	h := make([]item, 0, min(k, 1024))
	smaller := func(a, b item) bool {
		if a.n.data.size != b.n.data.size {
			return a.n.data.size < b.n.data.size
		}
		return a.seq > b.seq
	}
	fix := func(i int) {
		for {
			m := i
			for _, c := range []int{2*i + 1, 2*i + 2} {
				if c < len(h) && smaller(h[c], h[m]) {
					m = c
				}
			}
			if m == i {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	seq := 0
	// The names of contents with several, for Links: only those are kept
	// (not of the one empty content every empty file shares).
	names := map[*content][]string{}
	walk(t.root, func(n *node) {
		if n.typ != tar.TypeReg || n.data == nil {
			return
		}
		if n.data.refs > 1 && n.data.size > 0 {
			names[n.data] = append(names[n.data], n.path())
			if len(names[n.data]) > 1 {
				return
			}
		}
		seq++
		it := item{n, seq}
		switch {
		case len(h) < k:
			h = append(h, it)
			for i := len(h) - 1; i > 0 && smaller(h[i], h[(i-1)/2]); i = (i - 1) / 2 {
				h[i], h[(i-1)/2] = h[(i-1)/2], h[i]
			}
		case smaller(h[0], it):
			h[0] = it
			fix(0)
		}
	})
	sort.Slice(h, func(i, j int) bool { return smaller(h[j], h[i]) })
	out := make([]File, len(h))
	for i, it := range h {
		n := it.n
		out[i] = File{Path: n.path(), Mode: n.fileMode(), Size: n.size(), Layer: n.layer}
		if all := names[n.data]; len(all) > 1 {
			out[i].Links = all[1:]
		}
	}
	return out
}

// LowerPaths returns the paths (with their tar type) of the tree after the
// first Options.SnapshotAfter layers, or nil.
func (t *FS) LowerPaths() map[string]byte { return t.lower }

type info struct{ n *node }

func (i info) Name() string       { return i.n.name }
func (i info) Size() int64        { return i.n.size() }
func (i info) Mode() fs.FileMode  { return i.n.fileMode() }
func (i info) ModTime() time.Time { return time.Unix(i.n.mtime, 0) }
func (i info) IsDir() bool        { return i.n.isDir() }
func (i info) Sys() any           { return nil }

// keptFile is a kept content, described as the image's file.
type keptFile struct {
	*os.File
	info fs.FileInfo
}

func (f *keptFile) Stat() (fs.FileInfo, error) { return f.info, nil }

// headFile serves the kept head of a file, then ErrContentNotKept.
type headFile struct {
	*bytes.Reader
	info info
}

func (f *headFile) full() bool { return f.Reader.Size() == f.info.n.data.size }

func (f *headFile) Read(p []byte) (int, error) {
	n, err := f.Reader.Read(p)
	if err == io.EOF && !f.full() {
		err = ErrContentNotKept
	}
	return n, err
}

func (f *headFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.Reader.ReadAt(p, off)
	if err == io.EOF && !f.full() && off+int64(len(p)) <= f.info.n.data.size {
		err = ErrContentNotKept
	}
	return n, err
}

func (f *headFile) Close() error               { return nil }
func (f *headFile) Stat() (fs.FileInfo, error) { return f.info, nil }
