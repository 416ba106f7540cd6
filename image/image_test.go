package image

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// testImage builds a two-layer image from Data entries.
func testImage(t *testing.T, opts Options, content string) v1.Image {
	t.Helper()
	specs := []LayerSpec{
		{Entries: []Entry{{Path: "/etc/passwd", Type: tar.TypeReg, Mode: 0o644, Data: []byte("root:x:0:0::/:/nonexistent\n")}}, CreatedBy: "fromscratch build: runtime files"},
		{Entries: []Entry{{Path: "/app/data", Type: tar.TypeReg, Mode: 0o644, Data: []byte(content)}}, CreatedBy: "fromscratch build: app", Comment: "the app"},
	}
	var layers []v1.Layer
	for _, s := range specs {
		layers = append(layers, mustLayer(t, nil, s, opts))
	}
	img, err := Image(layers, specs, Config{
		Entrypoint:   []string{"/app/prog"},
		Cmd:          []string{"--flag"},
		Env:          []string{"PATH=/usr/bin", "A=b"},
		WorkingDir:   "/app",
		User:         "1000:1000",
		Labels:       map[string]string{"z": "1", "a": "2"},
		Architecture: "arm",
		Variant:      "v7",
	}, opts)
	if err != nil {
		t.Fatalf("Image() = %v", err)
	}
	return img
}

func TestImage(t *testing.T) {
	created := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
	img := testImage(t, Options{Created: created}, "data")
	if err := validate.Image(img); err != nil {
		t.Errorf("validate.Image() = %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "arm" || cf.Variant != "v7" || !cf.Created.Equal(created) {
		t.Errorf("config platform/created = %s/%s/%s %v", cf.OS, cf.Architecture, cf.Variant, cf.Created)
	}
	c := cf.Config
	if !slices.Equal(c.Entrypoint, []string{"/app/prog"}) || !slices.Equal(c.Cmd, []string{"--flag"}) ||
		!slices.Equal(c.Env, []string{"PATH=/usr/bin", "A=b"}) || c.WorkingDir != "/app" || c.User != "1000:1000" || c.Labels["z"] != "1" {
		t.Errorf("config = %+v", c)
	}
	if len(cf.RootFS.DiffIDs) != 2 || cf.RootFS.Type != "layers" {
		t.Errorf("rootfs = %+v", cf.RootFS)
	}
	want := []v1.History{
		{Created: v1.Time{Time: created}, CreatedBy: "fromscratch build: runtime files"},
		{Created: v1.Time{Time: created}, CreatedBy: "fromscratch build: app", Comment: "the app"},
	}
	if len(cf.History) != len(want) {
		t.Fatalf("history = %+v", cf.History)
	}
	for i := range want {
		if h := cf.History[i]; h.CreatedBy != want[i].CreatedBy || h.Comment != want[i].Comment || !h.Created.Equal(created) || h.EmptyLayer {
			t.Errorf("history[%d] = %+v, want %+v", i, h, want[i])
		}
	}
	checkMediaTypes(t, img, types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer)
	oci := testImage(t, Options{Created: created, OCIMediaTypes: true}, "data")
	checkMediaTypes(t, oci, types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer)
	if err := validate.Image(oci); err != nil {
		t.Errorf("validate.Image(OCI) = %v", err)
	}

	// The zero time is the epoch, written in UTC.
	raw, err := testImage(t, Options{}, "data").RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"created":"1970-01-01T00:00:00Z"`) {
		t.Errorf("config with zero Created = %s", raw)
	}
}

func checkMediaTypes(t *testing.T, img v1.Image, manifest, config, layer types.MediaType) {
	t.Helper()
	if mt, _ := img.MediaType(); mt != manifest {
		t.Errorf("media type = %s, want %s", mt, manifest)
	}
	m, _ := img.Manifest()
	if m.MediaType != manifest || m.Config.MediaType != config {
		t.Errorf("manifest media types = %s, %s; want %s, %s", m.MediaType, m.Config.MediaType, manifest, config)
	}
	layers, _ := img.Layers()
	for i, d := range m.Layers {
		lt, _ := layers[i].MediaType()
		if d.MediaType != layer || lt != layer {
			t.Errorf("layer %d media type = %s (descriptor), %s (layer); want %s", i, d.MediaType, lt, layer)
		}
	}
}

func TestImageErrors(t *testing.T) {
	l := mustLayer(t, nil, LayerSpec{Entries: []Entry{{Path: "/a", Type: tar.TypeReg}}}, Options{})
	if _, err := Image([]v1.Layer{l}, []LayerSpec{{}, {}}, Config{Architecture: "amd64"}, Options{}); err == nil {
		t.Errorf("Image() with 1 layer and 2 specs succeeded")
	}
	if _, err := Image([]v1.Layer{l}, nil, Config{}, Options{}); err == nil {
		t.Errorf("Image() without an architecture succeeded")
	}
	img, err := Image([]v1.Layer{l}, nil, Config{Architecture: "amd64"}, Options{})
	if err != nil {
		t.Fatalf("Image() without specs = %v", err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("validate.Image() = %v", err)
	}
}

// TestImageCopiesConfig checks that changing the caller's Config after Image
// does not change the image.
func TestImageCopiesConfig(t *testing.T) {
	l := mustLayer(t, nil, LayerSpec{Entries: []Entry{{Path: "/a", Type: tar.TypeReg}}}, Options{})
	cfg := Config{Architecture: "amd64", Env: []string{"A=1"}, Labels: map[string]string{"k": "v"}}
	img, err := Image([]v1.Layer{l}, nil, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := img.RawConfigFile()
	cfg.Env[0] = "A=2"
	cfg.Labels["k"] = "w"
	after, _ := img.RawConfigFile()
	cf, _ := img.ConfigFile()
	if string(before) != string(after) || cf.Config.Env[0] != "A=1" || cf.Config.Labels["k"] != "v" {
		t.Errorf("the image changed with the caller's config: %s", after)
	}
}

func digestOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("Digest() = %v", err)
	}
	return d
}

func TestWriteDockerArchive(t *testing.T) {
	img := testImage(t, Options{}, "docker archive")
	dir := t.TempDir()
	path := filepath.Join(dir, "img.tar")
	if err := WriteDockerArchive(context.Background(), path, "hello", img); err != nil {
		t.Fatalf("WriteDockerArchive() = %v", err)
	}
	back, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		t.Fatalf("tarball.ImageFromPath() = %v", err)
	}
	if got, want := digestOf(t, back), digestOf(t, img); got != want {
		t.Errorf("digest read back = %v, want %v", got, want)
	}
	if err := validate.Image(back); err != nil {
		t.Errorf("validate.Image(read back) = %v", err)
	}
	// The bare name was recorded as name:latest.
	tag, _ := name.NewTag("hello:latest")
	if _, err := tarball.ImageFromPath(path, &tag); err != nil {
		t.Errorf("no image tagged hello:latest: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("archive mode = %v, %v", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %v, want only img.tar", ents)
	}
	if err := WriteDockerArchive(context.Background(), path, "Bad:Tag!", img); err == nil {
		t.Errorf("WriteDockerArchive() with a bad tag succeeded")
	}
}

// failingImage is an image whose top layer fails after some bytes.
type failingImage struct{ v1.Image }

type failingLayer struct{ v1.Layer }

var errInjected = errors.New("injected failure")

func (l failingLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	return io.NopCloser(io.MultiReader(io.LimitReader(rc, 10), errReader{})), nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errInjected }

func (i failingImage) Layers() ([]v1.Layer, error) {
	ls, err := i.Image.Layers()
	if err != nil {
		return nil, err
	}
	ls[len(ls)-1] = failingLayer{ls[len(ls)-1]}
	return ls, nil
}

// writeFailure is a write of img that fails: its context is cancelled, or
// a layer fails to read. The error must wrap is.
type writeFailure struct {
	name string
	ctx  context.Context
	img  v1.Image
	is   error
}

// writeFailures are the failing writes of img.
func writeFailures(img v1.Image) []writeFailure {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	return []writeFailure{
		{"cancelled", cancelled, img, context.Canceled},
		{"layer fails", context.Background(), failingImage{img}, errInjected},
	}
}

func TestWriteDockerArchiveFailure(t *testing.T) {
	for _, tt := range writeFailures(testImage(t, Options{}, strings.Repeat("x", 1<<20))) {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "img.tar")
			err := WriteDockerArchive(tt.ctx, path, "hello:1", tt.img)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), path) {
				t.Errorf("WriteDockerArchive() = %v, want %v naming the path", err, tt.is)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("directory holds %v after the error", ents)
			}
		})
	}
}

// layoutImages returns the layout's images by ref name.
func layoutImages(t *testing.T, dir string) map[string]v1.Hash {
	t.Helper()
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("layout.ImageIndexFromPath() = %v", err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]v1.Hash{}
	for _, d := range im.Manifests {
		out[d.Annotations[RefNameAnnotation]] = d.Digest
		img, err := ii.Image(d.Digest)
		if err != nil {
			t.Fatalf("reading image %v: %v", d.Digest, err)
		}
		if err := validate.Image(img); err != nil {
			t.Errorf("validate.Image(%v) = %v", d.Digest, err)
		}
	}
	return out
}

func TestWriteOCILayout(t *testing.T) {
	ctx := context.Background()
	img1 := testImage(t, Options{}, "one")
	img2 := testImage(t, Options{}, "two")
	img3 := testImage(t, Options{OCIMediaTypes: true}, "three")
	d1, d2, d3 := digestOf(t, img1), digestOf(t, img2), digestOf(t, img3)
	parent := t.TempDir()
	dir := filepath.Join(parent, "sub", "layout")

	if err := WriteOCILayout(ctx, dir, "app", img1); err != nil {
		t.Fatalf("WriteOCILayout() = %v", err)
	}
	if got := layoutImages(t, dir); len(got) != 1 || got["app:latest"] != d1 {
		t.Errorf("layout = %v, want app:latest %v", got, d1)
	}
	if err := WriteOCILayout(ctx, dir, "other:2", img2); err != nil {
		t.Fatalf("WriteOCILayout(existing) = %v", err)
	}
	// The same name again replaces the image.
	if err := WriteOCILayout(ctx, dir, "app:latest", img3); err != nil {
		t.Fatalf("WriteOCILayout(existing) = %v", err)
	}
	got := layoutImages(t, dir)
	if len(got) != 2 || got["app:latest"] != d3 || got["other:2"] != d2 {
		t.Errorf("layout = %v, want app:latest %v and other:2 %v", got, d3, d2)
	}
	if ents, _ := os.ReadDir(filepath.Join(parent, "sub")); len(ents) != 1 {
		t.Errorf("parent holds %v, want only the layout", ents)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("layout holds %v, want blobs, index.json, oci-layout", ents)
	}

	// An empty directory becomes a layout.
	empty := t.TempDir()
	if err := WriteOCILayout(ctx, empty, "", img1); err != nil {
		t.Fatalf("WriteOCILayout(empty dir) = %v", err)
	}
	if got := layoutImages(t, empty); len(got) != 1 || got[""] != d1 {
		t.Errorf("layout = %v, want one unnamed image %v", got, d1)
	}

	// A directory that is not a layout is refused.
	notLayout := t.TempDir()
	os.WriteFile(filepath.Join(notLayout, "file"), nil, 0o644)
	if err := WriteOCILayout(ctx, notLayout, "app", img1); err == nil {
		t.Errorf("WriteOCILayout(non-layout dir) succeeded")
	}
}

// TestWriteOCILayoutFailure: a failed or cancelled write leaves nothing,
// neither the layout nor the parents it made for it.
func TestWriteOCILayoutFailure(t *testing.T) {
	for _, tt := range writeFailures(testImage(t, Options{}, "x")) {
		// The layout's directory, and directories made for it.
		for _, sub := range []string{"layout", "a/b/c/layout"} {
			t.Run(tt.name+"/"+sub, func(t *testing.T) {
				parent := t.TempDir()
				err := WriteOCILayout(tt.ctx, filepath.Join(parent, sub), "app", tt.img)
				if !errors.Is(err, tt.is) {
					t.Errorf("WriteOCILayout() = %v, want %v", err, tt.is)
				}
				if ents, _ := os.ReadDir(parent); len(ents) != 0 {
					t.Errorf("parent holds %v after the error", ents)
				}
			})
		}
	}
}

func TestNormalizeTag(t *testing.T) {
	for in, want := range map[string]string{
		"hello":                "hello:latest",
		"hello:1.0":            "hello:1.0",
		"localhost:5000/a/b":   "localhost:5000/a/b:latest",
		"localhost:5000/a/b:c": "localhost:5000/a/b:c",
	} {
		got, err := NormalizeTag(in)
		if err != nil || got.String() != want {
			t.Errorf("NormalizeTag(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "Hello", "a@sha256:0000"} {
		if _, err := NormalizeTag(bad); err == nil {
			t.Errorf("NormalizeTag(%q) succeeded", bad)
		}
	}
}
