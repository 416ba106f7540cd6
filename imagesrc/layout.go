package imagesrc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// An OCI image layout is read here rather than by go-containerregistry's
// layout package, which trusts its blobs: every blob is checked against the
// digest and size that name it before any of its bytes is used. Manifests,
// indexes and configs when they are read (and they are at most maxJSON
// bytes, as index.json is); a layer, hashed whole, when it is first opened.
// index.json, which nothing names, is the root of trust.

// maxJSON bounds the JSON files of an image read from an archive or a
// layout (manifests, indexes, configs): real ones are a few kilobytes.
const maxJSON = 16 << 20

// BlobError is a blob of a layout that is not what its descriptor says.
type BlobError struct {
	Digest v1.Hash
	Reason string
}

func (e *BlobError) Error() string { return fmt.Sprintf("blob %s: %s", e.Digest, e.Reason) }

// layoutDir is an OCI image layout on disk.
type layoutDir string

// blobPath returns where the blob h is, for a digest of a known algorithm
// (v1.Hash has checked it is hex of the right length).
func (l layoutDir) blobPath(h v1.Hash) (string, error) {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 {
		return "", &BlobError{Digest: h, Reason: "not a sha256 digest"}
	}
	return filepath.Join(string(l), "blobs", h.Algorithm, h.Hex), nil
}

// readJSON reads the blob d names, at most maxJSON bytes, and checks its size
// and digest.
func (l layoutDir) readJSON(d v1.Descriptor) ([]byte, error) {
	if d.Size < 0 || d.Size > maxJSON {
		return nil, &BlobError{Digest: d.Digest, Reason: fmt.Sprintf("its descriptor says %d bytes, more than the %d a manifest or config may have", d.Size, maxJSON)}
	}
	p, err := l.blobPath(d.Digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, d.Size+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != d.Size {
		return nil, &BlobError{Digest: d.Digest, Reason: fmt.Sprintf("its descriptor says %d bytes, the file has more or fewer", d.Size)}
	}
	if h := sha256Hash(b); h != d.Digest {
		return nil, &BlobError{Digest: d.Digest, Reason: fmt.Sprintf("its bytes hash to %s", h)}
	}
	return b, nil
}

// openLayoutIndex reads the index.json of the layout at dir.
func openLayoutIndex(dir string) (v1.ImageIndex, error) {
	p := filepath.Join(dir, "index.json")
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tooBig := fmt.Errorf("%s: more than %d bytes, more than an index may have", p, maxJSON)
	if fi, err := f.Stat(); err == nil && fi.Size() > maxJSON {
		return nil, tooBig
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxJSON+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxJSON {
		return nil, tooBig
	}
	return newLayoutIndex(layoutDir(dir), raw, types.OCIImageIndex)
}

// layoutIndex is an index of a layout: its index.json or an index blob.
type layoutIndex struct {
	dir layoutDir
	raw []byte
	mt  types.MediaType
	im  *v1.IndexManifest
}

func newLayoutIndex(dir layoutDir, raw []byte, mt types.MediaType) (*layoutIndex, error) {
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("reading an index: %w", err)
	}
	if im.MediaType != "" {
		mt = im.MediaType
	}
	return &layoutIndex{dir: dir, raw: raw, mt: mt, im: im}, nil
}

func (x *layoutIndex) MediaType() (types.MediaType, error) { return x.mt, nil }
func (x *layoutIndex) Digest() (v1.Hash, error)            { return sha256Hash(x.raw), nil }
func (x *layoutIndex) Size() (int64, error)                { return int64(len(x.raw)), nil }
func (x *layoutIndex) RawManifest() ([]byte, error)        { return x.raw, nil }

func (x *layoutIndex) IndexManifest() (*v1.IndexManifest, error) {
	// A copy: callers may change it.
	return v1.ParseIndexManifest(bytes.NewReader(x.raw))
}

// child returns the descriptor of h in the index.
func (x *layoutIndex) child(h v1.Hash) (v1.Descriptor, error) {
	for _, d := range x.im.Manifests {
		if d.Digest == h {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("%w: %s is not in the index", ErrNotFound, h)
}

// childJSON returns the descriptor of h in the index and its JSON.
func (x *layoutIndex) childJSON(h v1.Hash) (v1.Descriptor, []byte, error) {
	d, err := x.child(h)
	if err != nil {
		return d, nil, err
	}
	raw, err := x.dir.readJSON(d)
	return d, raw, err
}

func (x *layoutIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, raw, err := x.childJSON(h)
	if err != nil {
		return nil, err
	}
	return newLayoutIndex(x.dir, raw, d.MediaType)
}

func (x *layoutIndex) Image(h v1.Hash) (v1.Image, error) {
	d, raw, err := x.childJSON(h)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", h, err)
	}
	cfg, err := x.dir.readJSON(m.Config)
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	mt := m.MediaType
	if mt == "" {
		mt = d.MediaType
	}
	img := &layoutImage{dir: x.dir, raw: raw, mt: mt, manifest: m, config: cfg, layers: map[v1.Hash]*layoutLayer{}}
	for _, l := range m.Layers {
		img.layers[l.Digest] = &layoutLayer{dir: x.dir, desc: l}
	}
	return partial.CompressedToImage(img)
}

// layoutImage is an image of a layout: a partial.CompressedImageCore whose
// manifest and config are checked already.
type layoutImage struct {
	dir         layoutDir
	raw, config []byte
	mt          types.MediaType
	manifest    *v1.Manifest
	layers      map[v1.Hash]*layoutLayer
}

func (i *layoutImage) RawConfigFile() ([]byte, error)      { return i.config, nil }
func (i *layoutImage) MediaType() (types.MediaType, error) { return i.mt, nil }
func (i *layoutImage) RawManifest() ([]byte, error)        { return i.raw, nil }

func (i *layoutImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := i.layers[h]; ok {
		return l, nil
	}
	if h == i.manifest.Config.Digest {
		return partial.ConfigLayer(i)
	}
	return nil, fmt.Errorf("no layer %s in the manifest", h)
}

// layoutLayer is a layer blob, hashed whole the first time it is opened.
type layoutLayer struct {
	dir  layoutDir
	desc v1.Descriptor

	once sync.Once
	err  error
}

func (l *layoutLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *layoutLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *layoutLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

// Compressed returns the blob's bytes once they are known to be the
// descriptor's.
func (l *layoutLayer) Compressed() (io.ReadCloser, error) {
	p, err := l.dir.blobPath(l.desc.Digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && len(l.desc.URLs) > 0 {
			return nil, fmt.Errorf("layer %s is not in the layout (a foreign layer, at %s)", l.desc.Digest, l.desc.URLs[0])
		}
		return nil, err
	}
	l.once.Do(func() { l.err = l.check(f) })
	if l.err != nil {
		f.Close()
		return nil, l.err
	}
	return f, nil
}

// check hashes the blob f, and leaves f at its start.
func (l *layoutLayer) check(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != l.desc.Size {
		return &BlobError{Digest: l.desc.Digest, Reason: fmt.Sprintf("%d bytes, its descriptor says %d", fi.Size(), l.desc.Size)}
	}
	h, _, err := v1.SHA256(f)
	if err != nil {
		return fmt.Errorf("reading layer %s: %w", l.desc.Digest, err)
	}
	if h != l.desc.Digest {
		return &BlobError{Digest: l.desc.Digest, Reason: fmt.Sprintf("its bytes hash to %s", h)}
	}
	_, err = f.Seek(0, io.SeekStart)
	return err
}
