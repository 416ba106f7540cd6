package inspect

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/fromscratch/fromscratch/imagefs"
)

// entry is a tar entry of a test layer: a regular file with body, a
// directory (name ends in "/"), or a hard link to link.
type entry struct {
	name, body, link string
	mode             int64
}

// layerOf is a layer of the entries, in order.
func layerOf(t *testing.T, es ...entry) v1.Layer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o644, Size: int64(len(e.body)), ModTime: time.Unix(0, 0)}
		switch {
		case e.link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, e.link, 0
		case strings.HasSuffix(e.name, "/"):
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		}
		if e.mode != 0 {
			h.Mode = e.mode
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func file(name string, size int) entry { return entry{name: name, body: strings.Repeat("x", size)} }

const (
	script = "#!/bin/sh -e\nexec true \"$@\"\n"
	status = "Package: foo\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\n\n"
	list   = "/.\n/data\n/data/link\n/data/big2\n"
)

// testImage has three layers:
//
//	0: /bin/prog (a script), /data/big (1000 bytes) and its hard link
//	   /data/link, /data/big2 (500) and its hard link /data/big2link,
//	   /etc/a (100), /dir/x (200), /dir/sub/y (300), foo's dpkg records
//	1: /etc/a again (150), /dir deleted, /tmp/t twice (40, then 60)
//	2: /etc/a again (10), /data/big deleted (/data/link keeps its content)
func testImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image,
		layerOf(t, entry{name: "bin/"}, entry{name: "bin/prog", body: script, mode: 0o755},
			entry{name: "data/"}, file("data/big", 1000), entry{name: "data/link", link: "data/big"},
			file("data/big2", 500), entry{name: "data/big2link", link: "data/big2"},
			entry{name: "etc/"}, file("etc/a", 100), entry{name: "dir/"}, file("dir/x", 200), entry{name: "dir/sub/"}, file("dir/sub/y", 300),
			entry{name: "var/lib/dpkg/status", body: status}, entry{name: "var/lib/dpkg/info/foo.list", body: list}),
		layerOf(t, file("etc/a", 150), entry{name: ".wh.dir"}, entry{name: "tmp/"}, file("tmp/t", 40), file("tmp/t", 60)),
		layerOf(t, file("etc/a", 10), entry{name: "data/.wh.big"}))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg.OS, cfg.Architecture, cfg.Variant = "linux", "arm", "v7"
	cfg.Config = v1.Config{
		Entrypoint: []string{"prog"}, Cmd: []string{"-x"}, Env: []string{"PATH=/usr/bin:/bin"},
		User: "app", WorkingDir: "/data", ExposedPorts: map[string]struct{}{"8080/tcp": {}, "53/udp": {}},
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestRead: totals, wasted files (overwritten, deleted with their
// directory, written twice in one layer), hard links (no bytes of their
// own, not wasted while a name survives, one file among the largest), the
// config, the entrypoint and the packages, exactly.
func TestRead(t *testing.T) {
	r, err := Read(context.Background(), testImage(t), Options{Name: "test", Top: 10, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	layer0 := int64(len(script) + 1000 + 500 + 100 + 200 + 300 + len(status) + len(list))
	var bytes, wasted []int64
	for _, l := range r.Layers {
		bytes, wasted = append(bytes, l.Bytes), append(wasted, l.WastedBytes)
	}
	if want := []int64{layer0, 150 + 40 + 60, 10}; !reflect.DeepEqual(bytes, want) {
		t.Errorf("layers' bytes = %v, want %v", bytes, want)
	}
	if want := []int64{100 + 200 + 300, 150 + 40, 0}; !reflect.DeepEqual(wasted, want) {
		t.Errorf("layers' wasted bytes = %v, want %v", wasted, want)
	}
	total := layer0 + 250 + 10
	if r.TotalBytes != total || r.WastedBytes != 790 {
		t.Errorf("total, wasted = %d, %d; want %d, 790", r.TotalBytes, r.WastedBytes, total)
	}
	if eff := 1 - 790/float64(total); r.Efficiency != eff || r.WastedPercent != 100*790/float64(total) {
		t.Errorf("efficiency, wasted %% = %v, %v; want %v", r.Efficiency, r.WastedPercent, eff)
	}
	wantWaste := []imagefs.Waste{{Path: "/dir/sub/y", Count: 1, Bytes: 300}, {Path: "/etc/a", Count: 2, Bytes: 250},
		{Path: "/dir/x", Count: 1, Bytes: 200}, {Path: "/tmp/t", Count: 1, Bytes: 40}}
	if !reflect.DeepEqual(r.WastedFiles, wantWaste) {
		t.Errorf("wasted files = %+v\nwant %+v", r.WastedFiles, wantWaste)
	}
	wantLargest := []imagefs.File{{Path: "/data/link", Size: 1000}, {Path: "/data/big2", Size: 500, Links: []string{"/data/big2link"}},
		{Path: "/var/lib/dpkg/status", Size: int64(len(status))}, {Path: "/tmp/t", Size: 60, Layer: 1}}
	for i := range r.Largest {
		r.Largest[i].Mode = 0
	}
	if !reflect.DeepEqual(r.Largest[:4], wantLargest) {
		t.Errorf("largest = %+v\nwant %+v...", r.Largest, wantLargest)
	}
	wantConfig := Config{Entrypoint: []string{"prog"}, Cmd: []string{"-x"}, Env: []string{"PATH=/usr/bin:/bin"},
		User: "app", WorkingDir: "/data", ExposedPorts: []string{"53/udp", "8080/tcp"}}
	if !reflect.DeepEqual(r.Config, wantConfig) {
		t.Errorf("config = %+v, want %+v", r.Config, wantConfig)
	}
	wantEntry := Entrypoint{Command: []string{"prog", "-x"}, Path: "/bin/prog", Kind: "script", Interpreter: "/bin/sh -e"}
	if !reflect.DeepEqual(r.Entrypoint, wantEntry) {
		t.Errorf("entrypoint = %+v, want %+v", r.Entrypoint, wantEntry)
	}
	wantPkgs := []Package{{Name: "foo", Version: "1.0-1", Architecture: "amd64", Type: "deb", Files: 2, Bytes: 1500}}
	if !reflect.DeepEqual(r.Packages, wantPkgs) {
		t.Errorf("packages = %+v, want %+v", r.Packages, wantPkgs)
	}
	// The files left: the script, /data/big2link, /etc/a, /tmp/t, the
	// records.
	if want := int64(len(script) + 500 + 10 + 60 + len(status) + len(list)); r.UnpackagedBytes != want {
		t.Errorf("unpackaged bytes = %d, want %d", r.UnpackagedBytes, want)
	}
	var size, tar int64
	for _, l := range r.Layers {
		size, tar = size+l.Size, tar+l.UncompressedSize
	}
	if r.Size != size || r.Uncompressed != tar || size == 0 || tar <= size || r.Platform != "linux/arm/v7" || r.Image != "test" {
		t.Errorf("size, uncompressed, platform, image = %d, %d, %s, %s: want %d, %d, linux/arm/v7, test", r.Size, r.Uncompressed, r.Platform, r.Image, size, tar)
	}
}
