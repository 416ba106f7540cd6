package squash

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/fromscratch/fromscratch/imagefs"
)

// DefaultLevel is the gzip level of the squashed layer when Options.Level
// is 0.
const DefaultLevel = 6

// Options tune [Squash].
type Options struct {
	// From is how many layers, from the bottom, are kept as they are; the
	// layers above are squashed into one. 0 squashes them all.
	From int
	// Level is the gzip level of the new layer, 1 to 9; 0 is DefaultLevel.
	Level int
	// TempDir holds the new layer's unlinked temporary file ("" is
	// os.TempDir()).
	TempDir string
	// Jobs is how many layers are decompressed at once when merging.
	Jobs int
	// Name describes the image in messages.
	Name string
	// CreatedBy is the history's created_by of the new layer; "" gives
	// "fromscratch squash".
	CreatedBy string
}

// Result describes a squash.
type Result struct {
	LayersBefore, LayersAfter int
	// Squashed is the new layer; it also implements io.Closer (Close
	// releases its temporary file).
	Squashed v1.Layer
}

// Squash returns img with its layers above opts.From merged into one.
// The configuration (entrypoint, cmd, env, user, working directory,
// labels, ...) is kept; the history keeps the entries of the kept layers
// (and the empty-layer entries among them) and gets one entry for the new
// layer. Manifest and layer media types follow img's (Docker or OCI). When
// there is nothing above From, the image is returned as it is.
func Squash(ctx context.Context, img v1.Image, opts Options) (v1.Image, *Result, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, nil, fmt.Errorf("reading layers: %w", err)
	}
	if opts.From < 0 || opts.From > len(layers) {
		return nil, nil, fmt.Errorf("--from %d: the image has %d layers", opts.From, len(layers))
	}
	res := &Result{LayersBefore: len(layers), LayersAfter: len(layers)}
	if opts.From == len(layers) {
		return img, res, nil
	}
	level := opts.Level
	if level == 0 {
		level = DefaultLevel
	}
	view, err := imagefs.Open(ctx, img, imagefs.Options{TempDir: opts.TempDir, Jobs: opts.Jobs, SnapshotAfter: opts.From, Name: opts.Name, NoContent: true})
	if err != nil {
		return nil, nil, err
	}
	defer view.Close()

	mt, err := img.MediaType()
	if err != nil {
		return nil, nil, err
	}
	layerType := types.DockerLayer
	if mt == types.OCIManifestSchema1 {
		layerType = types.OCILayer
	}
	l, err := writeLayer(ctx, opts.TempDir, level, layerType, func(tw *tar.Writer) error {
		return view.WriteSquashed(ctx, tw, layers, opts.From)
	})
	if err != nil {
		return nil, nil, err
	}
	out, err := assemble(img, mt, layers[:opts.From], l, opts)
	if err != nil {
		l.Close()
		return nil, nil, err
	}
	res.LayersAfter = opts.From + 1
	res.Squashed = l
	return out, res, nil
}

// assemble builds the new image: the kept layers, then l.
func assemble(img v1.Image, mt types.MediaType, kept []v1.Layer, l v1.Layer, opts Options) (v1.Image, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cfg = cfg.DeepCopy()
	// History: the entries up to the last kept layer's, then the new one.
	var hist []v1.History
	seen := 0
	for _, h := range cfg.History {
		if seen == len(kept) {
			break
		}
		hist = append(hist, h)
		if !h.EmptyLayer {
			seen++
		}
	}
	createdBy := opts.CreatedBy
	if createdBy == "" {
		createdBy = "fromscratch squash"
	}
	hist = append(hist, v1.History{Created: cfg.Created, CreatedBy: createdBy,
		Comment: fmt.Sprintf("layers %d to %d of the original image squashed into one", len(kept), len(cfg.RootFS.DiffIDs)-1)})
	cfg.History = hist
	diffID, err := l.DiffID()
	if err != nil {
		return nil, err
	}
	cfg.RootFS.DiffIDs = append(slices.Clone(cfg.RootFS.DiffIDs[:len(kept)]), diffID)

	base := mutate.MediaType(empty.Image, mt)
	if mt == types.OCIManifestSchema1 {
		base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	}
	adds := make([]mutate.Addendum, 0, len(kept)+1)
	for _, k := range kept {
		kmt, err := k.MediaType()
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: k, MediaType: kmt})
	}
	lmt, _ := l.MediaType()
	adds = append(adds, mutate.Addendum{Layer: l, MediaType: lmt})
	out, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, err
	}
	out, err = mutate.ConfigFile(out, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := out.Digest(); err != nil {
		return nil, err
	}
	return out, nil
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

// writeLayer runs fill on a tar writer whose bytes are hashed (diff ID),
// gzipped, hashed again (digest) and written to an unlinked temporary file.
func writeLayer(ctx context.Context, dir string, level int, mt types.MediaType, fill func(*tar.Writer) error) (*fileLayer, error) {
	f, err := os.CreateTemp(dir, "fromscratch-squash-*.tar.gz")
	if err != nil {
		return nil, fmt.Errorf("creating layer file: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("creating layer file: %w", err)
	}
	fail := func(err error) (*fileLayer, error) {
		f.Close()
		return nil, err
	}
	compressed := &hashWriter{h: sha256.New()}
	bw := bufio.NewWriterSize(io.MultiWriter(f, compressed), 1<<20)
	gz, err := gzip.NewWriterLevel(bw, level)
	if err != nil {
		return fail(err)
	}
	uncompressed := &hashWriter{h: sha256.New()}
	tw := tar.NewWriter(io.MultiWriter(uncompressed, gz))
	if err := fill(tw); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := tw.Close(); err != nil {
		return fail(fmt.Errorf("writing layer: %w", err))
	}
	if err := gz.Close(); err != nil {
		return fail(fmt.Errorf("writing layer: %w", err))
	}
	if err := bw.Flush(); err != nil {
		return fail(fmt.Errorf("writing layer file: %w", err))
	}
	return &fileLayer{f: f, mt: mt, digest: compressed.sum(), diffID: uncompressed.sum(), size: compressed.n, usize: uncompressed.n}, nil
}

// fileLayer is a layer held in an unlinked temporary file.
type fileLayer struct {
	f              *os.File
	mt             types.MediaType
	digest, diffID v1.Hash
	size, usize    int64
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

// UncompressedSize is the size of the layer's tar.
func (l *fileLayer) UncompressedSize() (int64, error) { return l.usize, nil }

// MediaType implements v1.Layer.
func (l *fileLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

// Compressed implements v1.Layer.
func (l *fileLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(io.NewSectionReader(l.f, 0, l.size)), nil
}

// Uncompressed implements v1.Layer.
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	zr, err := gzip.NewReader(bufio.NewReaderSize(io.NewSectionReader(l.f, 0, l.size), 128<<10))
	if err != nil {
		return nil, fmt.Errorf("reading layer %s: %w", l.digest, err)
	}
	return zr, nil
}

// Close releases the layer's temporary file.
func (l *fileLayer) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.f.Close() })
	return l.closeErr
}
