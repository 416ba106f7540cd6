package rootfs

import (
	"bytes"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

// Tree is an in-memory root filesystem: the files of an image being built,
// or the merged layers of an image. Regular files take their content from
// another FS or from bytes. It is not safe for concurrent modification; it
// is for concurrent reads once built.
type Tree struct {
	nodes map[string]*node
}

type node struct {
	mode    fs.FileMode // type bits and permissions
	target  string      // symbolic link target
	src     FS          // content of a regular file: src at srcPath, or data
	srcPath string
	data    []byte
	size    int64
}

// NewTree returns a tree holding only "/".
func NewTree() *Tree {
	return &Tree{nodes: map[string]*node{"/": {mode: fs.ModeDir | 0o755}}}
}

var _ FS = (*Tree)(nil)

// AddDir adds directory name; missing parents are added as 0755 directories.
func (t *Tree) AddDir(name string, perm fs.FileMode) {
	t.add(Clean(name), &node{mode: fs.ModeDir | perm.Perm() | perm&(fs.ModeSticky|fs.ModeSetgid|fs.ModeSetuid)})
}

// AddSymlink adds a symbolic link name -> target.
func (t *Tree) AddSymlink(name, target string) {
	t.add(Clean(name), &node{mode: fs.ModeSymlink | 0o777, target: target})
}

// AddFile adds a regular file whose content is srcPath in src, size bytes.
func (t *Tree) AddFile(name string, perm fs.FileMode, src FS, srcPath string, size int64) {
	t.add(Clean(name), &node{mode: perm, src: src, srcPath: srcPath, size: size})
}

// AddData adds a regular file holding data.
func (t *Tree) AddData(name string, perm fs.FileMode, data []byte) {
	t.add(Clean(name), &node{mode: perm, data: data, size: int64(len(data))})
}

// Remove deletes name and everything under it.
func (t *Tree) Remove(name string) {
	name = Clean(name)
	if name == "/" {
		return
	}
	delete(t.nodes, name)
	prefix := name + "/"
	for p := range t.nodes {
		if strings.HasPrefix(p, prefix) {
			delete(t.nodes, p)
		}
	}
}

func (t *Tree) add(name string, n *node) {
	for d := path.Dir(name); ; d = path.Dir(d) {
		if p, ok := t.nodes[d]; !ok || !p.mode.IsDir() {
			t.nodes[d] = &node{mode: fs.ModeDir | 0o755}
		}
		if d == "/" {
			break
		}
	}
	if old, ok := t.nodes[name]; ok && old.mode.IsDir() && !n.mode.IsDir() {
		t.Remove(name)
	}
	t.nodes[name] = n
}

// Lstat implements FS.
func (t *Tree) Lstat(name string) (fs.FileInfo, error) {
	n, ok := t.nodes[Clean(name)]
	if !ok {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrNotExist}
	}
	return &treeInfo{name: path.Base(Clean(name)), n: n}, nil
}

// Readlink implements FS.
func (t *Tree) Readlink(name string) (string, error) {
	n, ok := t.nodes[Clean(name)]
	if !ok {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrNotExist}
	}
	if n.mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.target, nil
}

// ReadDir implements FS.
func (t *Tree) ReadDir(name string) ([]fs.DirEntry, error) {
	name = Clean(name)
	n, ok := t.nodes[name]
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	if !n.mode.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	prefix := name + "/"
	if name == "/" {
		prefix = "/"
	}
	var out []fs.DirEntry
	for p, c := range t.nodes {
		if p != "/" && strings.HasPrefix(p, prefix) && !strings.Contains(p[len(prefix):], "/") {
			out = append(out, fs.FileInfoToDirEntry(&treeInfo{name: p[len(prefix):], n: c}))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// Open implements FS.
func (t *Tree) Open(name string) (File, error) {
	real, _, err := Resolve(t, name)
	if err != nil {
		return nil, err
	}
	n := t.nodes[real]
	if n == nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if !n.mode.IsRegular() {
		if n.mode.IsDir() {
			return nil, &fs.PathError{Op: "open", Path: name, Err: errIsDir}
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: errNotRegular}
	}
	if n.src != nil {
		return n.src.Open(n.srcPath)
	}
	return &dataFile{Reader: bytes.NewReader(n.data), info: &treeInfo{name: path.Base(real), n: n}}, nil
}

// String implements FS.
func (t *Tree) String() string { return "(image)" }

type treeInfo struct {
	name string
	n    *node
}

func (i *treeInfo) Name() string       { return i.name }
func (i *treeInfo) Size() int64        { return i.n.size }
func (i *treeInfo) Mode() fs.FileMode  { return i.n.mode }
func (i *treeInfo) ModTime() time.Time { return time.Unix(0, 0) }
func (i *treeInfo) IsDir() bool        { return i.n.mode.IsDir() }
func (i *treeInfo) Sys() any           { return nil }

type dataFile struct {
	*bytes.Reader
	info fs.FileInfo
}

func (f *dataFile) Close() error               { return nil }
func (f *dataFile) Stat() (fs.FileInfo, error) { return f.info, nil }

var _ io.ReaderAt = (*dataFile)(nil)
