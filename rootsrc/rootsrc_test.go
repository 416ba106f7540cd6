package rootsrc

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/fromscratch/fromscratch/imagefs"
	"github.com/fromscratch/fromscratch/rootfs"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct{ in, plat, root string }{
		{"linux/arm64=/srv/arm64", "linux/arm64", "/srv/arm64"},
		{"linux/arm/v7=docker-archive:a.tar", "linux/arm/v7", "docker-archive:a.tar"},
		{"linux/amd64=registry.example/deb:12", "linux/amd64", "registry.example/deb:12"},
		{"/srv/root", "", "/srv/root"},
		{"./a=b", "", "./a=b"},
		{"linux/arm64=", "", "linux/arm64="},
		{"registry.example/deb:12", "", "registry.example/deb:12"},
	} {
		plat, root := Split(tc.in)
		if plat != tc.plat || root != tc.root {
			t.Errorf("Split(%q) = %q, %q; want %q, %q", tc.in, plat, root, tc.plat, tc.root)
		}
	}
}

func TestOpenDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(context.Background(), "linux/arm64="+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.IsImage() || r.Dir != dir || r.Name != dir || r.Platform != "linux/arm64" {
		t.Errorf("root %+v, want the directory %s of linux/arm64", r, dir)
	}
	if b, err := rootfs.ReadFile(r.FS, "/f", 10); err != nil || string(b) != "x" {
		t.Errorf("ReadFile(/f) = %q, %v", b, err)
	}
	if err := r.KeepContents(context.Background(), []string{"/f"}); err != nil {
		t.Errorf("KeepContents on a directory = %v", err)
	}
	_, err = Open(context.Background(), filepath.Join(dir, "nope"), Options{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing directory) = %v, want ErrNotExist", err)
	}
}

// TestOpenImage opens a docker archive: its platform is the image's, a
// data file's contents are not in the view until KeepContents reads them,
// and the package database Keep names is.
func TestOpenImage(t *testing.T) {
	data := bytes.Repeat([]byte("data "), 1000)
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	for _, f := range []struct {
		name    string
		content []byte
	}{
		{"usr/share/app/data.txt", data},
		{"var/lib/dpkg/status", []byte("Package: app\nStatus: install ok installed\n\n")},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.content)
	}
	tw.Close()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = "linux", "arm", "v7"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "img.tar")
	tag, _ := name.NewTag("app:1")
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatal(err)
	}

	value := "docker-archive:" + p
	if !IsImage(value) || !IsImage("linux/arm/v7="+value) {
		t.Errorf("IsImage(%q) = false", value)
	}
	r, err := Open(context.Background(), value, Options{Keep: func(name string, _ int64) bool { return name == "/var/lib/dpkg/status" }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.IsImage() || r.Dir != "" || r.Platform != "linux/arm/v7" || r.View() == nil {
		t.Errorf("root %+v, want an image of linux/arm/v7", r)
	}
	if b, err := rootfs.ReadFile(r.FS, "/var/lib/dpkg/status", 1<<10); err != nil || !strings.HasPrefix(string(b), "Package: app") {
		t.Errorf("the kept database: %q, %v", b, err)
	}
	if _, err := rootfs.ReadFile(r.FS, "/usr/share/app/data.txt", 1<<20); !errors.Is(err, imagefs.ErrContentNotKept) {
		t.Errorf("a data file before KeepContents: %v, want ErrContentNotKept", err)
	}
	if err := r.KeepContents(context.Background(), []string{"/usr/share/app/data.txt"}); err != nil {
		t.Fatal(err)
	}
	if b, err := rootfs.ReadFile(r.FS, "/usr/share/app/data.txt", 1<<20); err != nil || !bytes.Equal(b, data) {
		t.Errorf("after KeepContents: %d bytes, %v; want %d", len(b), err, len(data))
	}
	if err := r.KeepContents(context.Background(), []string{"/usr/share/app/none"}); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("KeepContents(missing) = %v, want an error naming the image", err)
	}
}
