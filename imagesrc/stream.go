package imagesrc

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/fromscratch/fromscratch/internal/countio"
)

// streamImage is the image of a `docker save` stream while it arrives:
// the stream is copied into a temporary file (a spool, read there in
// place) with every regular file hashed on its way, whatever the order
// the stream sends them in (docker 20.10 sends each layer in a directory
// named by an ID of its own, in the order of those names, the config
// among them). A layer whose file the stream names before its bytes (see
// layerNames) is readable from its first block on, while it arrives; its
// last byte reads once its bytes hash to its diff_id. Any other layer is
// readable as soon as the file that hashes to its diff_id is in; the
// config as soon as the file that hashes to the image ID is. Once the
// stream has been read, the rest (manifest, digest) is the image of the
// archive copied, as imageOfStream reads it: compressed layers (an engine
// with the containerd store) are read then.
type streamImage struct {
	id      v1.Hash
	diffIDs []v1.Hash
	layers  []*streamLayer

	// config is closed when cfgRaw is known or the stream is read.
	config chan struct{}
	cfgRaw []byte
	// done is closed when the stream is read: img or err is set.
	done chan struct{}
	img  v1.Image
	err  error
}

// newStreamImage reads the stream r into f in the background (closing r
// at the end) and returns its image: image id, whose layers have the
// diff_ids the engine gave.
func newStreamImage(f *os.File, r io.ReadCloser, id v1.Hash, diffIDs []v1.Hash) *streamImage {
	s := &streamImage{id: id, diffIDs: diffIDs, config: make(chan struct{}), done: make(chan struct{})}
	for i := range diffIDs {
		s.layers = append(s.layers, &streamLayer{s: s, i: i, ready: make(chan struct{})})
	}
	go s.read(f, r)
	return s
}

// read copies the stream and sets what arrives.
func (s *streamImage) read(f *os.File, r io.ReadCloser) {
	sp := newSpool(f)
	// ready gives the layers of diff_id d their bytes, at e in file.
	// ready gives the layers of diff_id d their bytes.
	ready := func(d v1.Hash, plain partial.CompressedLayer) {
		for i, di := range s.diffIDs {
			if l := s.layers[i]; di == d && l.plain == nil { // one layer's bytes can be several layers'
				l.plain = plain
				close(l.ready)
			}
		}
	}
	told := func(t *toldFile) { ready(t.diffID, toldLayer{sp, t}) }
	notify := map[v1.Hash]func(archiveEntry) error{}
	for _, d := range s.diffIDs {
		notify[d] = func(e archiveEntry) error {
			ready(d, &archiveLayer{file: f, entry: e, mt: types.DockerUncompressedLayer, plain: true, diffID: d})
			return nil
		}
	}
	notify[s.id] = func(e archiveEntry) error {
		if e.size > maxJSON {
			return nil // the archive readers say so
		}
		raw := make([]byte, e.size)
		if _, err := f.ReadAt(raw, e.off); err != nil {
			return err
		}
		s.cfgRaw = raw
		close(s.config)
		return nil
	}
	files, tolds, err := copyStream(sp, r, newLayerNames(s.diffIDs), told, notify)
	r.Close()
	sp.close(err)
	for _, t := range tolds {
		if err == nil {
			err = t.err
		}
		if _, dup := files[t.diffID]; !dup && err == nil {
			files[t.diffID] = t.entry
		}
	}
	if err != nil {
		s.err = fmt.Errorf("reading the engine's stream: %w", err)
	} else {
		s.img, s.err = s.final(f, sp.off, files)
	}
	if s.cfgRaw == nil {
		close(s.config)
	}
	for _, l := range s.layers {
		if l.plain == nil {
			close(l.ready)
		}
	}
	close(s.done)
}

// final is the image of the whole stream, checked to be image id.
func (s *streamImage) final(f *os.File, n int64, files map[v1.Hash]archiveEntry) (v1.Image, error) {
	img, err := imageOfStream(f, n, files, s.id)
	if err != nil {
		return nil, fmt.Errorf("the engine's stream: %w", err)
	}
	got, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("the engine's stream: %w", err)
	}
	if got != s.id {
		return nil, fmt.Errorf("the engine's stream holds image %s, not %s", got, s.id)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("the engine's stream: %w", err)
	}
	if len(cfg.RootFS.DiffIDs) != len(s.diffIDs) {
		return nil, fmt.Errorf("the engine's stream: the config has %d layers, the engine said %d", len(cfg.RootFS.DiffIDs), len(s.diffIDs))
	}
	for i, d := range cfg.RootFS.DiffIDs {
		if d != s.diffIDs[i] {
			return nil, fmt.Errorf("the engine's stream: the config's layer %d is %s, the engine said %s", i, d, s.diffIDs[i])
		}
	}
	return img, nil
}

// whole waits for the stream to be read, and returns its image.
func (s *streamImage) whole() (v1.Image, error) {
	<-s.done
	return s.img, s.err
}

func (s *streamImage) Layers() ([]v1.Layer, error) {
	ls := make([]v1.Layer, len(s.layers))
	for i, l := range s.layers {
		ls[i] = l
	}
	return ls, nil
}

func (s *streamImage) RawConfigFile() ([]byte, error) {
	<-s.config
	if s.cfgRaw != nil {
		return s.cfgRaw, nil
	}
	img, err := s.whole()
	if err != nil {
		return nil, err
	}
	return img.RawConfigFile()
}

func (s *streamImage) ConfigFile() (*v1.ConfigFile, error) {
	return partial.ConfigFile(s)
}

func (s *streamImage) ConfigName() (v1.Hash, error) {
	img, err := s.whole()
	if err != nil {
		return v1.Hash{}, err
	}
	return img.ConfigName()
}

func (s *streamImage) MediaType() (types.MediaType, error) {
	img, err := s.whole()
	if err != nil {
		return "", err
	}
	return img.MediaType()
}

func (s *streamImage) Size() (int64, error) {
	img, err := s.whole()
	if err != nil {
		return 0, err
	}
	return img.Size()
}

func (s *streamImage) Digest() (v1.Hash, error) {
	img, err := s.whole()
	if err != nil {
		return v1.Hash{}, err
	}
	return img.Digest()
}

func (s *streamImage) Manifest() (*v1.Manifest, error) {
	img, err := s.whole()
	if err != nil {
		return nil, err
	}
	return img.Manifest()
}

func (s *streamImage) RawManifest() ([]byte, error) {
	img, err := s.whole()
	if err != nil {
		return nil, err
	}
	return img.RawManifest()
}

func (s *streamImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	img, err := s.whole()
	if err != nil {
		return nil, err
	}
	return img.LayerByDigest(h)
}

func (s *streamImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	img, err := s.whole()
	if err != nil {
		return nil, err
	}
	return img.LayerByDiffID(h)
}

// streamLayer is layer i of a streamImage: the plain file of the stream
// that hashes to its diff_id as soon as it is in, or else the layer of the
// whole stream's image.
type streamLayer struct {
	s     *streamImage
	i     int
	ready chan struct{} // closed when plain is set or the stream is read
	plain partial.CompressedLayer
}

// Streamed marks a layer that waits for its bytes (imagefs.StreamedLayer).
func (l *streamLayer) Streamed() {}

// layer waits for the layer's bytes.
func (l *streamLayer) layer() (v1.Layer, error) {
	<-l.ready
	if l.plain != nil {
		return partial.CompressedToLayer(l.plain)
	}
	img, err := l.s.whole()
	if err != nil {
		return nil, err
	}
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	return ls[l.i], nil // final checked the layer count
}

func (l *streamLayer) DiffID() (v1.Hash, error) { return l.s.diffIDs[l.i], nil }

func (l *streamLayer) Digest() (v1.Hash, error) {
	ll, err := l.layer()
	if err != nil {
		return v1.Hash{}, err
	}
	return ll.Digest()
}

func (l *streamLayer) Size() (int64, error) {
	ll, err := l.layer()
	if err != nil {
		return 0, err
	}
	return ll.Size()
}

func (l *streamLayer) MediaType() (types.MediaType, error) {
	ll, err := l.layer()
	if err != nil {
		return "", err
	}
	return ll.MediaType()
}

func (l *streamLayer) Compressed() (io.ReadCloser, error) {
	ll, err := l.layer()
	if err != nil {
		return nil, err
	}
	return ll.Compressed()
}

func (l *streamLayer) Uncompressed() (io.ReadCloser, error) {
	ll, err := l.layer()
	if err != nil {
		return nil, err
	}
	return ll.Uncompressed()
}

// copyStream copies the tar stream r into the spool sp and returns where
// each regular file's bytes are in it, by the SHA-256 of those bytes (the
// first file of each hash): a file is hashed as it is copied, and one
// whose hash is in notify is written before its function is called. A
// layer file that names tell (see layerNames) is not: it is handed to
// told at its header, and the spool hashes it on its way (its verdict is
// in the toldFile returned once the spool is closed). The spool is
// flushed at the end; the caller closes it.
func copyStream(sp *spool, r io.Reader, names *layerNames, told func(*toldFile), notify map[v1.Hash]func(archiveEntry) error) (map[v1.Hash]archiveEntry, []*toldFile, error) {
	cr := &countio.Reader{R: io.TeeReader(r, sp)}
	files := map[v1.Hash]archiveEntry{}
	var tolds []*toldFile
	tr := tar.NewReader(cr)
	buf := make([]byte, 1<<20)
	h := sha256.New()
	var sum [sha256.Size]byte
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if hdr.Typeflag != tar.TypeReg || sparse(hdr) {
			continue // a layer stored as a link is another's bytes
		}
		e := archiveEntry{off: cr.N, size: hdr.Size} // tar reads a header and no further
		if d, checked, ok := names.layer(hdr.Name); ok && !toldBefore(tolds, d) {
			t := &toldFile{name: hdr.Name, entry: e, diffID: d, checked: make(chan struct{})}
			if checked {
				close(t.checked) // by the engine (see layerNames)
			} else {
				sp.tell(t)
			}
			tolds = append(tolds, t)
			told(t)
			if err := drain(tr, buf); err != nil {
				return nil, nil, err
			}
			if err := sp.flush(); err != nil { // its last block, for its readers
				return nil, nil, err
			}
			continue
		}
		h.Reset()
		if hdr.Size <= int64(len(buf)) {
			small := buf[:hdr.Size]
			if _, err := io.ReadFull(tr, small); err != nil {
				return nil, nil, err
			}
			h.Write(small)
			names.seen(hdr.Name, small)
		} else if _, err := io.CopyBuffer(h, tr, buf); err != nil {
			return nil, nil, err
		}
		d := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(sum[:0]))}
		if _, dup := files[d]; dup {
			continue
		}
		files[d] = e
		if fn := notify[d]; fn != nil {
			if err := sp.flush(); err != nil {
				return nil, nil, err
			}
			if err := fn(e); err != nil {
				return nil, nil, err
			}
		}
	}
	if err := drain(cr, buf); err != nil { // the rest, as docker save writes it
		return nil, nil, err
	}
	return files, tolds, sp.flush()
}

// toldBefore reports whether a file of tolds holds diff_id d.
func toldBefore(tolds []*toldFile, d v1.Hash) bool {
	for _, t := range tolds {
		if t.diffID == d {
			return true
		}
	}
	return false
}

// drain reads r to its end through buf.
func drain(r io.Reader, buf []byte) error {
	for {
		_, err := r.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// imageOfStream is the image of the archive copied into f (n bytes), its
// regular files by hash: config id and plain layers, or else whatever
// the archive readers make of it.
func imageOfStream(f *os.File, n int64, files map[v1.Hash]archiveEntry, id v1.Hash) (v1.Image, error) {
	if e, ok := files[id]; ok && e.size <= maxJSON {
		cfgRaw := make([]byte, e.size)
		if _, err := f.ReadAt(cfgRaw, e.off); err != nil {
			return nil, err
		}
		cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
		if err != nil {
			return nil, fmt.Errorf("the config %s: %w", id, err)
		}
		layers := make([]*archiveLayer, 0, len(cfg.RootFS.DiffIDs))
		for _, d := range cfg.RootFS.DiffIDs {
			e, ok := files[d]
			if !ok {
				break // a compressed layer
			}
			layers = append(layers, &archiveLayer{file: f, entry: e, mt: types.DockerUncompressedLayer, plain: true, diffID: d})
		}
		if len(layers) == len(cfg.RootFS.DiffIDs) {
			return plainImage(cfgRaw, layers)
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if img, ok, err := readPlainArchive(f, "", f, nil); ok {
		return img, err
	}
	return tarball.Image(func() (io.ReadCloser, error) {
		return io.NopCloser(io.NewSectionReader(f, 0, n)), nil
	}, nil)
}
