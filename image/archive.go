package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/rootfs"
)

// ArchiveWriter writes a `docker load` archive whose layers are written into
// it as they are made: no temporary layer file, no second copy of the bytes
// (which is a third of the time of writing a big plain image). Layers are
// appended one at a time; [ArchiveWriter.Commit] adds the config and
// manifest.json and renames the archive into place, [ArchiveWriter.Abort]
// removes it. The archive holds what [WriteDockerArchive] writes for the same
// image (the layer files named by their digest, the config by its own),
// though not byte for byte.
type ArchiveWriter struct {
	path   string
	f      *os.File
	mu     sync.Mutex
	end    int64                  // where the next entry's header goes
	layers map[v1.Hash]*fileLayer // written, by digest
	state  archiveState
}

type archiveState int

const (
	writing archiveState = iota
	committed
	aborted
)

// CreateArchive starts an archive to be renamed to path: a hidden temporary
// file in path's directory.
func CreateArchive(path string) (*ArchiveWriter, error) {
	f, err := createTemp(path)
	if err != nil {
		return nil, err
	}
	return &ArchiveWriter{path: path, f: f, layers: map[v1.Hash]*fileLayer{}}, nil
}

// blockSize is the tar block.
const blockSize = 512

// Layer writes a layer of spec's entries into the archive, as
// [LayerContext] writes one to a temporary file, and returns it: it reads
// its bytes back from the archive, and Close leaves the archive open.
func (a *ArchiveWriter) Layer(ctx context.Context, fsys rootfs.FS, spec LayerSpec, opts Options) (v1.Layer, error) {
	fill, done, err := specFill(ctx, fsys, spec, opts)
	if err != nil {
		return nil, err
	}
	defer done()
	level := 0
	if !opts.Uncompressed {
		if level, err = opts.level(); err != nil {
			return nil, err
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state != writing {
		return nil, errors.New("archive already committed or aborted")
	}
	// The header's place is kept; it is written once the size and digest
	// (the entry's name) are known.
	hdrOff, dataOff := a.end, a.end+blockSize
	if _, err := a.f.Seek(dataOff, io.SeekStart); err != nil {
		return nil, err
	}
	l, err := writeLayer(ctx, a.f, opts, level, tarOf(ctx, fill))
	if err != nil {
		return nil, err
	}
	hdr, err := entryHeader(l.digest.Hex+layerExt(l), l.size)
	if err != nil {
		return nil, err
	}
	if _, err := a.f.WriteAt(hdr, hdrOff); err != nil {
		return nil, fmt.Errorf("writing %q: %w", a.path, err)
	}
	a.end = dataOff + padded(l.size)
	l.f, l.off, l.shared = a.f, dataOff, true
	a.layers[l.digest] = l
	return l, nil
}

// layerExt is the extension of a layer file in the archive, as ggcr's
// tarball.Write names them.
func layerExt(l *fileLayer) string {
	if l.plain {
		return ".tar"
	}
	return ".tar.gz"
}

func padded(n int64) int64 { return (n + blockSize - 1) / blockSize * blockSize }

// entryHeader is the one-block header of a regular file: GNU format, which
// holds any size in the block (base-256 beyond 8 GiB) and names under 100
// bytes.
func entryHeader(name string, size int64) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644,
		ModTime: time.Unix(0, 0), Format: tar.FormatGNU})
	if err != nil {
		return nil, err
	}
	if b.Len() != blockSize {
		return nil, fmt.Errorf("tar header of %s: %d bytes, want one block", name, b.Len())
	}
	return b.Bytes(), nil
}

// Commit writes img's config and manifest.json (tagged tag) after its
// layers, which must all have been written by a's Layer, ends the archive
// and renames it into place (mode 0644). On error the archive is removed.
func (a *ArchiveWriter) Commit(ctx context.Context, tag string, img v1.Image) (err error) {
	defer func() {
		if err != nil {
			a.Abort() // after the deferred Unlock below
			err = fmt.Errorf("writing %q: %w", a.path, err)
		}
	}()
	t, err := NormalizeTag(tag)
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state != writing {
		return errors.New("archive already committed or aborted")
	}
	var names []string
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		fl, ok := a.layers[d]
		if !ok {
			return fmt.Errorf("layer %s was not written into this archive", d)
		}
		names = append(names, fl.digest.Hex+layerExt(fl))
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	manifest, err := json.Marshal([]struct {
		Config   string
		RepoTags []string
		Layers   []string
	}{{Config: cfgName.String(), RepoTags: []string{t.String()}, Layers: names}})
	if err != nil {
		return err
	}
	if _, err := a.f.Seek(a.end, io.SeekStart); err != nil {
		return err
	}
	bw := bufio.NewWriter(a.f)
	tw := tar.NewWriter(bw)
	for _, e := range []struct {
		name string
		data []byte
	}{{cfgName.String(), cfg}, {"manifest.json", manifest}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.name, Size: int64(len(e.data)), Mode: 0o644,
			ModTime: time.Unix(0, 0), Format: tar.FormatGNU}); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := a.f.Chmod(0o644); err != nil {
		return err
	}
	// Layers read their bytes from the archive: it stays open for them,
	// renamed (no fsync, as docker save; the rename makes it atomic).
	if err := os.Rename(a.f.Name(), a.path); err != nil {
		return err
	}
	a.state = committed
	return nil
}

// Abort removes the archive unless it is committed; its layers cannot be
// read after. It can be called more than once.
func (a *ArchiveWriter) Abort() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.abort()
}

// abort is Abort with a.mu held.
func (a *ArchiveWriter) abort() {
	if a.state != writing {
		return
	}
	a.state = aborted
	a.f.Close()
	os.Remove(a.f.Name())
}

// Close releases the archive file once committed (its layers cannot be
// read after); before, it aborts.
func (a *ArchiveWriter) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch a.state {
	case writing:
		a.abort()
	case committed:
		a.state = aborted // closed: nothing left to do
		return a.f.Close()
	}
	return nil
}
