package image

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"
)

// RefNameAnnotation is the OCI image layout annotation that names an image
// of the layout's index.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// NormalizeTag returns tag as recorded in an archive or a layout: a bare
// name gets ":latest" ("hello" -> "hello:latest"); other names are kept as
// written. It fails for a name that is not a valid tag (a digest reference,
// upper case, ...).
func NormalizeTag(tag string) (name.Tag, error) {
	t, err := name.NewTag(tag)
	if err != nil {
		return name.Tag{}, fmt.Errorf("tag %q: %w", tag, err)
	}
	if !strings.HasSuffix(tag, ":"+t.TagStr()) {
		if t, err = name.NewTag(tag + ":" + name.DefaultTag); err != nil {
			return name.Tag{}, fmt.Errorf("tag %q: %w", tag, err)
		}
	}
	return t, nil
}

// WriteDockerArchive writes img as a `docker load` tarball (ggcr's
// tarball.Write) tagged tag ("hello:latest"; a bare name gets ":latest") to
// path, atomically: it writes a hidden temporary file in path's directory
// (stale ones, left by a killed run, are removed first: see createTemp) and
// renames it to path (mode 0644) once complete; path must not exist or be a
// regular file ([CheckOutput]). It does not fsync, as
// docker save does not: the rename is what makes it atomic. On error or when
// ctx is cancelled, the temporary file is removed and path is untouched.
func WriteDockerArchive(ctx context.Context, path, tag string, img v1.Image) error {
	wrap := func(err error) error { return fmt.Errorf("writing %q: %w", path, err) }
	t, err := NormalizeTag(tag)
	if err == nil {
		err = CheckOutput(path)
	}
	if err != nil {
		return wrap(err)
	}
	return renameInto(path, func(f *os.File) error { return writeArchive(ctx, f, t, img) }, func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return CheckOutput(path) // made meanwhile
	}, wrap)
}

// StreamDockerArchive writes img to w as a `docker load` tarball tagged
// tag, as [WriteDockerArchive] writes a file: for a pipe (`build -o - |
// docker load`). What was written when it fails is incomplete.
func StreamDockerArchive(ctx context.Context, w io.Writer, tag string, img v1.Image) error {
	t, err := NormalizeTag(tag)
	if err != nil {
		return err
	}
	return writeArchive(ctx, w, t, img)
}

func writeArchive(ctx context.Context, w io.Writer, t name.Tag, img v1.Image) error {
	if p := ProgressFrom(ctx); p != nil {
		p.Grow(imageSize(img))
	}
	bw := bufio.NewWriterSize(ctxWriter{ctx, w, addFunc(ctx)}, chunk)
	if err := tarball.Write(t, img, bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return ctx.Err()
}

// WriteOCILayout writes img into the OCI image layout at dir, named by tag
// (normalized as by [NormalizeTag], in the index's
// org.opencontainers.image.ref.name annotation; "" for no name).
//
// When dir does not exist (or is an empty directory) the layout is staged in
// a hidden temporary directory next to it and renamed to dir when complete,
// so an error or a cancelled ctx leaves nothing behind. When dir is already
// a layout, the image's blobs are added to it and its index.json is replaced
// atomically, with the image in place of any image of the same name; an
// interrupted write can leave unreferenced blobs but never a broken index.
// Any other dir is an error.
func WriteOCILayout(ctx context.Context, dir, tag string, img v1.Image) error {
	if p := ProgressFrom(ctx); p != nil {
		p.Grow(imageSize(img))
	}
	return writeLayout(ctx, dir, tag, artifact{
		Appendable: img,
		appendTo:   func(p layout.Path, o ...layout.Option) error { return p.AppendImage(ctxImage{img, ctx}, o...) },
		writeTo:    func(p layout.Path) error { return p.WriteImage(ctxImage{img, ctx}) },
	})
}

// artifact is an image or an index to put in a layout.
type artifact struct {
	mutate.Appendable
	appendTo func(layout.Path, ...layout.Option) error // blobs and an index.json entry
	writeTo  func(layout.Path) error                   // blobs only
}

// writeLayout puts a into the layout at dir (see [WriteOCILayout]).
func writeLayout(ctx context.Context, dir, tag string, a artifact) error {
	var ref string
	if tag != "" {
		t, err := NormalizeTag(tag)
		if err != nil {
			return fmt.Errorf("writing layout %q: %w", dir, err)
		}
		ref = t.String()
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = newLayout(ctx, dir, ref, a)
	case err != nil:
	case !fi.IsDir():
		err = errors.New("not a directory")
	case isLayout(dir):
		err = appendLayout(ctx, dir, ref, a)
	default:
		ents, rerr := os.ReadDir(dir)
		switch {
		case rerr != nil:
			err = rerr
		case len(ents) > 0:
			err = errors.New("exists and is not an OCI image layout")
		default:
			err = newLayout(ctx, dir, ref, a)
		}
	}
	if err != nil {
		return fmt.Errorf("writing layout %q: %w", dir, err)
	}
	return nil
}

// isLayout reports whether dir holds an OCI image layout.
func isLayout(dir string) bool {
	for _, f := range []string{"oci-layout", "index.json"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// newLayout stages a new layout next to dir and renames it into place. On
// error, the directories it made for dir's parent are removed too.
func newLayout(ctx context.Context, dir, ref string, a artifact) (err error) {
	parent := filepath.Dir(filepath.Clean(dir))
	made, err := mkdirAll(parent)
	defer func() {
		if err != nil {
			for _, d := range made {
				os.Remove(d) // only if empty: another process may use it now
			}
		}
	}()
	if err != nil {
		return err
	}
	tmp, release, err := mkdirTemp(dir)
	if err != nil {
		return err
	}
	defer release()
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return err
	}
	var opts []layout.Option
	if ref != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{RefNameAnnotation: ref}))
	}
	if err := a.appendTo(p, opts...); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// rename(2) replaces an empty directory, and fails on a non-empty one
	// (one filled meanwhile); os.Rename refuses any existing directory.
	if err := unix.Rename(tmp, dir); err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: dir, Err: err}
	}
	return nil
}

// mkdirAll is os.MkdirAll(dir, 0755), and returns the directories it made,
// deepest first.
func mkdirAll(dir string) (made []string, err error) {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		made = append(made, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return made, err // those it did make are removed all the same
	}
	return made, nil
}

// appendLayout adds a to the layout at dir.
func appendLayout(ctx context.Context, dir, ref string, a artifact) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		return err
	}
	if err := a.writeTo(p); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ii, err := p.ImageIndex()
	if err != nil {
		return err
	}
	desc, err := partial.Descriptor(a.Appendable)
	if err != nil {
		return err
	}
	if ref != "" {
		desc.Annotations = map[string]string{RefNameAnnotation: ref}
		ii = mutate.RemoveManifests(ii, match.Annotation(RefNameAnnotation, ref))
	}
	ii = mutate.AppendManifests(ii, mutate.IndexAddendum{Add: a.Appendable, Descriptor: *desc})
	im, err := ii.IndexManifest()
	if err != nil {
		return err
	}
	raw, err := json.MarshalIndent(im, "", "   ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "index.json"), raw)
}

// writeFileAtomic replaces the file path with data.
func writeFileAtomic(path string, data []byte) (err error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		// A device, a pipe or a socket (-o /dev/null, /dev/stdout, a
		// FIFO) is written to, never replaced: a rename over /dev/null
		// would make it a regular file for everyone.
		if fi.IsDir() {
			return &fs.PathError{Op: "write", Path: path, Err: syscall.EISDIR}
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return renameInto(path, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	}, nil, nil)
}

// renameInto writes path through a hidden temporary file in its directory
// (see createTemp): write fills it; it is made 0644, closed, checked by
// ready (if not nil) and renamed to path. It is not synced: the rename is
// what makes the output whole or absent, as for go build's outputs; an
// fsync made a trace's small list cost milliseconds. On error the
// temporary file is removed and path is untouched; the errors after the
// temporary file is made go through wrap (if not nil).
func renameInto(path string, write func(*os.File) error, ready func() error, wrap func(error) error) (err error) {
	f, release, err := createTemp(path)
	if err != nil {
		return err
	}
	defer release()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			if wrap != nil {
				err = wrap(err)
			}
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if ready != nil {
		if err := ready(); err != nil {
			return err
		}
	}
	return os.Rename(f.Name(), path)
}

// imageSize is the sum of img's layer sizes, as written: what a Progress
// grows by for writing img.
func imageSize(img v1.Image) int64 {
	var n int64
	ls, _ := img.Layers()
	for _, l := range ls {
		if s, err := l.Size(); err == nil {
			n += s
		}
	}
	return n
}

// ctxWriter fails once ctx is done, and counts what it writes to progress
// (if not nil).
type ctxWriter struct {
	ctx      context.Context
	w        io.Writer
	progress func(int64)
}

func (c ctxWriter) Write(p []byte) (int, error) { return ctxMove(c.ctx, c.progress, c.w.Write, p) }

// ctxReader fails once ctx is done, and counts what it reads to progress
// (if not nil).
type ctxReader struct {
	ctx      context.Context
	r        io.ReadCloser
	progress func(int64)
}

func (c ctxReader) Read(p []byte) (int, error) { return ctxMove(c.ctx, c.progress, c.r.Read, p) }

func (c ctxReader) Close() error { return c.r.Close() }

// ctxMove is one Read or Write (move) of p, unless ctx is done, counted to
// progress (if not nil).
func ctxMove(ctx context.Context, progress func(int64), move func([]byte) (int, error), p []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := move(p)
	if progress != nil {
		progress(int64(n))
	}
	return n, err
}

// ctxImage is an image whose layers' readers fail once ctx is done, for
// writers that take no context (layout).
type ctxImage struct {
	v1.Image
	ctx context.Context
}

// Layers implements v1.Image.
func (i ctxImage) Layers() ([]v1.Layer, error) {
	ls, err := i.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for j, l := range ls {
		out[j] = ctxLayer{l, i.ctx}
	}
	return out, nil
}

// LayerByDigest implements v1.Image.
func (i ctxImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := i.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return ctxLayer{l, i.ctx}, nil
}

// ctxLayer is a layer whose readers fail once ctx is done.
type ctxLayer struct {
	v1.Layer
	ctx context.Context
}

// Compressed implements v1.Layer: what is read of it counts to the
// context's Progress.
func (l ctxLayer) Compressed() (io.ReadCloser, error) {
	return l.open(l.Layer.Compressed, addFunc(l.ctx))
}

// Uncompressed implements v1.Layer.
func (l ctxLayer) Uncompressed() (io.ReadCloser, error) {
	return l.open(l.Layer.Uncompressed, nil)
}

// open is a reader of open's that fails once ctx is done, counted to
// progress (if not nil).
func (l ctxLayer) open(open func() (io.ReadCloser, error), progress func(int64)) (io.ReadCloser, error) {
	if err := l.ctx.Err(); err != nil {
		return nil, err
	}
	rc, err := open()
	if err != nil {
		return nil, err
	}
	return ctxReader{l.ctx, rc, progress}, nil
}

// WriteFileAtomic replaces the file path with data: a temporary file in the
// same directory, synced, then renamed over path. A path that is a device,
// a pipe or a socket (/dev/null, /dev/stdout, a FIFO) is written to
// instead; a directory is an error.
func WriteFileAtomic(path string, data []byte) error { return writeFileAtomic(path, data) }
