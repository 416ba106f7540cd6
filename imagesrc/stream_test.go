package imagesrc

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// docker20 is `docker save` of Debian's docker 20.10 (20.10.24) of an
// image FROM scratch: COPY a /a, COPY b /b, COPY a /a (the same bytes as
// the first: its layer.tar is a link to the first's), ENV X=1.
const docker20 = "testdata/docker20.tar"

// docker20Image returns the archive's bytes, image ID and diff_ids, from
// its manifest and config.
func docker20Image(t *testing.T) ([]byte, v1.Hash, []v1.Hash) {
	t.Helper()
	raw, err := os.ReadFile(docker20)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[hdr.Name] = b
	}
	var m []struct{ Config string }
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil || len(m) != 1 {
		t.Fatalf("manifest.json: %v", err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(files[m[0].Config]))
	if err != nil {
		t.Fatal(err)
	}
	return raw, sha256Hash(files[m[0].Config]), cfg.RootFS.DiffIDs
}

// TestLayerNames: every layer file (a regular file, not a link) of docker
// 20.10's save is told by its name, before its bytes, as the layer its
// bytes hash to; no other file is.
func TestLayerNames(t *testing.T) {
	raw, _, diffIDs := docker20Image(t)
	names := newLayerNames(diffIDs)
	tr := tar.NewReader(bytes.NewReader(raw))
	told := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		d, ok := names.layer(hdr.Name)
		b, _ := io.ReadAll(tr)
		names.seen(hdr.Name, b)
		switch {
		case strings.HasSuffix(hdr.Name, "/layer.tar") && !ok:
			t.Errorf("%s is not told", hdr.Name)
		case strings.HasSuffix(hdr.Name, "/layer.tar") && d != sha256Hash(b):
			t.Errorf("%s told as %s, its bytes are %s", hdr.Name, d, sha256Hash(b))
		case !strings.HasSuffix(hdr.Name, "/layer.tar") && ok:
			t.Errorf("%s told as layer %s", hdr.Name, d)
		case ok:
			told++
		}
	}
	if told != 2 {
		t.Errorf("%d layer files told, want 2 (the third layer is a link)", told)
	}
	// An OCI layout's plain layer: its blob's name is its diff_id.
	if d, ok := names.layer("blobs/sha256/" + diffIDs[1].Hex); !ok || d != diffIDs[1] {
		t.Errorf("blobs/sha256/%s: told %v as %s", diffIDs[1].Hex, ok, d)
	}
	// A json that is not docker's, or of another layer, tells nothing.
	names.seen("x/json", []byte(`{"id":"x"}`))
	if _, ok := names.layer("x/layer.tar"); ok {
		t.Error("x/layer.tar told")
	}
}

// TestStreamedDocker20: a layer of docker 20.10's stream reads while it
// arrives, a block at a time: its first bytes while the stream holds the
// rest back, its last once in and hashed; the image is the archive's. A
// byte changed in a layer's file fails the read of that layer and the
// image, though the name told it.
func TestStreamedDocker20(t *testing.T) {
	defer func(b int) { spoolBlock = b }(spoolBlock)
	spoolBlock = 512
	raw, id, diffIDs := docker20Image(t)
	dir := t.TempDir()
	want, err := Open(context.Background(), docker20, Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := func(raw []byte) (*streamImage, *io.PipeWriter) {
		f, err := os.CreateTemp(dir, "stream")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		pr, pw := io.Pipe()
		return newStreamImage(f, pr, id, diffIDs), pw
	}
	// Held in the middle of the first layer's file.
	off, size := fileAt(t, raw, diffIDs[0])
	held := int(off) + 1024
	got, pw := start(raw)
	go pw.Write(raw[:held])
	gl, _ := got.Layers()
	select {
	case <-got.layers[0].ready:
	case <-time.After(time.Minute):
		t.Fatal("layer 0 is not ready at its header")
	}
	rc, err := gl[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 512)
	if _, err := io.ReadFull(rc, first); err != nil || !bytes.Equal(first, raw[off:off+512]) {
		t.Fatalf("the first block of layer 0 while the stream is held: %v", err)
	}
	rest := make(chan error, 1)
	go func() {
		b, err := io.ReadAll(rc)
		if err == nil && !bytes.Equal(b, raw[off+512:off+size]) {
			err = io.ErrShortBuffer
		}
		rest <- err
	}()
	select {
	case err := <-rest:
		t.Fatalf("layer 0 read to its end while the stream is held: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	go func() {
		pw.Write(raw[held:])
		pw.Close()
	}()
	if err := <-rest; err != nil {
		t.Errorf("layer 0 after the stream: %v", err)
	}
	for i, l := range gl {
		if h := readLayer(t, l); h != diffIDs[i] {
			t.Errorf("layer %d reads as %s, want %s", i, h, diffIDs[i])
		}
	}
	gd, err := got.Digest()
	wd, _ := want.Digest()
	if err != nil || gd != wd {
		t.Errorf("streamed image %s (%v), opened %s", gd, err, wd)
	}

	// A byte of layer 1's file changed.
	bad := bytes.Clone(raw)
	off, _ = fileAt(t, raw, diffIDs[1])
	bad[off+512] ^= 1 // the content of its first file
	got, pw = start(bad)
	go func() {
		pw.Write(bad)
		pw.Close()
	}()
	gl, _ = got.Layers()
	rc, err = gl[1].Uncompressed()
	if err == nil {
		_, err = io.ReadAll(rc)
	}
	if err == nil || !strings.Contains(err.Error(), "hashes to") {
		t.Errorf("layer 1 changed in the stream reads: %v", err)
	}
	if _, err := got.ConfigName(); err == nil {
		t.Error("the image of a stream with a layer changed reads")
	}
	if h := readLayer(t, gl[0]); h != diffIDs[0] {
		t.Errorf("layer 0 of the stream with layer 1 changed reads as %s", h)
	}
}

// fileAt is where the regular file of archive raw that hashes to h is.
func fileAt(t *testing.T, raw []byte, h v1.Hash) (off, size int64) {
	t.Helper()
	end := fileEnd(t, raw, h)
	r := bytes.NewReader(raw)
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatal(err)
		}
		if pos := int64(len(raw) - r.Len()); hdr.Typeflag == tar.TypeReg && pos+hdr.Size <= int64(end) && pos+hdr.Size+512 > int64(end) {
			return pos, hdr.Size
		}
	}
}
