package imagefs

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/fromscratch/fromscratch/internal/countio"
	"github.com/fromscratch/fromscratch/rootfs"
)

// DefaultMaxEntries is the default cap on live paths (Options.MaxEntries).
const DefaultMaxEntries = 1 << 22

// Options tune [Open].
type Options struct {
	// TempDir is where the directory of kept contents is made ("" means
	// os.TempDir()).
	TempDir string
	// MaxEntries caps the live paths of the tree; 0 means
	// DefaultMaxEntries.
	MaxEntries int
	// Jobs is how many layers are decompressed and parsed at once (they
	// are still applied in order); 0 means GOMAXPROCS.
	Jobs int
	// SnapshotAfter, when > 0, records the paths of the tree after the
	// first SnapshotAfter layers (see [FS.LowerPaths]), for squashing the
	// layers above.
	SnapshotAfter int
	// Name describes the image in messages (the reference).
	Name string
	// Sizes asks for each layer's compressed digest and size in
	// [LayerStats]. For a source whose layers are stored uncompressed (a
	// `docker save` tarball) that compresses every layer once more.
	Sizes bool
	// MaxKept caps the bytes of content the view keeps in its temporary
	// directory; 0 means DefaultMaxKept.
	MaxKept int64
	// NoContent keeps no content at all (for squashing, which reads the
	// layers again); Open then fails for every regular file but empty ones.
	NoContent bool
	// Keep, when not nil, names more files whose whole content is kept
	// (even with NoContent), such as a package database.
	Keep func(name string, size int64) bool
}

// LayerStats is what one layer did to the filesystem. Counts are of
// non-directories (regular files, symbolic links, hard links, devices);
// bytes are regular files' content bytes.
type LayerStats struct {
	Index            int             `json:"index"`
	Digest           string          `json:"digest"`
	DiffID           string          `json:"diff_id"`
	MediaType        types.MediaType `json:"media_type"`
	CreatedBy        string          `json:"created_by"`
	Size             int64           `json:"size"`              // compressed bytes
	UncompressedSize int64           `json:"uncompressed_size"` // tar bytes
	Added            int             `json:"added"`
	Changed          int             `json:"changed"`
	Removed          int             `json:"removed"`
	Bytes            int64           `json:"bytes"`        // regular files' content in this layer
	WastedBytes      int64           `json:"wasted_bytes"` // of those, bytes not in the final filesystem
}

// name returns the digest of the layer, or its diff ID.
func (s *LayerStats) name() string {
	if s.Digest != "" {
		return s.Digest
	}
	return s.DiffID
}

// FS is the merged filesystem of an image. It implements [rootfs.FS]; its
// methods are safe for concurrent use once Open has returned.
type FS struct {
	name  string
	root  *node
	tmp   string
	live  int
	max   int
	lower map[string]byte
	none  bool
	// empty is the content of every empty regular file (it carries no
	// bytes, and its refs count nothing that matters).
	empty *content
	keep  func(name string, size int64) bool
	// kept counts the bytes stored in tmp, up to maxKept.
	kept    atomic.Int64
	maxKept int64
	// Layers holds each layer's statistics, bottom first.
	Layers []LayerStats
	// wasted are the paths whose contents were dropped (see Wasted).
	wasted map[string]*Waste
}

var _ rootfs.FS = (*FS)(nil)

// Open reads every layer of img once and returns the merged view. Layers
// are decompressed and parsed concurrently (opts.Jobs at a time, each
// streamed, never held whole; see [StreamedLayer]) and applied in order;
// the config is read last. The caller must Close
// the view to remove its temporary directory.
func Open(ctx context.Context, img v1.Image, opts Options) (_ *FS, err error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layers: %w", err)
	}
	tmp, err := os.MkdirTemp(opts.TempDir, "fromscratch-imagefs-*")
	if err != nil {
		return nil, err
	}
	t := &FS{
		name:  opts.Name,
		root:  &node{typ: tar.TypeDir, mode: 0o755, layer: -1, children: map[string]*node{}},
		tmp:   tmp,
		max:   opts.MaxEntries,
		none:  opts.NoContent,
		empty: &content{},
		keep:  opts.Keep,
	}
	if t.max <= 0 {
		t.max = DefaultMaxEntries
	}
	if t.maxKept = opts.MaxKept; t.maxKept <= 0 {
		t.maxKept = DefaultMaxKept
	}
	defer func() {
		if err != nil {
			t.Close()
		}
	}()
	t.Layers = make([]LayerStats, len(layers))
	for i, l := range layers {
		s := &t.Layers[i]
		s.Index = i
		if d, err := l.DiffID(); err == nil {
			s.DiffID = d.String()
		}
	}

	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	if streamed(layers) {
		// Each waits for its bytes: read every one as they come.
		jobs = max(jobs, min(len(layers), maxStreamed))
	}
	// Layer i is parsed once a slot is free; a slot is freed when a layer
	// has been applied, so at most jobs layers are in flight. A parser
	// hands its events over in chunks through a bounded channel, so a
	// layer of a million entries is never held as a million events: the
	// memory of an image is its tree, one node a live path.
	ctx, cancel := context.WithCancel(ctx)
	type layerRun struct {
		chunks chan []event
		err    error // set before chunks is closed
	}
	runs := make([]*layerRun, len(layers))
	for i := range runs {
		runs[i] = &layerRun{chunks: make(chan []event, chunksAhead)}
	}
	slots := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	defer func() {
		cancel() // stops the feeder and the parsers, then waits for them
		wg.Wait()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, l := range layers {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				for ; i < len(layers); i++ {
					runs[i].err = ctx.Err()
					close(runs[i].chunks)
				}
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				run := runs[i]
				s := &t.Layers[i]
				s.MediaType, _ = l.MediaType()
				if opts.Sizes {
					if d, err := l.Digest(); err == nil {
						s.Digest = d.String()
					}
					s.Size, _ = l.Size()
				}
				usize, err := t.parseLayer(ctx, i, l, run.chunks)
				s.UncompressedSize = usize
				run.err = err
				close(run.chunks)
			}()
		}
	}()
	for i := range layers {
		run := runs[i]
		var err error
		for evs := range run.chunks {
			if err == nil {
				err = t.applyLayer(i, evs)
				if err != nil {
					cancel() // the parsers stop; the channel is drained
				}
			}
		}
		if err == nil {
			err = run.err
		}
		<-slots
		if err != nil {
			return nil, err
		}
		if opts.SnapshotAfter > 0 && i == opts.SnapshotAfter-1 {
			t.lower = map[string]byte{}
			walk(t.root, func(n *node) { t.lower[n.path()] = n.typ })
		}
	}
	// The config last: a streamed image's may come after its layers.
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	var created []string
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			created = append(created, h.CreatedBy)
		}
	}
	if len(created) == len(layers) {
		for i := range t.Layers {
			t.Layers[i].CreatedBy = created[i]
		}
	}
	return t, nil
}

// StreamedLayer is a layer that arrives in one stream with the image's
// others, in an order of the stream's own (the Docker engine's save
// stream): its Uncompressed waits for its bytes. [Open] reads all the
// layers of such an image at once (up to maxStreamed), each as soon as its
// bytes are there, rather than Options.Jobs at a time in the image's order.
type StreamedLayer interface {
	v1.Layer
	Streamed()
}

// maxStreamed bounds the streamed layers read at once: each holds up to
// chunksAhead chunks of events until the layers below it are applied.
const maxStreamed = 16

// streamed reports whether every layer is a StreamedLayer.
func streamed(layers []v1.Layer) bool {
	for _, l := range layers {
		if _, ok := l.(StreamedLayer); !ok {
			return false
		}
	}
	return len(layers) > 0
}

// Events are handed from a layer's parser to the applier in chunks of
// chunkLen, at most chunksAhead chunks ahead.
const (
	chunkLen    = 1024
	chunksAhead = 16
)

// parseLayer streams layer i, sends its events to out in chunks, and
// returns its uncompressed size.
func (t *FS) parseLayer(ctx context.Context, i int, l v1.Layer, out chan<- []event) (int64, error) {
	digest := t.Layers[i].Digest
	if digest == "" {
		digest = t.Layers[i].DiffID
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return 0, &LayerError{Layer: i, Digest: digest, Err: fmt.Errorf("%w: %w", ErrCorrupt, err)}
	}
	defer rc.Close()
	cr := &countio.Reader{R: rc}
	evs := make([]event, 0, chunkLen)
	send := func() error {
		if len(evs) == 0 {
			return nil
		}
		select {
		case out <- evs:
		case <-ctx.Done():
			return ctx.Err()
		}
		evs = make([]event, 0, chunkLen)
		return nil
	}
	err = WalkTar(bufio.NewReaderSize(cr, 128<<10), func(pos int, hdr *tar.Header, tr *tar.Reader) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		ev, err := t.parseEntry(i, pos, hdr, tr)
		if err != nil {
			return &LayerError{Layer: i, Digest: digest, Entry: hdr.Name, Err: err}
		}
		evs = append(evs, ev)
		if len(evs) == chunkLen {
			return send()
		}
		return nil
	})
	if err == nil {
		err = send()
	}
	if err == nil {
		// Read the tar's end and anything after it, so the digest is
		// verified where the source verifies it.
		if _, cerr := io.Copy(io.Discard, cr); cerr != nil {
			err = fmt.Errorf("%w: %w", ErrCorrupt, unexpected(cerr))
		}
	}
	if err != nil && ctx.Err() != nil {
		// Interrupted: the stream's error (a cut connection) is no
		// corruption.
		err = &LayerError{Layer: i, Digest: digest, Err: context.Cause(ctx)}
	}
	if err != nil {
		var le *LayerError
		if !errors.As(err, &le) {
			err = &LayerError{Layer: i, Digest: digest, Err: err}
		}
		return 0, err
	}
	return cr.N, nil
}

// applyLayer applies the events of layer i in order.
func (t *FS) applyLayer(i int, evs []event) error {
	s := &t.Layers[i]
	for _, ev := range evs {
		var err error
		switch ev.kind {
		case evSkip:
		case evWhiteout:
			err = t.whiteout(i, ev)
		case evOpaque:
			err = t.opaque(i, ev)
		default:
			if ev.n.typ == tar.TypeReg {
				s.Bytes += ev.n.data.size
			}
			err = t.apply(i, ev)
		}
		if err != nil {
			return &LayerError{Layer: i, Digest: s.name(), Entry: ev.raw, Err: err}
		}
		if t.live > t.max {
			return &LayerError{Layer: i, Digest: s.name(), Entry: ev.raw, Err: fmt.Errorf("%w: more than %d paths", ErrTooLarge, t.max)}
		}
	}
	return nil
}

// resolveDir returns the directory p names, following symbolic links inside
// the root. With create, missing directories are made (0755, owned by root,
// written by layer/pos), as an extractor makes them.
func (t *FS) resolveDir(p string, create bool, layer, pos int) (*node, error) {
	n := t.root
	comps := strings.Split(p, "/")
	links := 0
	for len(comps) > 0 {
		c := comps[0]
		comps = comps[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if n.parent != nil {
				n = n.parent
			}
			continue
		}
		child := n.children[c]
		switch {
		case child == nil:
			if !create {
				return nil, nil
			}
			child = &node{name: c, parent: n, typ: tar.TypeDir, mode: 0o755, layer: layer, pos: pos, children: map[string]*node{}}
			n.children[c] = child
			t.live++
			n = child
		case child.isDir():
			n = child
		case child.typ == tar.TypeSymlink:
			links++
			if links > rootfs.MaxSymlinks {
				return nil, fmt.Errorf("%w: %s: %w", ErrParentNotDir, child.path(), rootfs.ErrLoop)
			}
			if strings.HasPrefix(child.target, "/") {
				n = t.root
			}
			comps = append(strings.Split(child.target, "/"), comps...)
		default:
			return nil, fmt.Errorf("%w: %s", ErrParentNotDir, child.path())
		}
	}
	return n, nil
}

// unlink removes n (and its subtree) from the tree; layer is the layer
// doing it, for the accounting. Only nodes written by layers below onlyBelow
// are removed (the rest of a directory's subtree is kept, and so the
// directory); onlyBelow < 0 removes everything.
func (t *FS) unlink(n *node, layer, onlyBelow int, counted bool) {
	if n.isDir() {
		for _, c := range n.sortedChildren() {
			t.unlink(c, layer, onlyBelow, true)
		}
		if len(n.children) > 0 {
			return
		}
	}
	if onlyBelow >= 0 && n.layer >= onlyBelow {
		return
	}
	if n.parent != nil {
		delete(n.parent.children, n.name)
	}
	t.live--
	if !n.isDir() && counted {
		t.Layers[layer].Removed++
	}
	t.drop(n)
}

// drop releases n's content.
func (t *FS) drop(n *node) {
	if n.data == nil {
		return
	}
	n.data.refs--
	if n.data.refs == 0 {
		t.Layers[n.data.layer].WastedBytes += n.data.size
		if t.wasted == nil {
			t.wasted = map[string]*Waste{}
		}
		p := n.path()
		w := t.wasted[p]
		if w == nil {
			w = &Waste{Path: p}
			t.wasted[p] = w
		}
		w.Count++
		w.Bytes += n.data.size
	}
}

// whiteout deletes ev.name from the lower layers.
func (t *FS) whiteout(i int, ev event) error {
	dir, err := t.resolveDir(path.Dir(ev.name), false, i, ev.pos)
	if err != nil || dir == nil {
		return err
	}
	if n := dir.children[path.Base(ev.name)]; n != nil {
		t.unlink(n, i, i, true)
	}
	return nil
}

// opaque deletes every lower child of directory ev.name.
func (t *FS) opaque(i int, ev event) error {
	dir, err := t.resolveDir(ev.name, false, i, ev.pos)
	if err != nil || dir == nil {
		return err
	}
	for _, c := range dir.sortedChildren() {
		t.unlink(c, i, i, true)
	}
	return nil
}

// apply adds one entry.
func (t *FS) apply(i int, ev event) error {
	s := &t.Layers[i]
	if ev.name == "/" {
		if ev.n.typ != tar.TypeDir {
			return fmt.Errorf("%w: the root replaced by a non-directory", ErrBadEntry)
		}
		t.setMeta(t.root, &ev.n)
		return nil
	}
	parent, err := t.resolveDir(path.Dir(ev.name), true, i, ev.pos)
	if err != nil {
		return err
	}
	base := path.Base(ev.name)
	old := parent.children[base]
	n := ev.n
	if ev.link {
		tdir, err := t.resolveDir(path.Dir(n.target), false, i, ev.pos)
		if err != nil {
			return fmt.Errorf("%w: target %q: %w", ErrBadLink, n.target, err)
		}
		var target *node
		if tdir != nil {
			target = tdir.children[path.Base(n.target)]
		}
		switch {
		case target == nil:
			return fmt.Errorf("%w: target %q does not exist", ErrBadLink, n.target)
		case target.isDir():
			return fmt.Errorf("%w: target %q is a directory", ErrBadLink, n.target)
		case target == old:
			return nil // a link to itself changes nothing
		}
		n = *target
		n.layer, n.pos = i, ev.pos
	}
	if n.typ == tar.TypeDir && old != nil && old.isDir() {
		t.setMeta(old, &n)
		return nil
	}
	if old != nil {
		if old.isDir() {
			t.unlink(old, i, -1, true)
		} else {
			delete(parent.children, base)
			t.live--
			t.drop(old)
			if n.typ == tar.TypeDir {
				s.Removed++
			}
		}
	}
	if n.typ != tar.TypeDir {
		if old != nil {
			s.Changed++
		} else {
			s.Added++
		}
	}
	nn := n
	nn.name, nn.parent = base, parent
	if nn.typ == tar.TypeDir {
		nn.children = map[string]*node{}
	}
	if nn.data != nil {
		nn.data.refs++
	}
	parent.children[base] = &nn
	t.live++
	return nil
}

// setMeta updates directory d with the metadata of entry e.
func (t *FS) setMeta(d *node, e *node) {
	d.mode, d.uid, d.gid, d.mtime, d.xattrs = e.mode, e.uid, e.gid, e.mtime, e.xattrs
	d.layer, d.pos = e.layer, e.pos
}

// Close removes the temporary directory of kept contents.
func (t *FS) Close() error {
	if t.tmp == "" {
		return nil
	}
	err := os.RemoveAll(t.tmp)
	t.tmp = ""
	return err
}
