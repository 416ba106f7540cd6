package rootfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"testing"
)

// mkroot makes a root directory:
//
//	/usr/lib/libc.so.6     (file "libc")
//	/lib -> usr/lib        (relative)
//	/lib64 -> /usr/lib     (absolute: re-rooted)
//	/usr/lib/up -> ../../../../../etc   (climbs: stops at the root)
//	/etc/passwd            (file "root's passwd")
//	/loop -> loop2, /loop2 -> loop
//	/escape -> /etc/passwd (absolute: the root's, not the host's)
func mkroot(t *testing.T) string {
	t.Helper()
	r := t.TempDir()
	for _, d := range []string{"usr/lib", "etc"} {
		os.MkdirAll(filepath.Join(r, d), 0o755)
	}
	os.WriteFile(filepath.Join(r, "usr/lib/libc.so.6"), []byte("libc"), 0o755)
	os.WriteFile(filepath.Join(r, "etc/passwd"), []byte("root's passwd"), 0o644)
	for link, target := range map[string]string{
		"lib": "usr/lib", "lib64": "/usr/lib", "usr/lib/up": "../../../../../etc",
		"loop": "loop2", "loop2": "loop", "escape": "/etc/passwd",
	} {
		if err := os.Symlink(target, filepath.Join(r, link)); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func TestResolve(t *testing.T) {
	fsys, err := Dir(mkroot(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in, want string
		links    []Link
	}{
		{"/lib/libc.so.6", "/usr/lib/libc.so.6", []Link{{"/lib", "usr/lib"}}},
		{"/lib64/libc.so.6", "/usr/lib/libc.so.6", []Link{{"/lib64", "/usr/lib"}}},
		{"/usr/lib/up/passwd", "/etc/passwd", []Link{{"/usr/lib/up", "../../../../../etc"}}},
		{"/../../etc/passwd", "/etc/passwd", nil},
		{"/escape", "/etc/passwd", []Link{{"/escape", "/etc/passwd"}}},
	}
	for _, tt := range tests {
		got, links, err := Resolve(fsys, tt.in)
		if err != nil || got != tt.want || !reflect.DeepEqual(links, tt.links) {
			t.Errorf("Resolve(%q) = %q, %v, %v; want %q, %v", tt.in, got, links, err, tt.want, tt.links)
		}
	}
	if _, _, err := Resolve(fsys, "/loop"); !errors.Is(err, ErrLoop) {
		t.Errorf("Resolve(/loop) = %v, want ErrLoop", err)
	}
	if p, _, err := Resolve(fsys, "/lib/missing.so"); !errors.Is(err, fs.ErrNotExist) || p != "/usr/lib/missing.so" {
		t.Errorf("Resolve(/lib/missing.so) = %q, %v", p, err)
	}
	if _, _, err := Resolve(fsys, "/etc/passwd/x"); err == nil {
		t.Errorf("Resolve(/etc/passwd/x) = nil error, want not a directory")
	}
}

// TestOpenConfined: an absolute symbolic link is the root's, never the
// host's; Open refuses directories.
func TestOpenConfined(t *testing.T) {
	fsys, err := Dir(mkroot(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/escape", "/usr/lib/up/passwd", "/../../../etc/passwd"} {
		f, err := fsys.Open(p)
		if err != nil {
			t.Fatalf("Open(%q) = %v", p, err)
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if string(b) != "root's passwd" {
			t.Errorf("Open(%q) read %q, want the root's passwd", p, b)
		}
	}
	if _, err := fsys.Open("/usr"); err == nil {
		t.Errorf("Open(/usr) = nil error, want is a directory")
	}
	if b, err := ReadFile(fsys, "/lib64/libc.so.6", 3); err == nil {
		t.Errorf("ReadFile over the limit = %q, nil error", b)
	}
}

func TestGlobAndCached(t *testing.T) {
	root := mkroot(t)
	fsys, _ := Dir(root)
	got, err := Glob(fsys, "/lib/*.so.*")
	if err != nil || !reflect.DeepEqual(got, []string{"/lib/libc.so.6"}) {
		t.Errorf("Glob = %q, %v", got, err)
	}
	c := Cached(fsys)
	if _, err := c.Lstat("/etc/passwd"); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(root, "etc/passwd"))
	if _, err := c.Lstat("/etc/passwd"); err != nil {
		t.Errorf("Cached Lstat forgot: %v", err)
	}
	if Cached(c) != c {
		t.Errorf("Cached(Cached(x)) wraps twice")
	}
}

func TestTree(t *testing.T) {
	tr := NewTree()
	tr.AddData("/etc/hostname", 0o644, []byte("box"))
	tr.AddSymlink("/lib", "usr/lib")
	tr.AddData("/usr/lib/libz.so.1", 0o755, []byte("z"))
	f, err := tr.Open("/lib/libz.so.1")
	if err != nil {
		t.Fatalf("Open through a symlink = %v", err)
	}
	b, _ := io.ReadAll(f)
	if string(b) != "z" {
		t.Errorf("read %q", b)
	}
	ents, err := tr.ReadDir("/")
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if err != nil || !reflect.DeepEqual(names, []string{"etc", "lib", "usr"}) {
		t.Errorf("ReadDir(/) = %q, %v", names, err)
	}
	tr.Remove("/usr")
	if _, err := tr.Open("/lib/libz.so.1"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open after Remove = %v", err)
	}
}

func TestClean(t *testing.T) {
	for _, name := range []string{
		"", "/", "//", "a", "/a", "a/b", "/a/b", "/a/b/", "/a//b", "/a/./b", "/a/../b", "/.", "/..",
		"/a/.", "/a/..", "/.a", "/..a", "/a.", "/a..", "/a/.b/c", "./a", "../a", "/a/b/c.so.6", "///",
	} {
		if got, want := Clean(name), path.Clean("/"+name); got != want {
			t.Errorf("Clean(%q) = %q, want %q", name, got, want)
		}
	}
	// Every name of up to 7 bytes of '/', '.' and 'a'.
	var gen func(string)
	gen = func(name string) {
		if got, want := Clean(name), path.Clean("/"+name); got != want {
			t.Errorf("Clean(%q) = %q, want %q", name, got, want)
		}
		if len(name) < 7 {
			for _, c := range "/.a" {
				gen(name + string(c))
			}
		}
	}
	gen("")
}

func TestJoin(t *testing.T) {
	for _, clean := range []string{"/", "/a", "/a/b", "/ab/c", "/a/bc", "/lib/x/y"} {
		for _, cur := range []string{"/", "/a", "/ab", "/a/b", "/lib", "/lib/x", "/x"} {
			for _, comp := range []string{"a", "b", "bc", "c", "x", "y", "lib", "ab"} {
				want := cur + "/" + comp
				if cur == "/" {
					want = "/" + comp
				}
				if got := join(clean, cur, comp); got != want {
					t.Errorf("join(%q, %q, %q) = %q, want %q", clean, cur, comp, got, want)
				}
			}
		}
	}
}
