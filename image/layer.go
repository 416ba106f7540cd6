package image

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/fromscratch/fromscratch/rootfs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/pgzip"
)

// chunk is the size of the copy buffers and of the buffered writer in front
// of the temporary file.
const chunk = 128 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, chunk); return &b }}

// Layer writes one layer, as [LayerContext] with a context that is never
// cancelled.
func Layer(fsys rootfs.FS, spec LayerSpec, opts Options) (v1.Layer, error) {
	return LayerContext(context.Background(), fsys, spec, opts)
}

// LayerContext writes one gzip layer (media type types.DockerLayer, or
// types.OCILayer with opts.OCIMediaTypes), or a plain tar one with
// opts.Uncompressed, with the entries of spec, and returns it backed by an
// unlinked temporary file in opts.TempDir.
//
// The tar is in PAX format (Go's archive/tar, tar.FormatPAX): entries are
// sorted by path and every parent directory is written before its children
// (mode 0755, owned by 0:0, unless an entry gives it); names have no leading
// "/" ("usr/lib/..."), directories end in "/"; every mtime is
// opts.Created; symbolic links have mode 0777; there are no atimes, ctimes,
// user or group names, or extended attributes. PAX records appear only for
// what USTAR cannot hold (names over 100 bytes or not ASCII, large owners). A hard link is stored as the file under the first of
// its names in that order and as links under the others.
//
// Regular files with a Source are opened in their SourceFS or else in fsys
// (which may be nil when every entry with a Source has a SourceFS) and streamed in 128 KiB chunks; a file whose size changes
// while it is copied is an error ([ErrSourceChanged]). Duplicate paths are
// an error ([ErrDuplicatePath]), as is any entry that cannot be written as
// given ([ErrInvalidEntry]). Errors name the entry's path.
//
// The layer's digest, diffID and sizes are known on return; Compressed
// reads the temporary file back (concurrent readers are fine) and
// Uncompressed gunzips it. The returned layer also implements io.Closer:
// Close releases the file (it is also released when the layer is garbage
// collected). ctx is checked between entries and between chunks.
func LayerContext(ctx context.Context, fsys rootfs.FS, spec LayerSpec, opts Options) (v1.Layer, error) {
	fill, done, err := specFill(ctx, fsys, spec, opts)
	if err != nil {
		return nil, err
	}
	defer done()
	return StreamLayer(ctx, opts, fill)
}

// specFill plans spec and returns the function that writes its entries;
// done releases its buffer once the layer is written.
func specFill(ctx context.Context, fsys rootfs.FS, spec LayerSpec, opts Options) (fill func(*tar.Writer) error, done func(), err error) {
	items, err := plan(spec.Entries)
	if err != nil {
		return nil, nil, err
	}
	bufp := bufPool.Get().(*[]byte)
	mtime := opts.created()
	progress := addFunc(ctx) // the caller, who knows the total, Grows it
	return func(tw *tar.Writer) error {
		for _, it := range items {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := writeItem(ctx, tw, fsys, it, mtime, *bufp, progress); err != nil {
				return err
			}
		}
		return nil
	}, func() { bufPool.Put(bufp) }, nil
}

// StreamLayer makes a layer of the tar that fill writes: its bytes are
// hashed (diffID), gzipped with opts' level in fixed blocks (unless
// opts.Uncompressed), hashed again (digest) and written to an unlinked temporary file in opts.TempDir, read
// once. The layer is as [LayerContext]'s: digest, diffID and sizes known on
// return, io.Closer to release the file. fill must write entries only: the
// tar is closed after it.
func StreamLayer(ctx context.Context, opts Options, fill func(*tar.Writer) error) (v1.Layer, error) {
	return streamRaw(ctx, opts, tarOf(ctx, fill))
}

// tarOf returns a writer of the tar whose entries fill writes.
func tarOf(ctx context.Context, fill func(*tar.Writer) error) func(io.Writer) error {
	return func(w io.Writer) error {
		tw := tar.NewWriter(w)
		if err := fill(tw); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := tw.Close(); err != nil {
			return fmt.Errorf("writing layer: %w", err)
		}
		return nil
	}
}

// Recompress returns l gzipped as opts says when it is a plain tar layer
// (an uncompressed media type) and opts do not ask for plain layers;
// otherwise l itself. The diffID is checked against l's. For outputs that
// travel (layouts, pushes) made of layers read from a `docker save` archive.
func Recompress(ctx context.Context, l v1.Layer, opts Options) (v1.Layer, error) {
	mt, err := l.MediaType()
	if err != nil {
		return nil, err
	}
	if opts.Uncompressed || (mt != types.DockerUncompressedLayer && mt != types.OCIUncompressedLayer) {
		return l, nil
	}
	want, err := l.DiffID()
	if err != nil {
		return nil, err
	}
	nl, err := streamRaw(ctx, opts, func(w io.Writer) error {
		rc, err := l.Uncompressed()
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.Copy(w, ctxReader{ctx, rc, nil})
		return err
	})
	if err != nil {
		return nil, err
	}
	if got, _ := nl.DiffID(); got != want {
		nl.(io.Closer).Close()
		return nil, fmt.Errorf("layer %s: its bytes hash to %s", want, got)
	}
	return nl, nil
}

// streamRaw makes a layer of the tar bytes that write writes (see
// StreamLayer).
func streamRaw(ctx context.Context, opts Options, write func(io.Writer) error) (v1.Layer, error) {
	level := 0
	if !opts.Uncompressed {
		var err error
		if level, err = opts.level(); err != nil {
			return nil, err
		}
	}
	f, err := os.CreateTemp(opts.TempDir, "fromscratch-layer-*.tar.gz")
	if err != nil {
		return nil, fmt.Errorf("creating layer file: %w", err)
	}
	// Unlinked at once: the open file is all that is needed, and nothing is
	// left behind on error, interrupt or crash.
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("creating layer file: %w", err)
	}
	l, err := writeLayer(ctx, f, opts, level, write)
	if err != nil {
		f.Close()
		return nil, err
	}
	l.f = f
	return l, nil
}

// hashWriter hashes and counts what is written to it.
type hashWriter struct {
	h hash.Hash
	n int64
}

func (w *hashWriter) Write(p []byte) (int, error) {
	w.h.Write(p)
	w.n += int64(len(p))
	return len(p), nil
}

func (w *hashWriter) sum() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(w.h.Sum(nil))}
}

// asyncHash is a SHA-256 computed on another goroutine, so that hashing a
// plain layer overlaps reading the files and writing the layer (it is a
// third of the work). Write copies p into a free buffer and returns.
type asyncHash struct {
	full, free chan []byte
	done       chan struct{}
	h          hash.Hash
	n          int64
	stopped    bool
}

func newAsyncHash() *asyncHash {
	const buffers = 8
	a := &asyncHash{full: make(chan []byte, buffers), free: make(chan []byte, buffers), done: make(chan struct{}), h: sha256.New()}
	for range buffers {
		a.free <- make([]byte, 0, chunk)
	}
	go func() {
		defer close(a.done)
		for b := range a.full {
			a.h.Write(b)
			a.free <- b[:0]
		}
	}()
	return a
}

func (a *asyncHash) Write(p []byte) (int, error) {
	for rest := p; len(rest) > 0; {
		b := <-a.free
		n := min(len(rest), cap(b))
		a.full <- append(b, rest[:n]...)
		rest = rest[n:]
	}
	a.n += int64(len(p))
	return len(p), nil
}

// sum waits for the hash of everything written and returns it with the
// byte count; nothing may be written after.
func (a *asyncHash) sum() (v1.Hash, int64) {
	a.stop()
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(a.h.Sum(nil))}, a.n
}

// stop ends the hashing goroutine; it can be called more than once.
func (a *asyncHash) stop() {
	if !a.stopped {
		a.stopped = true
		close(a.full)
		<-a.done
	}
}

// gzipBlock is the size of the blocks compressed in parallel. It changes the
// compressed bytes, so the digests: keep it fixed.
const gzipBlock = 1 << 20

// writeLayer writes the layer to f: write's tar -> (diffID hash, gzip) ->
// bufio -> (digest hash, f), or without gzip tar -> bufio -> (f, one hash).
//
// The layer returned has no file yet: the caller sets where its bytes are.
func writeLayer(ctx context.Context, f io.Writer, opts Options, level int, write func(io.Writer) error) (*fileLayer, error) {
	_, _, mt := opts.mediaTypes()
	if opts.Uncompressed {
		// The hash runs on another core: digest and diffID are the same.
		ah := newAsyncHash()
		defer ah.stop()
		bw := bufio.NewWriterSize(io.MultiWriter(f, ah), chunk)
		if err := write(bw); err != nil {
			return nil, err
		}
		if err := bw.Flush(); err != nil {
			return nil, fmt.Errorf("writing layer file: %w", err)
		}
		sum, n := ah.sum()
		return &fileLayer{mt: mt, digest: sum, diffID: sum, size: n, usize: n, plain: true}, nil
	}
	compressed := &hashWriter{h: sha256.New()}
	bw := bufio.NewWriterSize(io.MultiWriter(f, compressed), chunk)
	// pgzip compresses 1 MiB blocks on every core; its output depends on
	// the block size and level only, never on the scheduling.
	gz, err := pgzip.NewWriterLevel(bw, level)
	if err != nil {
		return nil, err
	}
	if err := gz.SetConcurrency(gzipBlock, max(2, runtime.GOMAXPROCS(0))); err != nil {
		return nil, err
	}
	uncompressed := &hashWriter{h: sha256.New()}
	if err := write(io.MultiWriter(uncompressed, gz)); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("writing layer: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("writing layer file: %w", err)
	}
	return &fileLayer{
		mt:     mt,
		digest: compressed.sum(),
		diffID: uncompressed.sum(),
		size:   compressed.n,
		usize:  uncompressed.n,
	}, nil
}

// writeItem writes one header and its content.
func writeItem(ctx context.Context, tw *tar.Writer, fsys rootfs.FS, it planned, mtime time.Time, buf []byte, progress func(int64)) error {
	e := it.e
	hdr := &tar.Header{
		Typeflag: e.Type,
		Name:     strings.TrimPrefix(it.path, "/"),
		Mode:     rootfs.UnixPerm(e.Mode),
		Uid:      e.UID,
		Gid:      e.GID,
		ModTime:  mtime,
		Format:   tar.FormatPAX,
	}
	var src rootfs.File
	switch {
	case it.link != "":
		hdr.Typeflag = tar.TypeLink
		hdr.Linkname = strings.TrimPrefix(it.link, "/")
	case e.Type == tar.TypeDir:
		hdr.Name += "/"
	case e.Type == tar.TypeSymlink:
		hdr.Linkname = e.Linkname
		hdr.Mode = 0o777 // as Linux reports every symbolic link
	case e.Type == tar.TypeReg && e.Source != "":
		if e.SourceFS != nil {
			fsys = e.SourceFS
		}
		if fsys == nil {
			return fmt.Errorf("layer entry %q: source %q: no source filesystem", it.path, e.Source)
		}
		f, err := fsys.Open(e.Source)
		if err != nil {
			return fmt.Errorf("layer entry %q: opening %q in %s: %w", it.path, e.Source, fsys, err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("layer entry %q: reading %q: %w", it.path, e.Source, err)
		}
		if !fi.Mode().IsRegular() {
			return invalid(it.path, "source %q is not a regular file", e.Source)
		}
		hdr.Size = fi.Size()
		src = f
	case e.Type == tar.TypeReg:
		hdr.Size = int64(len(e.Data))
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("layer entry %q: writing header: %w", it.path, err)
	}
	if src != nil {
		if err := copyFile(ctx, tw, src, hdr.Size, buf, progress); err != nil {
			return fmt.Errorf("layer entry %q: copying %q: %w", it.path, e.Source, err)
		}
	} else if len(e.Data) > 0 && it.link == "" {
		if _, err := tw.Write(e.Data); err != nil {
			return fmt.Errorf("layer entry %q: writing: %w", it.path, err)
		}
	}
	return nil
}

// copyFile copies exactly size bytes of src to w and checks that src ends
// there, telling progress (if not nil) as it goes.
func copyFile(ctx context.Context, w io.Writer, src io.Reader, size int64, buf []byte, progress func(int64)) error {
	for size > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := src.Read(buf[:min(int64(len(buf)), size)])
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			size -= int64(n)
			if progress != nil {
				progress(int64(n))
			}
		}
		if errors.Is(err, io.EOF) {
			if size > 0 {
				return fmt.Errorf("%w (%d bytes short)", ErrSourceChanged, size)
			}
			break
		}
		if err != nil {
			return err
		}
	}
	n, err := src.Read(buf[:1])
	if n > 0 {
		return fmt.Errorf("%w (grew)", ErrSourceChanged)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// fileLayer is a layer held in an unlinked temporary file.
type fileLayer struct {
	f              *os.File
	mt             types.MediaType
	digest, diffID v1.Hash
	size, usize    int64
	plain          bool  // not compressed: Compressed and Uncompressed are the same bytes
	off            int64 // where the bytes start in f
	shared         bool  // f is not the layer's own (an ArchiveWriter's): Close leaves it open
	closeOnce      sync.Once
	closeErr       error
}

// fileLayer implements v1.Layer and io.Closer.
var (
	_ v1.Layer  = (*fileLayer)(nil)
	_ io.Closer = (*fileLayer)(nil)
)

// Digest implements v1.Layer.
func (l *fileLayer) Digest() (v1.Hash, error) { return l.digest, nil }

// DiffID implements v1.Layer.
func (l *fileLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Size implements v1.Layer.
func (l *fileLayer) Size() (int64, error) { return l.size, nil }

// UncompressedSize is the size of the layer's tar, for partial.UncompressedSize.
func (l *fileLayer) UncompressedSize() (int64, error) { return l.usize, nil }

// MediaType implements v1.Layer.
func (l *fileLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

// Compressed implements v1.Layer.
func (l *fileLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(io.NewSectionReader(l.f, l.off, l.size)), nil
}

// Uncompressed implements v1.Layer.
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	if l.plain {
		return io.NopCloser(io.NewSectionReader(l.f, l.off, l.size)), nil
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(io.NewSectionReader(l.f, l.off, l.size), chunk))
	if err != nil {
		return nil, fmt.Errorf("reading layer %s: %w", l.digest, err)
	}
	return zr, nil
}

// Close releases the layer's temporary file; the layer cannot be read after.
func (l *fileLayer) Close() error {
	if l.shared {
		return nil
	}
	l.closeOnce.Do(func() { l.closeErr = l.f.Close() })
	return l.closeErr
}
