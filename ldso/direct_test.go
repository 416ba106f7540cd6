package ldso

import (
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"

	"github.com/fromscratch/fromscratch/internal/testenv"
	"github.com/fromscratch/fromscratch/rootfs"
)

// TestResolveHostDirect: on the host root, files named directly, through
// symbolic links, twice, or that cannot be read answer as through the
// general way (a root other than "/", which resolves every component).
func TestResolveHostDirect(t *testing.T) {
	exe, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		testenv.Missing(t, "%v", err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		testenv.Missing(t, "%v", err)
	}
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "prog"), b, 0o755))
	must(os.WriteFile(filepath.Join(dir, "text"), []byte("hello"), 0o644))
	must(os.Symlink("prog", filepath.Join(dir, "link")))
	must(os.Symlink(".", filepath.Join(dir, "self")))
	must(os.Symlink("missing", filepath.Join(dir, "dangling")))
	must(syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	must(os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	names := []string{"prog", "link", "self/prog", "self/link", "prog", "text", "dangling", "fifo", "sub", "missing", "prog/x", "self/self/text"}
	host, err := rootfs.Dir("/")
	must(err)
	files := make([]string, len(names))
	for i, n := range names {
		files[i] = dir + "/" + n
	}
	got, gotErrs := New(host, Options{}).ResolveAll(files)
	for i, f := range files {
		// Each file alone, so nothing is known before it.
		want, wantErr := New(host, Options{}).Resolve(f)
		if (gotErrs[i] == nil) != (wantErr == nil) || (wantErr != nil && gotErrs[i].Error() != wantErr.Error()) {
			t.Errorf("%s: error %v, alone %v", names[i], gotErrs[i], wantErr)
			continue
		}
		if wantErr != nil {
			continue
		}
		if got[i].Realpath != want.Realpath || !reflect.DeepEqual(got[i].Links, want.Links) || got[i].File != want.File || len(got[i].Libraries) != len(want.Libraries) {
			t.Errorf("%s: %s %v, alone %s %v", names[i], got[i].Realpath, got[i].Links, want.Realpath, want.Links)
		}
		if wantReal, _ := filepath.EvalSymlinks(f); got[i].Realpath != wantReal {
			t.Errorf("%s: realpath %s, want %s", names[i], got[i].Realpath, wantReal)
		}
	}
	if gotErrs[0] != nil || len(got[1].Links) != 1 || len(got[0].Links) != 0 {
		t.Errorf("prog: %v; link: links %v", gotErrs[0], got[1].Links)
	}
	for _, i := range []int{5, 6, 7, 8, 9, 10} {
		if gotErrs[i] == nil {
			t.Errorf("%s: no error", names[i])
		}
	}
}
