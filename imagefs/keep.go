package imagefs

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/rootfs"
)

// Owner returns the owner of the path name (not following a final symbolic
// link), and false when the view has no such path.
func (t *FS) Owner(name string) (uid, gid int, ok bool) {
	n := t.lookup(rootfs.Clean(name))
	if n == nil {
		return 0, 0, false
	}
	return n.uid, n.gid, true
}

// KeepContents makes the whole contents of the regular files at paths
// (followed inside the root) readable through [FS.Open], as if the view
// kept them from the start: layers, the image's layers the view was opened
// from, are read once more, each streamed, from the lowest layer carrying
// a needed content up to the last such entry, and the contents are copied
// into the view's temporary directory. Contents already kept are not read
// again. It must not run concurrently with other methods of t.
func (t *FS) KeepContents(ctx context.Context, layers []v1.Layer, paths []string) error {
	type at struct{ layer, pos int }
	where := map[at][]*content{}
	last := map[int]int{} // the last position needed in each layer
	for _, p := range paths {
		real, err := rootfs.Realpath(t, p)
		if err != nil {
			return fmt.Errorf("keeping %q: %w", p, err)
		}
		n := t.lookup(real)
		if n == nil || n.typ != tar.TypeReg {
			return fmt.Errorf("keeping %q: not a regular file", p)
		}
		c := n.data
		if c.file != "" && c.avail == nil || c.size == 0 {
			continue // kept whole already
		}
		if c.layer < 0 || c.layer >= len(layers) {
			return fmt.Errorf("keeping %q: layer %d of %d", p, c.layer, len(layers))
		}
		k := at{c.layer, c.pos}
		if len(where[k]) == 0 {
			where[k] = append(where[k], c)
		}
		if l, ok := last[c.layer]; !ok || c.pos > l {
			last[c.layer] = c.pos
		}
	}
	buffered := func(r io.Reader) (io.Reader, func()) { return bufio.NewReaderSize(r, 1<<20), func() {} }
	for i := range layers {
		end, ok := last[i]
		if !ok {
			continue
		}
		err := rereadLayer(ctx, layers, i, end, buffered, func(pos int, hdr *tar.Header, tr *tar.Reader, lerr func(string, error) error) error {
			for _, c := range where[at{i, pos}] {
				if hdr.Size != c.size {
					return lerr(hdr.Name, fmt.Errorf("%w: the layer changed between two reads", ErrCorrupt))
				}
				file, err := t.keepStream(tr, c.size)
				if err != nil {
					return lerr(hdr.Name, err)
				}
				c.file, c.avail = file, nil
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// rereadLayer reads layer i of layers once more, through wrap (a buffer;
// its func is called once the layer is read), from its first entry to
// entry end, and calls each with every entry's position, header and
// content, and lerr, which makes an error about the layer. Any error is a
// *LayerError; a layer that ends before entry end is ErrCorrupt.
func rereadLayer(ctx context.Context, layers []v1.Layer, i, end int, wrap func(io.Reader) (io.Reader, func()),
	each func(pos int, hdr *tar.Header, tr *tar.Reader, lerr func(entry string, err error) error) error) error {
	digest, _ := layers[i].DiffID()
	lerr := func(entry string, err error) error {
		return &LayerError{Layer: i, Digest: digest.String(), Entry: entry, Err: err}
	}
	rc, err := layers[i].Uncompressed()
	if err != nil {
		return lerr("", fmt.Errorf("%w: %w", ErrCorrupt, err))
	}
	defer rc.Close()
	r, done := wrap(rc)
	defer done()
	stop := errors.New("done")
	err = WalkTar(r, func(pos int, hdr *tar.Header, tr *tar.Reader) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := each(pos, hdr, tr, lerr); err != nil {
			return err
		}
		if pos >= end {
			return stop
		}
		return nil
	})
	var le *LayerError
	switch {
	case err == nil:
		return lerr("", fmt.Errorf("%w: the layer ended before entry %d", ErrCorrupt, end))
	case errors.Is(err, stop):
		return nil
	case errors.As(err, &le):
		return err
	}
	return lerr("", err)
}

// keepStream copies size bytes of r into the temporary directory, named by
// their hash, and returns the file's path.
func (t *FS) keepStream(r io.Reader, size int64) (string, error) {
	f, err := os.CreateTemp(t.tmp, ".partial-*")
	if err != nil {
		return "", keepErr(err)
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	h := sha256.New()
	w := bufio.NewWriterSize(writerOnly{f}, 64<<10)
	// Reads and writes are told apart: a full disk is no corrupt layer.
	if n, err := io.Copy(io.MultiWriter(w, h), readerOnly{io.LimitReader(r, size)}); err != nil || n != size {
		var we *writeError
		switch {
		case errors.As(err, &we):
			return "", keepErr(we.err)
		case err == nil:
			err = io.ErrUnexpectedEOF
		}
		return "", fmt.Errorf("%w: reading content: %w", ErrCorrupt, unexpected(err))
	}
	if err := w.Flush(); err != nil {
		return "", keepErr(unwrapWrite(err))
	}
	if err := f.Close(); err != nil {
		return "", keepErr(err)
	}
	dst := filepath.Join(t.tmp, hex.EncodeToString(h.Sum(nil)))
	if err := os.Rename(f.Name(), dst); err != nil {
		return "", keepErr(err)
	}
	return dst, nil
}

// writeError marks an error of the temporary file, as opposed to one of
// the layer's stream.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

func unwrapWrite(err error) error {
	var we *writeError
	if errors.As(err, &we) {
		return we.err
	}
	return err
}

// writerOnly hides a file's ReadFrom (so io.Copy goes through Write) and
// marks its errors.
type writerOnly struct{ f *os.File }

func (w writerOnly) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

// readerOnly hides a reader's WriteTo.
type readerOnly struct{ r io.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }
