package imagefs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/fromscratch/fromscratch/rootfs"
)

type ent struct {
	name, body, link string
	typ              byte
	mode             int64
}

func reg(name string, size int) ent {
	return ent{name: name, body: strings.Repeat("x", size), typ: tar.TypeReg}
}
func dirE(name string) ent     { return ent{name: name, typ: tar.TypeDir} }
func hard(name, to string) ent { return ent{name: name, link: to, typ: tar.TypeLink} }
func sym(name, to string) ent  { return ent{name: name, link: to, typ: tar.TypeSymlink} }
func wh(name string) ent       { return ent{name: name, typ: tar.TypeReg} }

// makeTarBytes writes entries as a tar.
func makeTarBytes(t *testing.T, es []ent) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
			if e.typ == tar.TypeDir {
				mode = 0o755
			}
		}
		h := &tar.Header{Typeflag: e.typ, Name: e.name, Linkname: e.link, Mode: mode, Size: int64(len(e.body)), ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return b.Bytes()
}

// imageOf builds an image with one layer per entry list.
func imageOf(t *testing.T, layers ...[]ent) v1.Image {
	t.Helper()
	img := empty.Image
	for _, es := range layers {
		b := makeTarBytes(t, es)
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

func paths(fsys *FS) []string {
	var out []string
	for _, f := range fsys.Files() {
		out = append(out, f.Path)
	}
	return out
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name      string
		layers    [][]ent
		want      []string
		wasted    int64
		stats     [][3]int // added, changed, removed per layer
		squashOne bool
	}{
		{"deleted", [][]ent{{reg("a", 10), reg("b", 1)}, {wh(".wh.a")}}, []string{"/b"}, 10, [][3]int{{2, 0, 0}, {0, 0, 1}}, true},
		{"opaque", [][]ent{{dirE("d/"), reg("d/x", 5), reg("d/y", 3)}, {dirE("d/"), wh("d/.wh..wh..opq"), reg("d/z", 2)}},
			[]string{"/d", "/d/z"}, 8, [][3]int{{2, 0, 0}, {1, 0, 2}}, true},
		{"overwritten", [][]ent{{reg("f", 4)}, {reg("f", 6)}}, []string{"/f"}, 4, [][3]int{{1, 0, 0}, {0, 1, 0}}, true},
		{"hardlink survives", [][]ent{{reg("a", 7), hard("b", "a")}, {wh(".wh.a")}}, []string{"/b"}, 0, [][3]int{{2, 0, 0}, {0, 0, 1}}, true},
		{"same-layer whiteout ignored", [][]ent{{reg("n", 3), wh(".wh.n")}}, []string{"/n"}, 0, [][3]int{{1, 0, 0}}, true},
		{"dir replaced by file", [][]ent{{dirE("e/"), reg("e/g", 4)}, {reg("e", 2)}}, []string{"/e"}, 4, [][3]int{{1, 0, 0}, {0, 1, 1}}, true},
		{"duplicate in a layer", [][]ent{{reg("f", 3), reg("f", 5)}}, []string{"/f"}, 3, [][3]int{{1, 1, 0}}, true},
		{"implicit parents", [][]ent{{reg("x/y/z", 1)}}, []string{"/x", "/x/y", "/x/y/z"}, 0, [][3]int{{1, 0, 0}}, true},
		{"through symlink", [][]ent{{dirE("usr/lib/"), sym("lib", "usr/lib"), reg("lib/a", 1)}}, []string{"/lib", "/usr", "/usr/lib", "/usr/lib/a"}, 0, [][3]int{{2, 0, 0}}, true},
		{"aufs metadata ignored", [][]ent{{reg(".wh..wh.plnk/1", 0), reg("a", 1)}}, []string{"/a"}, 0, [][3]int{{1, 0, 0}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := imageOf(t, tc.layers...)
			fsys, err := Open(context.Background(), img, Options{TempDir: t.TempDir()})
			if err != nil {
				t.Fatalf("Open() = %v", err)
			}
			defer fsys.Close()
			if got := paths(fsys); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("paths = %v, want %v", got, tc.want)
			}
			var wasted int64
			for i, l := range fsys.Layers {
				wasted += l.WastedBytes
				if got := [3]int{l.Added, l.Changed, l.Removed}; got != tc.stats[i] {
					t.Errorf("layer %d added, changed, removed = %v, want %v", i, got, tc.stats[i])
				}
			}
			if wasted != tc.wasted {
				t.Errorf("wasted = %d, want %d", wasted, tc.wasted)
			}
			// Squashing everything gives a one-layer image with the
			// same files.
			layers, _ := img.Layers()
			var b bytes.Buffer
			tw := tar.NewWriter(&b)
			if err := fsys.WriteSquashed(context.Background(), tw, layers, 0); err != nil {
				t.Fatalf("WriteSquashed() = %v", err)
			}
			tw.Close()
			var es []ent
			tr := tar.NewReader(&b)
			for {
				h, err := tr.Next()
				if err != nil {
					break
				}
				body, _ := io.ReadAll(tr)
				es = append(es, ent{name: h.Name, typ: h.Typeflag, link: h.Linkname, body: string(body), mode: h.Mode})
			}
			sq, err := Open(context.Background(), imageOf(t, es), Options{TempDir: t.TempDir()})
			if err != nil {
				t.Fatalf("Open(squashed) = %v", err)
			}
			defer sq.Close()
			if got, want := sq.Files(), fsys.Files(); !sameFiles(got, want) {
				t.Errorf("squashed files = %+v, want %+v", got, want)
			}
			if sq.Layers[0].WastedBytes != 0 {
				t.Errorf("squashed wasted = %d", sq.Layers[0].WastedBytes)
			}
		})
	}
}

// sameFiles compares paths, modes and sizes (not layers).
func sameFiles(a, b []File) bool {
	if len(a) != len(b) {
		return false
	}
	sort.Slice(a, func(i, j int) bool { return a[i].Path < a[j].Path })
	for i := range a {
		if a[i].Path != b[i].Path || a[i].Mode != b[i].Mode || a[i].Size != b[i].Size || a[i].Target != b[i].Target {
			return false
		}
	}
	return true
}

func TestOpenContent(t *testing.T) {
	elf := "\x7fELF" + strings.Repeat("\x00", 60)
	img := imageOf(t, []ent{
		{name: "bin/prog", body: elf, typ: tar.TypeReg},
		{name: "etc/passwd", body: "root:x:0:0::/:/bin/sh\n", typ: tar.TypeReg},
		{name: "bin/script", body: "#!/bin/sh\n" + strings.Repeat("echo\n", 100), typ: tar.TypeReg},
		{name: "data", body: "plain data", typ: tar.TypeReg},
		{name: "lib64", link: "bin", typ: tar.TypeSymlink},
	})
	fsys, err := Open(context.Background(), img, Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	if b, err := rootfs.ReadFile(fsys, "/lib64/prog", 1<<20); err != nil || string(b) != elf {
		t.Errorf("ReadFile(/lib64/prog) = %q, %v; want the ELF file", b, err)
	}
	if b, err := rootfs.ReadFile(fsys, "/etc/passwd", 1<<20); err != nil || !strings.HasPrefix(string(b), "root:") {
		t.Errorf("ReadFile(/etc/passwd) = %q, %v", b, err)
	}
	f, err := fsys.Open("/bin/script")
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 10)
	if n, err := f.ReadAt(head, 0); n != 10 || err != nil || string(head) != "#!/bin/sh\n" {
		t.Errorf("script head = %q, %v", head[:n], err)
	}
	if _, err := rootfs.ReadFile(fsys, "/bin/script", 1<<20); !errors.Is(err, ErrContentNotKept) {
		t.Errorf("ReadFile(/bin/script) = %v, want ErrContentNotKept", err)
	}
	if _, err := fsys.Open("/data"); !errors.Is(err, ErrContentNotKept) {
		t.Errorf("Open(/data) = %v, want ErrContentNotKept", err)
	}
	if real, err := rootfs.Realpath(fsys, "/lib64/prog"); err != nil || real != "/bin/prog" {
		t.Errorf("Realpath = %q, %v", real, err)
	}
}

func TestCleanName(t *testing.T) {
	for raw, want := range map[string]string{
		"a/b": "/a/b", "./a": "/a", "/etc/x": "/etc/x", "../../x": "/x", "a/../../b": "/b", "": "/", ".": "/",
	} {
		if got, err := CleanName(raw); err != nil || got != want {
			t.Errorf("CleanName(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
}
