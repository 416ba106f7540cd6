package imagefs

import (
	"archive/tar"
	"bufio"
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/rootfs"
)

// WriteSquashed writes to tw the one layer that, on top of the first from
// layers of the image, gives the view's final filesystem; layers must be
// the image's layers, the ones the view was opened from (with
// Options.SnapshotAfter = from when from > 0).
//
// The layer holds every path whose last writer is layer from or above
// (every path when from is 0), once, with its final metadata; shadowed and
// deleted files are dropped. When from > 0, each path of the lower layers
// that is gone from the final filesystem gets a whiteout (the topmost
// such path only: a deleted directory is one whiteout); with from 0 there
// is none. Names hard linked to one content in the final filesystem stay
// hard links (among the names this layer holds).
//
// Order: directories, symbolic links, devices and whiteouts first, sorted
// by path; then regular files in the order their bytes appear in the
// layers, which are read once more (from the lowest layer holding a
// needed content up), each streamed, so contents are copied straight from
// the source into tw. The result depends only on the image.
func (t *FS) WriteSquashed(ctx context.Context, tw *tar.Writer, layers []v1.Layer, from int) error {
	if from < 0 || from > len(layers) {
		return fmt.Errorf("squash from layer %d: the image has %d layers", from, len(layers))
	}
	if from > 0 && t.lower == nil {
		return fmt.Errorf("squash from layer %d: the view has no snapshot of the lower layers", from)
	}
	type emit struct {
		path string
		n    *node
	}
	var meta []emit
	groups := map[*content][]emit{}
	walk(t.root, func(n *node) {
		if n.parent == nil || n.layer < from {
			return
		}
		e := emit{n.path(), n}
		if n.typ == tar.TypeReg {
			groups[n.data] = append(groups[n.data], e)
			return
		}
		meta = append(meta, e)
	})
	var whiteouts []string
	for p := range t.lower {
		if p == "/" || t.lookup(p) != nil {
			continue
		}
		if parent := t.lookup(path.Dir(p)); parent != nil && parent.isDir() {
			whiteouts = append(whiteouts, path.Join(path.Dir(p), whiteoutPrefix+path.Base(p)))
		}
	}
	// Headers without content, sorted by path.
	for _, w := range whiteouts {
		meta = append(meta, emit{path: w})
	}
	sort.Slice(meta, func(i, j int) bool { return meta[i].path < meta[j].path })
	for _, e := range meta {
		if err := ctx.Err(); err != nil {
			return err
		}
		var hdr *tar.Header
		if e.n == nil {
			hdr = &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(e.path, "/"), Mode: 0o644, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		} else {
			hdr = header(e.path, e.n)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("writing %q: %w", e.path, err)
		}
	}

	// Contents, at the positions of their bytes.
	type at struct{ layer, pos int }
	where := map[at][]*content{}
	lo, hi := len(layers), -1
	for c, members := range groups {
		sort.Slice(members, func(i, j int) bool { return members[i].path < members[j].path })
		groups[c] = members
		k := at{c.layer, c.pos}
		where[k] = append(where[k], c)
		lo, hi = min(lo, c.layer), max(hi, c.layer)
	}
	last := map[int]int{} // the last position needed in each layer
	for k := range where {
		last[k.layer] = max(last[k.layer], k.pos)
	}
	for i := lo; i <= hi; i++ {
		end, ok := last[i]
		if !ok {
			continue
		}
		err := rereadLayer(ctx, layers, i, end, prefetch, func(pos int, hdr *tar.Header, tr *tar.Reader, lerr func(string, error) error) error {
			cs := where[at{i, pos}]
			for _, c := range cs {
				if hdr.Size != c.size {
					return lerr(hdr.Name, fmt.Errorf("%w: the layer changed between two reads", ErrCorrupt))
				}
				members := groups[c]
				first := members[0]
				h := header(first.path, first.n)
				if err := tw.WriteHeader(h); err != nil {
					return fmt.Errorf("writing %q: %w", first.path, err)
				}
				if n, err := io.Copy(tw, tr); err != nil || n != c.size {
					if err == nil {
						err = io.ErrUnexpectedEOF
					}
					return lerr(hdr.Name, fmt.Errorf("%w: %w", ErrCorrupt, unexpected(err)))
				}
				for _, m := range members[1:] {
					h := header(m.path, m.n)
					h.Typeflag, h.Size, h.Linkname = tar.TypeLink, 0, strings.TrimPrefix(first.path, "/")
					if err := tw.WriteHeader(h); err != nil {
						return fmt.Errorf("writing %q: %w", m.path, err)
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// header returns the tar header of node n at path p.
func header(p string, n *node) *tar.Header {
	h := &tar.Header{
		Typeflag: n.typ,
		Name:     strings.TrimPrefix(p, "/"),
		Mode:     rootfs.UnixPerm(n.mode),
		Uid:      n.uid,
		Gid:      n.gid,
		ModTime:  time.Unix(n.mtime, 0),
		Format:   tar.FormatPAX,
	}
	switch n.typ {
	case tar.TypeDir:
		h.Name += "/"
	case tar.TypeSymlink:
		h.Linkname = n.target
	case tar.TypeChar, tar.TypeBlock:
		h.Devmajor, h.Devminor = n.devmaj, n.devmin
	case tar.TypeReg:
		h.Size = n.data.size
	}
	if len(n.xattrs) > 0 {
		h.PAXRecords = make(map[string]string, len(n.xattrs))
		for k, v := range n.xattrs {
			h.PAXRecords[k] = v
		}
	}
	return h
}

// prefetch decompresses r in another goroutine, a megabyte ahead of the
// reader, so decompressing a layer and compressing the output overlap.
// The returned function stops it.
func prefetch(r io.Reader) (io.Reader, func()) {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<20)
		_, err := io.Copy(bw, r)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	return bufio.NewReaderSize(pr, 1<<20), func() { pr.Close() }
}
