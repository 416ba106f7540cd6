package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// layoutManifest returns the manifest of the only image of the layout at
// dir, and the path of a blob of it.
func layoutManifest(t *testing.T, dir string) (*v1.Manifest, func(v1.Hash) string) {
	t.Helper()
	blob := func(h v1.Hash) string { return filepath.Join(dir, "blobs", h.Algorithm, h.Hex) }
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("index.json: %v, %d manifests", err, len(im.Manifests))
	}
	raw, err = os.ReadFile(blob(im.Manifests[0].Digest))
	if err != nil {
		t.Fatal(err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return m, blob
}

// replaceSame replaces old with new (of the same length) in the file p,
// once.
func replaceSame(t *testing.T, p, old, new string) {
	t.Helper()
	if len(old) != len(new) {
		t.Fatalf("%q and %q differ in length", old, new)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s holds no %q", p, old)
	}
	b = bytes.Replace(b, []byte(old), []byte(new), 1)
	// Blobs may be read-only, or hard links shared with another layout.
	os.Remove(p)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLayoutTamperedBlobs: an OCI layout whose config or layer was replaced
// by other bytes of the same size (a changed entrypoint, a changed
// /etc/passwd in a plain tar layer: both still parse) is refused by every
// command that reads it, with one line and exit 2, before any of its bytes
// is used.
func TestLayoutTamperedBlobs(t *testing.T) {
	bin := fromscratchBin(t)
	good := filepath.Join(t.TempDir(), "layout")
	// Plain tar layers: a changed byte in a file still makes a valid layer.
	run(t, "", bin, "build", "--oci-layout", good, "--level", "0", "-t", "jq:tamper", "/usr/bin/jq")

	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, m *v1.Manifest, blob func(v1.Hash) string)
	}{
		{"config", func(t *testing.T, m *v1.Manifest, blob func(v1.Hash) string) {
			replaceSame(t, blob(m.Config.Digest), `"/usr/bin/jq"`, `"/usr/bin/sh"`)
		}},
		{"layer", func(t *testing.T, m *v1.Manifest, blob func(v1.Hash) string) {
			for _, l := range m.Layers {
				if b, _ := os.ReadFile(blob(l.Digest)); bytes.Contains(b, []byte("root:x:0:0:")) {
					replaceSame(t, blob(l.Digest), "root:x:0:0:", "toor:x:0:0:")
					return
				}
			}
			t.Fatal("no layer holds /etc/passwd")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "layout")
			run(t, "", "cp", "-a", good, dir)
			m, blob := layoutManifest(t, dir)
			tc.tamper(t, m, blob)
			ref := "oci-layout:" + dir
			out := t.TempDir()
			for _, args := range [][]string{
				{"inspect", ref},
				{"doctor", ref},
				{"squash", "-o", filepath.Join(out, "squashed.tar"), ref},
				{"slim", "-o", filepath.Join(out, "slim.tar"), ref},
				{"ldd", "--root", ref, "/usr/bin/jq"},
			} {
				stdout, stderr, code := runFromscratch(t, bin, args...)
				if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "hash to") {
					t.Errorf("%s: exit %d\nstdout: %s\nstderr: %s\nwant exit 2 and one line saying the blob does not hash to its digest", args[0], code, stdout, stderr)
				}
				if strings.Contains(stdout, "/usr/bin/sh") {
					t.Errorf("%s printed the tampered entrypoint:\n%s", args[0], stdout)
				}
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Errorf("squash or slim wrote %v from the tampered layout", ents)
			}
		})
	}
}
