package image

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestReclaimStale: the temporaries of a target that no process holds (left
// by a killed run) are removed by the next createTemp or mkdirTemp for that
// target; one held by a live writer, and anything not named as ours, stay.
func TestReclaimStale(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "img.tar")
	mk := func(name string, isDir bool) string {
		p := filepath.Join(dir, name)
		var err error
		if isDir {
			err = os.MkdirAll(filepath.Join(p, "blobs"), 0o755)
		} else {
			err = os.WriteFile(p, []byte("stale"), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	staleFile := mk(".img.tar.tmp-123456", false)
	staleDir := mk(".img.tar.tmp-654321", true)
	others := []string{
		mk(".img.tar.tmp-notdigits", false),
		mk(".other.tar.tmp-123456", false),
		mk("img.tar.tmp-123456", false),
	}
	link := filepath.Join(dir, ".img.tar.tmp-999")
	if err := os.Symlink(staleFile, link); err != nil {
		t.Fatal(err)
	}
	others = append(others, link)

	live, release, err := createTemp(target) // a writer, still at work
	if err != nil {
		t.Fatal(err)
	}
	live.Close() // the lock outlives the file's closing
	for _, p := range []string{staleFile, staleDir} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("stale %s was not removed", p)
		}
	}
	for _, p := range others {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s is gone: %v", p, err)
		}
	}

	tmp, releaseDir, err := mkdirTemp(target) // another writer
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(live.Name()); err != nil {
		t.Errorf("a live writer's file was removed: %v", err)
	}
	release()
	f, release2, err := createTemp(target)
	if err != nil {
		t.Fatal(err)
	}
	defer release2()
	defer f.Close()
	if _, err := os.Stat(live.Name()); err == nil {
		t.Errorf("the writer's file, released, was not reclaimed")
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Errorf("a live writer's directory was removed: %v", err)
	}
	releaseDir()
}

// TestWriteFileAtomicSpecial: a device or a FIFO is written to, not
// replaced (a rename over /dev/null would turn it into a regular file for
// the whole machine); a directory is an error.
func TestWriteFileAtomicSpecial(t *testing.T) {
	dir := t.TempDir()
	// A null device of our own (as /dev/null: char 1,3), so that a
	// regression replaces it and not the machine's; root only.
	null := filepath.Join(dir, "null")
	if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, 1<<8|3); err == nil {
		if err := WriteFileAtomic(null, []byte("x\n")); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(null); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
			t.Fatalf("%s is now %v (%v)", null, fi.Mode(), err)
		}
	} else if os.Geteuid() == 0 {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan string)
	go func() {
		b, _ := os.ReadFile(fifo)
		got <- string(b)
	}()
	if err := WriteFileAtomic(fifo, []byte("through\n")); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "through\n" {
		t.Errorf("the FIFO's reader got %q", s)
	}
	if err := WriteFileAtomic(t.TempDir(), []byte("x")); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("a directory: %v, want EISDIR", err)
	}
}
