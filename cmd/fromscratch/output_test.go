package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fromscratch/fromscratch/internal/testenv"
)

// TestOutputNotRegular: -o onto anything but a regular file (a device, a
// named pipe, a symbolic link to a file or to a device, a directory) is
// refused with one line and exit 2, and the thing is left as it was; -o -
// and -o /dev/stdout write the archive to stdout.
func TestOutputNotRegular(t *testing.T) {
	bin := fromscratchBin(t)
	dir := t.TempDir()
	archive := filepath.Join(dir, "jq.tar")
	run(t, "", bin, "build", "-o", archive, "-t", "jq:out", "/usr/bin/jq")
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	targets := map[string]func(p string) error{
		"fifo":         func(p string) error { return unix.Mkfifo(p, 0o644) },
		"symlink":      func(p string) error { return os.Symlink(regular, p) },
		"dangling":     func(p string) error { return os.Symlink(filepath.Join(dir, "none"), p) },
		"directory":    func(p string) error { return os.Mkdir(p, 0o755) },
		"device":       func(p string) error { return unix.Mknod(p, syscall.S_IFCHR|0o666, int(unix.Mkdev(1, 3))) }, // as /dev/null
		"symlink-null": nil,                                                                                         // to "device"
	}
	if os.Geteuid() != 0 {
		if testenv.Required() {
			t.Fatal("not root: cannot make a device node")
		}
		t.Logf("not root: no device node")
		delete(targets, "device")
		delete(targets, "symlink-null")
	}
	ok := true
	for _, name := range []string{"fifo", "symlink", "dangling", "directory", "device", "symlink-null"} {
		mk, wanted := targets[name]
		if !wanted {
			continue
		}
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			if mk == nil {
				mk = func(p string) error { return os.Symlink(filepath.Join(dir, "device"), p) }
			}
			if err := mk(p); err != nil {
				t.Fatal(err)
			}
			before, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"build", "-o", p, "/usr/bin/jq"},
				{"squash", "-o", p, archive},
			} {
				stdout, stderr, code := runFromscratch(t, bin, args...)
				if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "not a regular file") {
					t.Errorf("%v: exit %d\nstdout: %s\nstderr: %s\nwant exit 2 and one line", args, code, stdout, stderr)
					ok = false
				}
				after, err := os.Lstat(p)
				if err != nil || after.Mode() != before.Mode() || (before.Mode().IsDir() && !sameDirEmpty(p)) {
					t.Errorf("%v: %s was %v, is %v (%v)", args, p, before.Mode(), modeOf(after), err)
					ok = false
				}
			}
			if b, _ := os.ReadFile(regular); string(b) != "keep" {
				t.Errorf("%s was written through", regular)
			}
			if ents, _ := filepath.Glob(filepath.Join(dir, ".*")); len(ents) != 0 {
				t.Errorf("temporary files left: %v", ents)
			}
		})
	}
	// Only once the refusals hold: a regression would replace /dev/stdout.
	if !ok {
		t.Fatal("not trying -o /dev/stdout")
	}
	for _, out := range []string{"-", "/dev/stdout"} {
		stdout, stderr, code := runFromscratch(t, bin, "squash", "-o", out, archive)
		if code != 0 || !strings.Contains(stdout, "manifest.json") || !strings.HasPrefix(stderr, "sha256:") && !strings.Contains(stderr, "sha256:") {
			t.Errorf("squash -o %s: exit %d, %d bytes on stdout, stderr %q; want the archive on stdout", out, code, len(stdout), stderr)
		}
	}
	if fi, err := os.Lstat("/dev/stdout"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("/dev/stdout is now %v (%v)", modeOf(fi), err)
	}
}

func modeOf(fi fs.FileInfo) any {
	if fi == nil {
		return nil
	}
	return fi.Mode()
}

func sameDirEmpty(p string) bool {
	ents, err := os.ReadDir(p)
	return err == nil && len(ents) == 0
}

// TestLddRootFailureOneLine: ldd --root failing is one line (the reason),
// not the note about a missing ld.so.cache and then the reason; the note
// stays for a root that resolves.
func TestLddRootFailureOneLine(t *testing.T) {
	bin := fromscratchBin(t)
	root := t.TempDir()
	copyHostPath(t, root, "/usr/bin/jq")
	for _, p := range hostClosure(t, "/usr/bin/jq") {
		copyHostPath(t, root, p)
	}
	writeFile(t, root, "notelf", "just text\n")
	for _, tc := range []struct {
		args []string
		code int
		note bool
	}{
		{[]string{"ldd", "--root", root, "/no/such"}, 2, false},
		{[]string{"ldd", "--root", root, "/notelf"}, 2, false},
		{[]string{"ldd", "--root", root, "/usr/bin/jq", "/no/such"}, 2, false},
		{[]string{"ldd", "--root", root, "/usr/bin/jq"}, 0, true},
	} {
		stdout, stderr, code := runFromscratch(t, bin, tc.args...)
		lines := strings.Count(stderr, "\n")
		switch {
		case code != tc.code:
			t.Errorf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", tc.args, code, tc.code, stdout, stderr)
		case tc.note && (lines != 1 || !strings.Contains(stderr, "note:")):
			t.Errorf("%v: stderr %q, want the note", tc.args, stderr)
		case !tc.note && (lines != 1 || strings.Contains(stderr, "note:")):
			t.Errorf("%v: stderr %q, want one line, the reason", tc.args, stderr)
		}
	}
}

// startBig starts `fromscratch build` of /bin/true with a 1 GB (sparse)
// file added and args, and returns once a file matching glob holds 64 MB
// (or, for a directory, exists): the build is then writing its output.
func startBig(t *testing.T, glob string, args ...string) *exec.Cmd {
	t.Helper()
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 1<<30); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(fromscratchBin(t), append(append([]string{"build"}, args...), "--add", big+":/big", "/bin/true")...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		ms, _ := filepath.Glob(glob)
		for _, m := range ms {
			if fi, err := os.Stat(m); err == nil && (fi.IsDir() || fi.Size() > 64<<20) {
				return cmd
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no %s after a minute", glob)
		}
	}
}

// TestKilledOutputsReclaimed: the hidden temporary archive of a build killed
// with SIGKILL (which nothing can clean up after) is removed by the next
// build to the same -o; a build interrupted while it writes --oci-layout
// a/b/c/DIR leaves neither DIR nor the parents it made.
func TestKilledOutputsReclaimed(t *testing.T) {
	bin := fromscratchBin(t)
	out := t.TempDir()
	target := filepath.Join(out, "img.tar")
	cmd := startBig(t, filepath.Join(out, ".img.tar.tmp-*"), "-o", target)
	cmd.Process.Kill()
	cmd.Wait()
	stale, _ := filepath.Glob(filepath.Join(out, ".img.tar.tmp-*"))
	if len(stale) != 1 {
		t.Fatalf("after SIGKILL: %v, want one temporary archive", stale)
	}
	fi, _ := os.Stat(stale[0])
	run(t, "", bin, "build", "-o", target, "/usr/bin/jq")
	if ents, _ := os.ReadDir(out); len(ents) != 1 || ents[0].Name() != "img.tar" {
		t.Errorf("after the next build: %v, want img.tar alone (the killed build's %d MB reclaimed)", ents, fi.Size()>>20)
	}

	out = t.TempDir()
	// Plain layers: a 1 GB blob to copy into the staged layout.
	cmd = startBig(t, filepath.Join(out, "a", "b", "c", ".layout.tmp-*"), "--level", "0", "--oci-layout", filepath.Join(out, "a", "b", "c", "layout"))
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err == nil {
		t.Skip("the build finished before the interrupt")
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("an interrupted --oci-layout a/b/c/layout left %v", ents)
	}
}
