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

	"github.com/fromscratch/fromscratch/internal/tartest"
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
	for hdr, r := range tartest.Entries(t, bytes.NewReader(raw)) {
		b, _ := io.ReadAll(r)
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
	told := 0
	for hdr, r := range tartest.Entries(t, bytes.NewReader(raw)) {
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		d, checked, ok := names.layer(hdr.Name)
		b, _ := io.ReadAll(r)
		if ok && !checked {
			t.Errorf("%s told, but not as checked by the engine", hdr.Name)
		}
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
	// An OCI layout's plain layer: its blob's name is its diff_id (its
	// bytes are hashed on their way).
	if d, checked, ok := names.layer("blobs/sha256/" + diffIDs[1].Hex); !ok || checked || d != diffIDs[1] {
		t.Errorf("blobs/sha256/%s: told %v as %s, checked %v", diffIDs[1].Hex, ok, d, checked)
	}
	// A json that is not docker's, or of another layer, tells nothing.
	names.seen("x/json", []byte(`{"id":"x"}`))
	if _, _, ok := names.layer("x/layer.tar"); ok {
		t.Error("x/layer.tar told")
	}
}

// TestStreamedDocker20: a layer of docker 20.10's stream reads while it
// arrives, a block at a time: its first bytes while the stream holds the
// rest back, its last once in; the image is the archive's.
func TestStreamedDocker20(t *testing.T) {
	defer func(b int) { spoolBlock = b }(spoolBlock)
	spoolBlock = 512
	raw, id, diffIDs := docker20Image(t)
	want, err := Open(context.Background(), docker20, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Held in the middle of the first layer's file.
	off, size := fileAt(t, raw, diffIDs[0])
	held := int(off) + 1024
	got, pw := startStream(t, id, diffIDs)
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
	checkStreamed(t, got, want, diffIDs)
}

// TestStreamedBlobs: an OCI layout's stream (docker 25 and later), its
// plain layers named blobs/sha256/DIFF_ID, reads as the archive does; a
// byte changed in a layer's blob fails the read of that layer, and the
// image, though its name told it.
func TestStreamedBlobs(t *testing.T) {
	defer func(b int) { spoolBlock = b }(spoolBlock)
	spoolBlock = 512
	raw, id, diffIDs := docker20Image(t)
	want, err := Open(context.Background(), docker20, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The docker 25 layout of the same image: blobs, then manifest.json.
	blob := func(h v1.Hash) string { return "blobs/sha256/" + h.Hex }
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, b []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	cfg, _ := want.RawConfigFile()
	add(blob(diffIDs[0]), layerBytes(t, raw, diffIDs[0]))
	add(blob(diffIDs[1]), layerBytes(t, raw, diffIDs[1]))
	add(blob(id), cfg)
	man, _ := json.Marshal([]map[string]any{{"Config": blob(id), "RepoTags": nil,
		"Layers": []string{blob(diffIDs[0]), blob(diffIDs[1]), blob(diffIDs[2])}}})
	add("manifest.json", man)
	tw.Close()
	oci := buf.Bytes()

	got, pw := startStream(t, id, diffIDs)
	go func() {
		pw.Write(oci)
		pw.Close()
	}()
	checkStreamed(t, got, want, diffIDs)

	// A byte of layer 1's blob changed.
	bad := bytes.Clone(oci)
	off, _ := fileAt(t, oci, diffIDs[1])
	bad[off+512] ^= 1 // the content of its first file
	got, pw = startStream(t, id, diffIDs)
	go func() {
		pw.Write(bad)
		pw.Close()
	}()
	gl, _ := got.Layers()
	rc, err := gl[1].Uncompressed()
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

// startStream returns the image of a stream written to the pipe returned.
func startStream(t *testing.T, id v1.Hash, diffIDs []v1.Hash) (*streamImage, *io.PipeWriter) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stream")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	pr, pw := io.Pipe()
	return newStreamImage(f, pr, id, diffIDs), pw
}

// checkStreamed checks that every layer of got reads as its diff_id, and
// that got is want.
func checkStreamed(t *testing.T, got *streamImage, want v1.Image, diffIDs []v1.Hash) {
	t.Helper()
	gl, _ := got.Layers()
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
}

// layerBytes is the regular file of archive raw that hashes to h.
func layerBytes(t *testing.T, raw []byte, h v1.Hash) []byte {
	t.Helper()
	off, size := fileAt(t, raw, h)
	return raw[off : off+size]
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
