//go:build linux

package rootfs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestHostFile: the host root's files behave as *os.File for what FS
// users do with them, and only regular files open.
func TestHostFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("hello, world"), 0o640); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	fsys, err := Dir("/")
	if err != nil {
		t.Fatal(err)
	}
	f, err := fsys.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	want, _ := os.Stat(p)
	if err != nil || fi.Size() != want.Size() || fi.Mode() != want.Mode() || fi.Name() != "f" || !fi.ModTime().Equal(want.ModTime()) {
		t.Errorf("Stat = %v %v, want %v", fi, err, want)
	}
	b := make([]byte, 5)
	if n, err := f.ReadAt(b, 7); n != 5 || err != nil || string(b) != "world" {
		t.Errorf("ReadAt(7) = %d %v %q", n, err, b)
	}
	if n, err := f.ReadAt(b, 10); n != 2 || err != io.EOF {
		t.Errorf("ReadAt(10) = %d %v, want 2 EOF", n, err)
	}
	if all, err := io.ReadAll(f); err != nil || string(all) != "hello, world" {
		t.Errorf("ReadAll = %q %v", all, err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := f.Close(); err == nil {
		t.Error("second Close succeeded")
	}
	if _, err := fsys.Open(dir); !errors.Is(err, errIsDir) {
		t.Errorf("Open(dir) = %v, want %v", err, errIsDir)
	}
	if _, err := fsys.Open(fifo); !errors.Is(err, errNotRegular) {
		t.Errorf("Open(fifo) = %v, want %v", err, errNotRegular)
	}
	if _, err := fsys.Open(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want not exist", err)
	}
}

// TestOpenNoFollow: only a regular file of the host root that is not a
// symbolic link opens, also through Cached.
func TestOpenNoFollow(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("hello"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("f", link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	host, err := Dir("/")
	if err != nil {
		t.Fatal(err)
	}
	fsys := Cached(host)
	f, ok := OpenNoFollow(fsys, p)
	if !ok {
		t.Fatalf("OpenNoFollow(%s) failed", p)
	}
	b := make([]byte, 5)
	if n, err := f.ReadAt(b, 0); n != 5 || err != nil || string(b) != "hello" {
		t.Errorf("ReadAt = %d %v %q", n, err, b)
	}
	f.Close()
	for _, name := range []string{link, fifo, dir, filepath.Join(dir, "missing"), filepath.Join(p, "x"), dir + "/./f", "f"} {
		if f, ok := OpenNoFollow(fsys, name); ok {
			f.Close()
			t.Errorf("OpenNoFollow(%s) succeeded", name)
		}
	}
	sub, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := OpenNoFollow(sub, "/f"); ok {
		f.Close()
		t.Error("OpenNoFollow succeeded in a root other than /")
	}
}
