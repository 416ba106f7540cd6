package slim

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/fromscratch/fromscratch/internal/tartest"
	"github.com/fromscratch/fromscratch/internal/testenv"
)

type ent struct {
	name, body string
	mode       int64
	uid        int
	dir        bool
}

// fatImage is a synthetic image around a static busybox (busybox-static's
// /bin/busybox): a long script entrypoint run by it, a user by name, data
// to keep, junk, and a config with ports and volumes.
func fatImage(t *testing.T, entrypoint string) v1.Image {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		testenv.Missing(t, "no /bin/busybox (apt-get install busybox-static): %v", err)
	}
	script := "#!/bin/busybox sh\n" + strings.Repeat("# a comment longer than what the view keeps\n", 10) + "cat /srv/data/d\n"
	layers := [][]ent{
		{{name: "bin/", dir: true}, {name: "bin/busybox", body: string(bb), mode: 0o755},
			{name: "etc/", dir: true}, {name: "etc/passwd", body: "root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n", mode: 0o644},
			{name: "etc/group", body: "root:x:0:\napp:x:1000:\n", mode: 0o644},
			{name: "usr/", dir: true}, {name: "usr/share/", dir: true}, {name: "usr/share/doc/", dir: true},
			{name: "usr/share/doc/junk", body: strings.Repeat("j", 300000), mode: 0o644}},
		{{name: "srv/", dir: true}, {name: "srv/data/", dir: true, uid: 1000}, {name: "srv/data/d", body: "kept data\n", mode: 0o600, uid: 1000},
			{name: "srv/other", body: "not kept", mode: 0o644},
			{name: "app/", dir: true}, {name: "app/run.sh", body: script, mode: 0o755}},
	}
	img := empty.Image
	for _, es := range layers {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, e := range es {
			h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: time.Unix(1e9, 0), Typeflag: tar.TypeReg, Size: int64(len(e.body))}
			if e.dir {
				h.Typeflag, h.Mode = tar.TypeDir, 0o755
			}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			io.WriteString(tw, e.body)
		}
		tw.Close()
		data := b.Bytes()
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Config = v1.Config{
		Entrypoint: []string{entrypoint}, Cmd: []string{"arg"}, Env: []string{"PATH=/bin", "FOO=bar"},
		User: "app", WorkingDir: "/srv", Labels: map[string]string{"k": "v"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}}, Volumes: map[string]struct{}{"/data": {}}, StopSignal: "SIGTERM",
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// contents reads an image's layers: path -> content (regular files) or
// "" (others), and path -> uid.
func contents(t *testing.T, img v1.Image) (map[string]string, map[string]int) {
	t.Helper()
	files, owners := map[string]string{}, map[string]int{}
	for h, r := range tartest.Image(t, img) {
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		p := "/" + strings.TrimSuffix(h.Name, "/")
		files[p], owners[p] = string(b), h.Uid
	}
	return files, owners
}

func TestSlim(t *testing.T) {
	ctx := context.Background()
	img := fatImage(t, "/app/run.sh")
	out, res, err := Slim(ctx, img, Options{Keep: []string{"/srv/data"}})
	if err != nil {
		t.Fatalf("Slim() = %v", err)
	}
	if res.Program != "/app/run.sh" || res.BytesAfter >= res.BytesBefore || res.Layers == 0 {
		t.Errorf("Slim() result = %+v", res)
	}
	files, owners := contents(t, out)
	if !strings.HasSuffix(files["/app/run.sh"], "cat /srv/data/d\n") {
		t.Errorf("/app/run.sh = %q, want the whole script", files["/app/run.sh"])
	}
	if files["/srv/data/d"] != "kept data\n" || owners["/srv/data/d"] != 1000 || owners["/srv/data"] != 1000 {
		t.Errorf("/srv/data/d = %q owned by %d (dir %d), want the data owned by 1000", files["/srv/data/d"], owners["/srv/data/d"], owners["/srv/data"])
	}
	for _, p := range []string{"/bin/busybox", "/etc/passwd", "/etc/group", "/tmp", "/srv"} {
		if _, ok := files[p]; !ok {
			t.Errorf("%s missing", p)
		}
	}
	for _, p := range []string{"/usr/share/doc/junk", "/srv/other"} {
		if _, ok := files[p]; ok {
			t.Errorf("%s kept, nothing needs it", p)
		}
	}
	want, _ := img.ConfigFile()
	got, _ := out.ConfigFile()
	if !reflect.DeepEqual(want.Config, got.Config) || got.Architecture != "amd64" {
		t.Errorf("config = %+v, want %+v", got.Config, want.Config)
	}
	if len(got.History) != len(got.RootFS.DiffIDs) {
		t.Errorf("%d history entries, %d layers", len(got.History), len(got.RootFS.DiffIDs))
	}
	again, _, err := Slim(ctx, img, Options{Keep: []string{"/srv/data"}})
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := out.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("digests %s and %s, want one", d1, d2)
	}
}

func TestSlimErrors(t *testing.T) {
	ctx := context.Background()
	var se *StartError
	if _, _, err := Slim(ctx, fatImage(t, "/bin/missing"), Options{}); !errors.As(err, &se) || !se.Original {
		t.Errorf("Slim(missing entrypoint) = %v, want a StartError of the original", err)
	}
	if _, _, err := Slim(ctx, fatImage(t, "/app/run.sh"), Options{Keep: []string{"/nope"}}); !errors.Is(err, ErrBadKeep) {
		t.Errorf("Slim(Keep /nope) = %v, want ErrBadKeep", err)
	}
	var ke *KeepError
	if _, _, err := Slim(ctx, fatImage(t, "/app/run.sh"), Options{Keep: []string{"etc"}}); !errors.As(err, &ke) || ke.Path != "etc" || !errors.Is(err, ErrKeepRelative) {
		t.Errorf("Slim(Keep etc) = %v, want a KeepError of etc, ErrKeepRelative", err)
	}
}
