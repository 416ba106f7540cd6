package rootfs

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestOverlay: mounted trees appear at their Dst, with the directories on
// the way made up where base lacks them; links in a mounted tree are
// followed in the overlay; the rest is base's.
func TestOverlay(t *testing.T) {
	base, src := t.TempDir(), t.TempDir()
	for p, body := range map[string]string{
		base + "/etc/os-release":  "base",
		base + "/usr/lib/libc.so": "libc",
		src + "/lib/libx.so":      "libx",
		src + "/bin/app":          "app",
		src + "/../file.conf":     "conf",
	} {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink("../lib/libx.so", src+"/bin/rel")       // relative, inside the tree
	os.Symlink("/opt/app/lib/libx.so", src+"/bin/abs") // absolute, in the image's terms
	os.Symlink("/usr/lib/libc.so", src+"/bin/tobase")  // out to base
	b, err := Dir(base)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Dir("/")
	if err != nil {
		t.Fatal(err)
	}
	o := Overlay(b, []Mount{{Dst: "/opt/app", FS: h, Src: src}, {Dst: "/etc/app.conf", FS: h, Src: filepath.Dir(src) + "/file.conf"}})

	read := func(name string) string {
		t.Helper()
		f, err := o.Open(name)
		if err != nil {
			t.Fatalf("Open(%s) = %v", name, err)
		}
		defer f.Close()
		data, _ := io.ReadAll(f)
		return string(data)
	}
	for name, want := range map[string]string{
		"/opt/app/lib/libx.so": "libx", "/opt/app/bin/rel": "libx", "/opt/app/bin/abs": "libx",
		"/opt/app/bin/tobase": "libc", "/etc/os-release": "base", "/etc/app.conf": "conf",
	} {
		if got := read(name); got != want {
			t.Errorf("Open(%s) reads %q, want %q", name, got, want)
		}
	}
	if fi, err := o.Lstat("/opt"); err != nil || !fi.IsDir() {
		t.Errorf("Lstat(/opt) = %v, %v: want a made-up directory", fi, err)
	}
	if _, err := o.Lstat("/opt/other"); err == nil {
		t.Errorf("Lstat(/opt/other) found something")
	}
	names := func(dir string) []string {
		t.Helper()
		ents, err := o.ReadDir(dir)
		if err != nil {
			t.Fatalf("ReadDir(%s) = %v", dir, err)
		}
		var ns []string
		for _, e := range ents {
			ns = append(ns, e.Name())
		}
		return ns
	}
	for dir, want := range map[string][]string{
		"/": {"etc", "opt", "usr"}, "/opt": {"app"}, "/etc": {"app.conf", "os-release"}, "/opt/app/lib": {"libx.so"},
	} {
		if got := names(dir); !slices.Equal(got, want) {
			t.Errorf("ReadDir(%s) = %v, want %v", dir, got, want)
		}
	}
	if real, err := Realpath(o, "/opt/app/bin/rel"); err != nil || real != "/opt/app/lib/libx.so" {
		t.Errorf("Realpath(/opt/app/bin/rel) = %q, %v", real, err)
	}
}
