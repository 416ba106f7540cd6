package imagesrc

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/internal/tartest"
)

// TestArchiveOfSeveral: a docker archive of two images needs a name, given
// as docker-archive:PATH:NAME:TAG.
func TestArchiveOfSeveral(t *testing.T) {
	a, _ := random.Image(64, 1)
	b, _ := random.Image(64, 1)
	ta, _ := name.NewTag("app:a")
	tb, _ := name.NewTag("app:b")
	p := filepath.Join(t.TempDir(), "two.tar")
	if err := tarball.MultiWriteToFile(p, map[name.Tag]v1.Image{ta: a, tb: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), DockerArchive+p, Options{}); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("Open(two images, no name) = %v, want ErrAmbiguous", err)
	}
	for tag, want := range map[string]v1.Image{"app:a": a, "app:b": b} {
		img, err := Open(context.Background(), DockerArchive+p+":"+tag, Options{})
		if err != nil {
			t.Fatalf("Open(%s) = %v", tag, err)
		}
		got, _ := img.Digest()
		wantD, _ := want.Digest()
		if got != wantD {
			t.Errorf("Open(%s) = %s, want %s", tag, got, wantD)
		}
	}
}

// testLayer is a one-file layer, plain tar or gzip.
func testLayer(t *testing.T, name, content string, plain bool) v1.Layer {
	t.Helper()
	l, err := image.StreamLayer(context.Background(), image.Options{Uncompressed: plain}, func(tw *tar.Writer) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := io.WriteString(tw, content)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestPlainArchive: an archive with plain tar layers (as docker save and
// build -o write) is read as it is: plain layers keep their media type and
// have their diffID as digest, gzip ones theirs; the config is the same
// bytes; every layer reads back; a path without transport is an archive.
func TestPlainArchive(t *testing.T) {
	layers := []v1.Layer{testLayer(t, "a", "plain layer", true), testLayer(t, "b", "gzip layer", false)}
	orig, err := image.Image(layers, nil, image.Config{Architecture: "amd64", Entrypoint: []string{"/a"}}, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := image.Image(layers[:1], nil, image.Config{Architecture: "amd64", Entrypoint: []string{"/other"}}, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	one, two := filepath.Join(dir, "one.tar"), filepath.Join(dir, "two.tar")
	if err := image.WriteDockerArchive(context.Background(), one, "app:one", orig); err != nil {
		t.Fatal(err)
	}
	ta, _ := name.NewTag("app:one")
	tb, _ := name.NewTag("app:other")
	if err := tarball.MultiWriteToFile(two, map[name.Tag]v1.Image{ta: orig, tb: other}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{one, DockerArchive + one, DockerArchive + two + ":app:one"} {
		img, err := Open(context.Background(), ref, Options{})
		if err != nil {
			t.Fatalf("Open(%s) = %v", ref, err)
		}
		// validate reads every "compressed" layer as gzip: the layers are
		// checked by hand below.
		if err := validate.Image(img, validate.Fast); err != nil {
			t.Errorf("Open(%s): validate: %v", ref, err)
		}
		gotCfg, _ := img.ConfigName()
		wantCfg, _ := orig.ConfigName()
		if gotCfg != wantCfg {
			t.Errorf("Open(%s): config %s, want %s", ref, gotCfg, wantCfg)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		wantTypes := []types.MediaType{types.DockerUncompressedLayer, types.DockerLayer}
		for i, l := range m.Layers {
			od, _ := layers[i].Digest()
			if l.MediaType != wantTypes[i] || l.Digest != od {
				t.Errorf("Open(%s): layer %d is %s %s, want %s %s", ref, i, l.MediaType, l.Digest, wantTypes[i], od)
			}
		}
		got, err := img.Layers()
		if err != nil || len(got) != 2 {
			t.Fatalf("Open(%s): layers %v, %v", ref, got, err)
		}
		for i, l := range got {
			d, _ := l.Digest()
			diff, _ := l.DiffID()
			for j, read := range []func() (io.ReadCloser, error){l.Compressed, l.Uncompressed} {
				rc, err := read()
				if err != nil {
					t.Fatal(err)
				}
				h, _, err := v1.SHA256(rc)
				rc.Close()
				if err != nil {
					t.Fatal(err)
				}
				if want := []v1.Hash{d, diff}[j]; h != want {
					t.Errorf("Open(%s): layer %d: reader %d hashes to %s, want %s", ref, i, j, h, want)
				}
			}
			rc, err := l.Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			hdr, err := tar.NewReader(rc).Next()
			rc.Close()
			if err != nil || hdr.Name != []string{"a", "b"}[i] {
				t.Errorf("Open(%s): layer %d: first entry %v, %v", ref, i, hdr, err)
			}
		}
	}
	if _, err := Open(context.Background(), DockerArchive+two, Options{}); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("Open(two images, no name) = %v, want ErrAmbiguous", err)
	}
}

// TestPlainArchiveLies: a plain layer whose bytes do not hash to the
// config's diff_id is refused when the archive is opened, before any writer
// could store the bytes under the claimed digest.
func TestPlainArchiveLies(t *testing.T) {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: "a", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("B"))
	tw.Close()
	claimed := strings.Repeat("ab", 32)
	var archive bytes.Buffer
	aw := tar.NewWriter(&archive)
	add := func(name, body string) {
		aw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		io.WriteString(aw, body)
	}
	add("cfg.json", `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:`+claimed+`"]}}`)
	add("l.tar", layer.String())
	add("manifest.json", `[{"Config":"cfg.json","RepoTags":["a:b"],"Layers":["l.tar"]}]`)
	aw.Close()
	p := filepath.Join(t.TempDir(), "lies.tar")
	if err := os.WriteFile(p, archive.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), p, Options{}); err == nil || !strings.Contains(err.Error(), claimed) {
		t.Errorf("Open(an archive whose layer is not its diff_id) = %v, want an error naming the claimed digest", err)
	}
}

// TestLocalTransport: which bare paths are images.
func TestLocalTransport(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("alpine", []byte("not a tar"), 0o644) // a stray file named like an image
	os.WriteFile("app.tar", []byte("broken"), 0o644)   // named as an archive: its error is the archive's
	os.WriteFile("saved", make([]byte, 1024), 0o644)   // a tar by its header, below
	f, _ := os.OpenFile("saved", os.O_WRONLY, 0)
	f.WriteAt([]byte("ustar"), 257)
	f.Close()
	os.MkdirAll("layout", 0o755)
	os.WriteFile("layout/oci-layout", []byte("{}"), 0o644)
	os.MkdirAll("plaindir", 0o755)
	for ref, want := range map[string]string{
		"alpine": "", "app.tar": DockerArchive, "saved": DockerArchive, "./alpine": DockerArchive,
		"layout": OCILayout, "plaindir": "", "nosuch:1.0": "",
	} {
		if got := LocalTransport(ref); got != want {
			t.Errorf("LocalTransport(%q) = %q, want %q", ref, got, want)
		}
	}
}

// TestPathIsNoReference: a string written as a path names a file or
// directory, never a registry image.
func TestPathIsNoReference(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.MkdirAll("layout", 0o755)
	os.WriteFile("layout/oci-layout", []byte("{}"), 0o644)
	os.WriteFile("app.tar", []byte("broken"), 0o644)
	for ref, want := range map[string]string{
		"./layout:1": OCILayout, "./layout:app:1": OCILayout, "./layout@sha256:00": OCILayout,
		"./app.tar:app:1": DockerArchive, "./missing.tar": "", "/no/such:1": "",
	} {
		if got := pathTransport(ref); got != want {
			t.Errorf("pathTransport(%q) = %q, want %q", ref, got, want)
		}
	}
	for _, ref := range []string{"./missing.tar", "../missing.tar", "/no/such", "/no/such:1", "."} {
		if !IsPath(ref) {
			t.Errorf("IsPath(%q) = false", ref)
		}
		_, err := Open(context.Background(), ref, Options{})
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Path != ref {
			t.Errorf("Open(%q) = %v, want a *fs.PathError for %q", ref, err, ref)
		}
	}
	for _, ref := range []string{"alpine", "app:1", "registry.example/app", ".hidden/x"} {
		if IsPath(ref) {
			t.Errorf("IsPath(%q) = true", ref)
		}
	}
}

// TestStreamedArchive: an archive read as the engine's stream (copied and
// hashed in one pass) is the image that opening the archive gives: plain
// layers found by their diff_ids, or, with a gzip layer, the archive
// readers' image. A plain layer reads as soon as its bytes are in, while
// the stream holds the rest back; the config too.
func TestStreamedArchive(t *testing.T) {
	dir := t.TempDir()
	for _, plain := range []bool{true, false} {
		layers := []v1.Layer{testLayer(t, "a", "plain layer", true), testLayer(t, "b", "second layer", plain)}
		orig, err := image.Image(layers, nil, image.Config{Architecture: "amd64", Entrypoint: []string{"/a"}}, image.Options{})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "app.tar")
		if err := image.WriteDockerArchive(context.Background(), p, "app:one", orig); err != nil {
			t.Fatal(err)
		}
		want, err := Open(context.Background(), p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := orig.ConfigName()
		cfg, _ := orig.ConfigFile()
		d0, _ := layers[0].DiffID()
		// The stream stops after the plain layer and the config, until
		// release is closed.
		held := max(fileEnd(t, raw, d0), fileEnd(t, raw, id))
		release := make(chan struct{})
		pr, pw := io.Pipe()
		go func() {
			pw.Write(raw[:held])
			<-release
			pw.Write(raw[held:])
			pw.Close()
		}()
		f, err := os.CreateTemp(dir, "stream")
		if err != nil {
			t.Fatal(err)
		}
		got := newStreamImage(f, pr, id, cfg.RootFS.DiffIDs)
		gl, _ := got.Layers()
		select {
		case <-got.layers[0].ready:
		case <-time.After(time.Minute):
			t.Fatalf("plain %v: layer 0 is not ready while the stream holds the rest", plain)
		}
		if h := readLayer(t, gl[0]); h != d0 {
			t.Errorf("plain %v: layer 0 reads as %s before the end, want %s", plain, h, d0)
		}
		if gc, err := got.ConfigFile(); err != nil || gc.Config.Entrypoint[0] != "/a" {
			t.Errorf("plain %v: config before the end: %v", plain, err)
		}
		select {
		case <-got.done:
			t.Fatalf("plain %v: the stream was read whole though held", plain)
		default:
		}
		close(release)
		gd, err := got.Digest()
		wd, _ := want.Digest()
		if err != nil || gd != wd {
			t.Errorf("plain %v: streamed image %s (%v), opened %s", plain, gd, err, wd)
		}
		for i, l := range gl {
			if d, _ := layers[i].DiffID(); readLayer(t, l) != d {
				t.Errorf("plain %v: layer %d does not read as %s", plain, i, d)
			}
			gm, _ := l.MediaType()
			wm, _ := layers[i].MediaType()
			if gm != wm {
				t.Errorf("plain %v: layer %d is %s, want %s", plain, i, gm, wm)
			}
		}
		f.Close()
	}
	// A stream that is not the image says so.
	f, err := os.CreateTemp(dir, "stream")
	if err != nil {
		t.Fatal(err)
	}
	bad := newStreamImage(f, io.NopCloser(strings.NewReader("not a tar")), v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}, []v1.Hash{{Algorithm: "sha256", Hex: strings.Repeat("1", 64)}})
	bl, _ := bad.Layers()
	if _, err := bl[0].Uncompressed(); err == nil {
		t.Error("a layer of a broken stream reads")
	}
	if _, err := bad.ConfigFile(); err == nil {
		t.Error("the config of a broken stream reads")
	}
}

// fileEnd is where the regular file of archive raw that hashes to h ends.
func fileEnd(t *testing.T, raw []byte, h v1.Hash) int {
	t.Helper()
	r := bytes.NewReader(raw)
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("no file hashes to %s in the archive: %v", h, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		got, _, err := v1.SHA256(tr)
		if err == nil && got == h {
			return len(raw) - r.Len()
		}
	}
}

// readLayer is the SHA-256 of l's uncompressed bytes.
func readLayer(t *testing.T, l v1.Layer) v1.Hash {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h, _, err := v1.SHA256(rc)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestIsBare: a bare name names no registry.
func TestIsBare(t *testing.T) {
	for ref, want := range map[string]bool{
		"app": true, "app:1.0": true, "me/app": true, "me/app:1": true,
		"app@sha256:0000000000000000000000000000000000000000000000000000000000000000": true,
		"127.0.0.1:5000/app": false, "localhost/app": false, "docker.io/library/app": false,
		"registry.example/app:1.0": false, "./app": false, "/app": false,
		"docker-daemon:app": false, "oci-layout:dir": false, "Bad^": false,
	} {
		if got := IsBare(ref); got != want {
			t.Errorf("IsBare(%q) = %v, want %v", ref, got, want)
		}
	}
}

// TestArchiveLinkedLayer: an archive that stores a layer the image has
// twice as a symbolic link to the first copy's file (docker save does) is
// read as it is: plain layers, digests their diff_ids, as the engine's
// stream of the same image gives them.
func TestArchiveLinkedLayer(t *testing.T) {
	dir := t.TempDir()
	l := testLayer(t, "a", "twice", true)
	orig, err := image.Image([]v1.Layer{testLayer(t, "b", "once", true), l, l}, nil, image.Config{Architecture: "amd64"}, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "orig.tar")
	if err := image.WriteDockerArchive(context.Background(), p, "app:one", orig); err != nil {
		t.Fatal(err)
	}
	// Rewrite it: the third layer is a link to the second's file.
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for hdr, r := range tartest.File(t, p) {
		b, _ := io.ReadAll(r)
		if hdr.Name == "manifest.json" {
			var m tarball.Manifest
			if err := json.Unmarshal(b, &m); err != nil || len(m) != 1 || len(m[0].Layers) != 3 || m[0].Layers[1] != m[0].Layers[2] {
				t.Fatalf("manifest %s (%v): want 3 layers, the last two one file", b, err)
			}
			tw.WriteHeader(&tar.Header{Name: "dup/layer.tar", Typeflag: tar.TypeSymlink, Linkname: "../" + m[0].Layers[1], Mode: 0o777})
			m[0].Layers[2] = "dup/layer.tar"
			b, _ = json.Marshal(m)
			hdr.Size = int64(len(b))
		}
		tw.WriteHeader(hdr)
		tw.Write(b)
	}
	tw.Close()
	linked := filepath.Join(dir, "linked.tar")
	if err := os.WriteFile(linked, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := Open(context.Background(), linked, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := img.Layers()
	if err != nil || len(got) != 3 {
		t.Fatalf("layers %v, %v", got, err)
	}
	want, _ := orig.Layers()
	for i := range got {
		d, _ := got[i].Digest()
		mt, _ := got[i].MediaType()
		w, _ := want[i].DiffID()
		if d != w || mt != types.DockerUncompressedLayer || readLayer(t, got[i]) != w {
			t.Errorf("layer %d: %s %s, want %s plain", i, d, mt, w)
		}
	}
}

func TestIsImageID(t *testing.T) {
	for s, want := range map[string]bool{
		"sha256:" + strings.Repeat("a", 64): true,
		strings.Repeat("0", 64):             true,
		"4f2c":                              true,
		"sha256:4f2c":                       true,
		"":                                  false,
		"sha256:":                           false,
		strings.Repeat("a", 65):             false,
		"4F2C":                              false,
		"sha512:4f2c":                       false,
		"app:latest":                        false,
		"4f2g":                              false,
	} {
		if got := isImageID(s); got != want {
			t.Errorf("isImageID(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestLayoutNameMeansLatest: an image written to a layout as "app" (build
// -t app, recorded as "app:latest") is picked by oci-layout:DIR:app, as
// doctor's and inspect's help show it, as by its tag or its full name; a
// name without a tag means :latest only, never another tag of the name.
func TestLayoutNameMeansLatest(t *testing.T) {
	ctx := context.Background()
	latest, _ := random.Image(64, 1)
	other, _ := random.Image(64, 1)
	dir := filepath.Join(t.TempDir(), "out")
	if err := image.WriteOCILayout(ctx, dir, "app", latest); err != nil {
		t.Fatal(err)
	}
	if err := image.WriteOCILayout(ctx, dir, "app:1", other); err != nil {
		t.Fatal(err)
	}
	for sel, want := range map[string]v1.Image{"app": latest, "latest": latest, "app:latest": latest, "app:1": other, "1": other} {
		img, err := Open(ctx, OCILayout+dir+":"+sel, Options{})
		if err != nil {
			t.Fatalf("Open(oci-layout:DIR:%s) = %v", sel, err)
		}
		got, _ := img.Digest()
		wantD, _ := want.Digest()
		if got != wantD {
			t.Errorf("Open(oci-layout:DIR:%s) = %s, want %s", sel, got, wantD)
		}
	}
	if _, err := Open(ctx, OCILayout+dir+":other", Options{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open(oci-layout:DIR:other) = %v, want ErrNotFound", err)
	}
}
