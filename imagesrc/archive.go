package imagesrc

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// A `docker load` archive may hold its layers as plain tar, as docker save
// and `fromscratch build -o` write them. go-containerregistry's tarball
// package offers such layers gzipped: their digests and sizes are those of a
// gzip it computes on demand, so reading an image's manifest compresses
// every layer. plainArchive reads those archives as they are instead: a
// plain layer has media type types.DockerUncompressedLayer and its diffID
// as digest, a gzip (or zstd) one its own bytes' digest. Archives whose
// layers are all compressed are left to the tarball package.

// archiveEntry is where a regular file's bytes are in the archive.
type archiveEntry struct{ off, size int64 }

// openPlainArchive returns the image of the archive at path (the one tagged
// tag, or its only one) when it has a plain tar layer; ok is false when all
// its layers are compressed, or when it is not laid out as expected (the
// tarball package then reads it, and reports what is wrong).
func openPlainArchive(path string, tag *name.Tag) (img v1.Image, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	return readPlainArchive(f, path, nil, tag)
}

// readPlainArchive is openPlainArchive of the archive open as f. The
// layers read path again, or keep reading f when keep is set (a file
// already removed: f stays open while the image is in use).
func readPlainArchive(f *os.File, path string, keep io.ReaderAt, tag *name.Tag) (img v1.Image, ok bool, err error) {
	entries := map[string]archiveEntry{}
	links := map[string]string{} // a layer stored as a link to another's file, as docker save stores a layer twice
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false, nil
		}
		if hdr.Typeflag == tar.TypeSymlink {
			links[hdr.Name] = linkTarget(hdr.Name, hdr.Linkname)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if sparse(hdr) {
			return nil, false, nil // stored bytes are not the file's: not read in place
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, false, nil
		}
		entries[hdr.Name] = archiveEntry{off: off, size: hdr.Size}
	}
	for name, target := range links {
		if e, ok := entries[target]; ok {
			entries[name] = e
		}
	}
	read := func(name string, limit int64) ([]byte, error) {
		e, found := entries[name]
		if !found {
			return nil, fmt.Errorf("%s: no such file in the archive", name)
		}
		if e.size > limit {
			return nil, tooBig(name, e.size)
		}
		b := make([]byte, e.size)
		_, err := f.ReadAt(b, e.off)
		return b, err
	}
	raw, err := read("manifest.json", maxJSON)
	var big *sizeError
	if errors.As(err, &big) {
		return nil, true, err // not for the tarball package, which reads it whole
	}
	if err != nil {
		return nil, false, nil
	}
	var m tarball.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, false, nil
	}
	d, err := findDescriptor(m, tag)
	if err != nil || len(d.LayerSources) > 0 {
		return nil, false, nil // the tarball package says what is wrong, or knows foreign layers
	}
	if e, found := entries[d.Config]; found && e.size > maxJSON {
		return nil, true, tooBig(d.Config, e.size)
	}
	plain := false
	layers := make([]*archiveLayer, len(d.Layers))
	for i, l := range d.Layers {
		e, found := entries[l]
		if !found {
			return nil, false, nil
		}
		head := make([]byte, 4)
		n, _ := f.ReadAt(head, e.off)
		layers[i] = &archiveLayer{path: path, file: keep, entry: e}
		switch head = head[:n]; {
		case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
			layers[i].mt = types.DockerLayer
		case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
			layers[i].mt = types.OCILayerZStd
		default:
			layers[i].mt, layers[i].plain, plain = types.DockerUncompressedLayer, true, true
		}
	}
	if !plain {
		return nil, false, nil
	}
	cfgRaw, err := read(d.Config, maxJSON)
	if err != nil {
		return nil, true, fmt.Errorf("reading the config: %w", err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
	if err != nil {
		return nil, true, fmt.Errorf("reading the config %s: %w", d.Config, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(layers) {
		return nil, true, fmt.Errorf("the config has %d diff_ids for %d layers", len(cfg.RootFS.DiffIDs), len(layers))
	}
	for i, l := range layers {
		l.diffID = cfg.RootFS.DiffIDs[i]
		if l.plain {
			// The digest of a plain layer is its diffID: check the bytes
			// now, as a writer may store them under that name before it
			// reads to the end (an OCI layout's blobs/sha256/HEX).
			rc, err := l.Compressed()
			if err != nil {
				return nil, true, err
			}
			h, _, err := v1.SHA256(rc)
			rc.Close()
			if err != nil {
				return nil, true, fmt.Errorf("reading layer %s: %w", d.Layers[i], err)
			}
			if h != l.diffID {
				return nil, true, fmt.Errorf("layer %s: its bytes hash to %s, the config says %s", d.Layers[i], h, l.diffID)
			}
		}
	}
	img, err = plainImage(cfgRaw, layers)
	return img, true, err
}

// plainImage is the image of the config cfgRaw and its layers, bottom
// first, their diffIDs set (and checked, for plain ones).
func plainImage(cfgRaw []byte, layers []*archiveLayer) (v1.Image, error) {
	a := &plainArchive{config: cfgRaw, layers: map[v1.Hash]*archiveLayer{}}
	man := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config:        v1.Descriptor{MediaType: types.DockerConfigJSON, Size: int64(len(cfgRaw)), Digest: sha256Hash(cfgRaw)},
	}
	for _, l := range layers {
		digest, err := l.Digest()
		if err != nil {
			return nil, err
		}
		man.Layers = append(man.Layers, v1.Descriptor{MediaType: l.mt, Size: l.entry.size, Digest: digest})
		a.layers[digest] = l
	}
	var err error
	if a.manifest, err = json.Marshal(man); err != nil {
		return nil, err
	}
	return partial.CompressedToImage(a)
}

// linkTarget is the name in the archive that the symbolic link name (to
// link) names: "b/layer.tar" for "a/layer.tar" -> "../b/layer.tar".
func linkTarget(name, link string) string {
	if path.IsAbs(link) {
		return ""
	}
	return path.Join(path.Dir(name), link)
}

// sparse reports whether hdr is of a PAX sparse file, whose stored bytes
// are not the file's.
func sparse(hdr *tar.Header) bool {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// sizeError is a JSON file of an archive over maxJSON bytes.
type sizeError struct {
	name string
	size int64
}

func tooBig(name string, size int64) error { return &sizeError{name, size} }

func (e *sizeError) Error() string {
	return fmt.Sprintf("%s: %d bytes, more than the %d a manifest or config may have", e.name, e.size, maxJSON)
}

// findDescriptor picks the image tagged tag, or the only one.
func findDescriptor(m tarball.Manifest, tag *name.Tag) (*tarball.Descriptor, error) {
	if tag == nil {
		if len(m) != 1 {
			return nil, errors.New("several images")
		}
		return &m[0], nil
	}
	for i := range m {
		for _, t := range m[i].RepoTags {
			if nt, err := name.NewTag(t); err == nil && nt.String() == tag.String() {
				return &m[i], nil
			}
		}
	}
	return nil, ErrNotFound
}

func sha256Hash(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// plainArchive is a partial.CompressedImageCore.
type plainArchive struct {
	config, manifest []byte
	layers           map[v1.Hash]*archiveLayer
}

func (a *plainArchive) RawConfigFile() ([]byte, error)      { return a.config, nil }
func (a *plainArchive) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }
func (a *plainArchive) RawManifest() ([]byte, error)        { return a.manifest, nil }

func (a *plainArchive) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := a.layers[h]; ok {
		return l, nil
	}
	if h == sha256Hash(a.config) {
		return partial.ConfigLayer(a)
	}
	return nil, fmt.Errorf("no layer %s in the archive", h)
}

// archiveLayer is a layer file of the archive, read in place (the archive
// is opened again for each reader, or file read). It is a
// partial.CompressedLayer with a DiffID, the config's.
type archiveLayer struct {
	path   string
	file   io.ReaderAt
	entry  archiveEntry
	mt     types.MediaType
	plain  bool
	diffID v1.Hash

	once   sync.Once
	digest v1.Hash
	err    error
}

func (l *archiveLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
func (l *archiveLayer) Size() (int64, error)                { return l.entry.size, nil }
func (l *archiveLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }

// Digest is the diffID of a plain layer; a compressed one's bytes are
// hashed once.
func (l *archiveLayer) Digest() (v1.Hash, error) {
	if l.plain {
		return l.diffID, nil
	}
	l.once.Do(func() {
		rc, err := l.Compressed()
		if err != nil {
			l.err = err
			return
		}
		defer rc.Close()
		l.digest, _, l.err = v1.SHA256(rc)
	})
	return l.digest, l.err
}

// Compressed returns the layer's bytes as stored.
func (l *archiveLayer) Compressed() (io.ReadCloser, error) {
	if l.file != nil {
		return io.NopCloser(io.NewSectionReader(l.file, l.entry.off, l.entry.size)), nil
	}
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, l.entry.off, l.entry.size), f}, nil
}
