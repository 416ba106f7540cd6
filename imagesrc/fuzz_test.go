package imagesrc

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzPlainArchive: whatever the archive holds, reading it as a docker
// archive with plain layers returns an error or an image whose manifest,
// config and layers read without a panic.
func FuzzPlainArchive(f *testing.F) {
	var seed bytes.Buffer
	tw := tar.NewWriter(&seed)
	add := func(name, body string) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		io.WriteString(tw, body)
	}
	var layer bytes.Buffer
	lw := tar.NewWriter(&layer)
	lw.WriteHeader(&tar.Header{Name: "a", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
	lw.Write([]byte("x"))
	lw.Close()
	add("cfg.json", `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:`+sha256Hash(layer.Bytes()).Hex+`"]}}`)
	add("l.tar", layer.String())
	add("manifest.json", `[{"Config":"cfg.json","RepoTags":["a:b"],"Layers":["l.tar"]}]`)
	tw.Close()
	f.Add(seed.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "a.tar")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		img, ok, err := openPlainArchive(p, nil)
		if !ok || err != nil {
			return
		}
		if _, err := img.Manifest(); err != nil {
			return
		}
		img.ConfigFile()
		layers, err := img.Layers()
		if err != nil {
			return
		}
		for _, l := range layers {
			l.Digest()
			if rc, err := l.Uncompressed(); err == nil {
				io.Copy(io.Discard, rc)
				rc.Close()
			}
		}
	})
}
