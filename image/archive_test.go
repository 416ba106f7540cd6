package image

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// TestArchiveWriter: an archive whose layers are written into it holds the
// image WriteDockerArchive writes from temporary-file layers: same digest,
// valid when read back; nothing is left when it is aborted or refused.
func TestArchiveWriter(t *testing.T) {
	fsys := makeRoot(t, map[string]string{"/bin/app": strings.Repeat("app", 5000), "/lib/x.so": "lib"}, time.Now())
	specs := []LayerSpec{
		{Entries: []Entry{{Path: "/lib/x.so", Type: tar.TypeReg, Mode: 0o644, Source: "/lib/x.so"}}, CreatedBy: "libs"},
		{Entries: []Entry{{Path: "/bin/app", Type: tar.TypeReg, Mode: 0o755, Source: "/bin/app"}}, CreatedBy: "app"},
	}
	cfg := Config{Architecture: "amd64", Entrypoint: []string{"/bin/app"}}
	ctx := context.Background()
	dir := t.TempDir()
	for _, opts := range []Options{{}, {Uncompressed: true}} {
		var layers []v1.Layer
		for _, s := range specs {
			layers = append(layers, mustLayer(t, fsys, s, opts))
		}
		want, err := Image(layers, specs, cfg, opts)
		if err != nil {
			t.Fatal(err)
		}
		wantDigest, _ := want.Digest()

		path := filepath.Join(dir, "direct.tar")
		aw, err := CreateArchive(path)
		if err != nil {
			t.Fatal(err)
		}
		var direct []v1.Layer
		for _, s := range specs {
			l, err := aw.Layer(ctx, fsys, s, opts)
			if err != nil {
				t.Fatal(err)
			}
			direct = append(direct, l)
		}
		img, err := Image(direct, specs, cfg, opts)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := img.Digest(); d != wantDigest {
			t.Errorf("uncompressed=%v: digest %s, want %s", opts.Uncompressed, d, wantDigest)
		}
		if err := aw.Commit(ctx, "app:direct", img); err != nil {
			t.Fatal(err)
		}
		// Readable by go-containerregistry, the same image.
		back, err := tarball.ImageFromPath(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !opts.Uncompressed { // validate reads layers as gzip
			if err := validate.Image(back); err != nil {
				t.Errorf("validate: %v", err)
			}
		}
		gotCfg, _ := back.ConfigName()
		wantCfg, _ := want.ConfigName()
		if gotCfg != wantCfg {
			t.Errorf("uncompressed=%v: config %s, want %s", opts.Uncompressed, gotCfg, wantCfg)
		}
		bl, _ := back.Layers()
		for i, l := range bl {
			got, _ := l.DiffID()
			exp, _ := layers[i].DiffID()
			if got != exp {
				t.Errorf("layer %d: diffID %s, want %s", i, got, exp)
			}
		}
		if err := aw.Close(); err != nil {
			t.Errorf("Close after Commit = %v", err)
		}
	}

	// Refused: a layer that is not in the archive; aborted; closed unused.
	for name, finish := range map[string]func(*ArchiveWriter) error{
		"foreign layer": func(aw *ArchiveWriter) error {
			img, _ := Image([]v1.Layer{mustLayer(t, fsys, specs[0], Options{})}, nil, cfg, Options{})
			return aw.Commit(ctx, "app:x", img)
		},
		"abort": func(aw *ArchiveWriter) error { aw.Abort(); return nil },
		"close": func(aw *ArchiveWriter) error { return aw.Close() },
	} {
		sub := t.TempDir()
		aw, err := CreateArchive(filepath.Join(sub, "img.tar"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := aw.Layer(ctx, fsys, specs[1], Options{}); err != nil {
			t.Fatal(err)
		}
		err = finish(aw)
		if name == "foreign layer" && err == nil {
			t.Errorf("Commit with a foreign layer succeeded")
		}
		if ents, _ := os.ReadDir(sub); len(ents) != 0 {
			t.Errorf("%s: left %v", name, ents)
		}
		if _, err := aw.Layer(ctx, fsys, specs[0], Options{}); err == nil {
			t.Errorf("%s: Layer after the end succeeded", name)
		}
	}
}
