package imagefs

import (
	"archive/tar"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// node is one path of the merged tree.
type node struct {
	name     string // base name ("" for the root)
	parent   *node
	typ      byte        // tar.TypeReg, TypeDir, TypeSymlink, TypeChar, TypeBlock, TypeFifo
	mode     fs.FileMode // permissions and setuid/setgid/sticky, as Go reports them
	uid, gid int
	mtime    int64 // seconds
	target   string
	devmaj   int64
	devmin   int64
	xattrs   map[string]string // PAX "SCHILY.xattr." records, kept as stored
	layer    int               // the layer that last wrote this node
	pos      int               // the entry of that layer
	data     *content          // regular files; shared by hard links
	children map[string]*node  // directories
}

// content is the bytes of one regular-file entry, shared by every name hard
// linked to it.
type content struct {
	layer, pos int    // the entry that carried the bytes
	size       int64  // bytes
	file       string // kept copy in the temporary directory, or ""
	avail      []span // when not nil, the only parts of file kept (an ELF file's loader data)
	head       []byte // first bytes of a "#!" script, when not kept whole
	refs       int    // live names
}

func (n *node) isDir() bool { return n.typ == tar.TypeDir }

// path returns the absolute path of n.
func (n *node) path() string {
	if n.parent == nil {
		return "/"
	}
	var parts []string
	for m := n; m.parent != nil; m = m.parent {
		parts = append(parts, m.name)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	return b.String()
}

// fileMode returns n's mode with Go's type bits.
func (n *node) fileMode() fs.FileMode {
	m := n.mode
	switch n.typ {
	case tar.TypeDir:
		m |= fs.ModeDir
	case tar.TypeSymlink:
		m |= fs.ModeSymlink
	case tar.TypeChar:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case tar.TypeBlock:
		m |= fs.ModeDevice
	case tar.TypeFifo:
		m |= fs.ModeNamedPipe
	}
	return m
}

func (n *node) size() int64 {
	switch n.typ {
	case tar.TypeReg:
		return n.data.size
	case tar.TypeSymlink:
		return int64(len(n.target))
	}
	return 0
}

// sortedChildren returns the children of a directory sorted by name.
func (n *node) sortedChildren() []*node {
	out := make([]*node, 0, len(n.children))
	for _, c := range n.children {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// lookup returns the node at the physical path p (no symbolic link
// followed), or nil.
func (t *FS) lookup(p string) *node {
	n := t.root
	if p == "/" || p == "" {
		return n
	}
	for _, c := range strings.Split(strings.TrimPrefix(path.Clean("/"+p), "/"), "/") {
		if n.children == nil {
			return nil
		}
		n = n.children[c]
		if n == nil {
			return nil
		}
	}
	return n
}

// walk calls fn for n and every node under it, parents first, children in
// name order.
func walk(n *node, fn func(*node)) {
	fn(n)
	if n.isDir() {
		for _, c := range n.sortedChildren() {
			walk(c, fn)
		}
	}
}
