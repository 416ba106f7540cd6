package builder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/rootsrc"
)

// dirRoot is Options.Roots for the directory dir.
func dirRoot(t *testing.T, dir string) []*rootsrc.Root {
	t.Helper()
	r, err := rootsrc.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return []*rootsrc.Root{r}
}

// TestBuildPaths builds from a root with listed paths: a file with its
// directory's other entries left out, a directory without its contents, a
// file reached through a symbolic link, the link kept; the image's own
// /etc/passwd is not replaced by the root's.
func TestBuildPaths(t *testing.T) {
	requireELF(t, "/bin/true")
	root := t.TempDir()
	for _, d := range []string{"usr/share/app/sub", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range map[string]string{
		"usr/share/app/used.txt":    "used",
		"usr/share/app/unused.txt":  "unused",
		"usr/share/app/sub/x.txt":   "x",
		"etc/passwd":                "root:x:0:0:the root's own:/root:/bin/sh\n",
		"usr/share/app/target.conf": "conf",
	} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("target.conf", filepath.Join(root, "usr/share/app/link.conf")); err != nil {
		t.Fatal(err)
	}
	true_, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	// The root has no loader or libraries: AllowMissing builds anyway.
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/true"), true_, 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := Build(context.Background(), Options{Roots: dirRoot(t, root), Program: "/bin/true", AllowMissing: true,
		Paths: []string{"/usr/share/app/used.txt", "/usr/share/app/sub", "/usr/share/app/link.conf", "/etc/passwd", "/tmp/made-by-the-run"}})
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	defer res.Close()
	layers, err := res.Images[0].Layers()
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, layerFiles(t, rc)...)
	}
	for _, want := range []string{"/usr/share/app/used.txt", "/usr/share/app/sub", "/usr/share/app/link.conf", "/usr/share/app/target.conf"} {
		if !slices.Contains(files, want) {
			t.Errorf("image lacks %s; has %q", want, files)
		}
	}
	for _, unwanted := range []string{"/usr/share/app/unused.txt", "/usr/share/app/sub/x.txt"} {
		if slices.Contains(files, unwanted) {
			t.Errorf("image has %s, which no listed path names", unwanted)
		}
	}
	if n := count(files, "/etc/passwd"); n != 1 {
		t.Errorf("/etc/passwd is %d times in the layers, want once (the image's own)", n)
	}

	_, err = Build(context.Background(), Options{Roots: dirRoot(t, root), Program: "/bin/true", AllowMissing: false,
		Paths: []string{"/usr/share/app/nope"}})
	if !errors.Is(err, closure.ErrMissing) {
		t.Errorf("Build() with a missing listed path = %v, want ErrMissing", err)
	}
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}
