package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDefaultTags: an archive or layout given by its bare path gets the
// same default tag as with its transport prefix; a registry or daemon
// reference keeps its name.
func TestDefaultTags(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "app.tar")
	if err := os.WriteFile(archive, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(dir, "layout")
	os.MkdirAll(layout, 0o755)
	if err := os.WriteFile(filepath.Join(layout, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, c := range []struct{ ref, squash, slim string }{
		{archive, "squashed:latest", "slim:latest"},
		{"app.tar", "squashed:latest", "slim:latest"},
		{"docker-archive:" + archive, "squashed:latest", "slim:latest"},
		{layout, "squashed:latest", "slim:latest"},
		{"registry.example/app:1.0", "registry.example/app:1.0", "registry.example/app:1.0-slim"},
		{"docker-daemon:app:2", "app:2", "index.docker.io/library/app:2-slim"},
	} {
		if got := defaultTag(c.ref); got != c.squash {
			t.Errorf("squash %s: default tag %q, want %q", c.ref, got, c.squash)
		}
		if got := slimTag(c.ref); got != c.slim {
			t.Errorf("slim %s: default tag %q, want %q", c.ref, got, c.slim)
		}
	}
}
