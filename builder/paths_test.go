package builder

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/internal/tartest"
	"github.com/fromscratch/fromscratch/rootfs"
	"github.com/fromscratch/fromscratch/rootsrc"
	"github.com/fromscratch/fromscratch/tracer"
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
	files := imageFiles(t, res.Images[0])
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

// TestSystemAccounts: a run that read /etc/passwd (a listed path) gets an
// image whose /etc/passwd and /etc/group hold the root's system accounts
// after the image's own (a service's user, nobody), and no person's
// account or name, nor the root's root.
func TestSystemAccounts(t *testing.T) {
	requireELF(t, "/bin/true")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n" +
			"alice:x:1000:1000:Alice:/home/alice:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n+::::::\nbad line\n",
		"etc/group": "root:x:0:\nwww-data:x:33:alice,www-data\nalice:x:1000:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fsys, err := rootfs.Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	users, groups := systemAccounts(fsys)
	wantUsers := "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
	wantGroups := "www-data:x:33:www-data\nnogroup:x:65534:\n"
	if users != wantUsers || groups != wantGroups {
		t.Errorf("systemAccounts() = %q, %q; want %q, %q", users, groups, wantUsers, wantGroups)
	}

	for _, c := range []struct {
		paths []string
		want  string
	}{{nil, passwd}, {[]string{"/etc/group"}, passwd + wantUsers}} {
		res, err := Build(context.Background(), Options{Roots: dirRoot(t, root), Program: "/bin/true", AllowMissing: true,
			Add: []AddFile{{Src: "/bin/true", Dst: "/bin/true"}}, Paths: c.paths})
		if err != nil {
			t.Fatalf("Build() = %v", err)
		}
		got := imageFile(t, res.Images[0], "/etc/passwd")
		res.Close()
		if got != c.want {
			t.Errorf("listed %q: /etc/passwd = %q, want %q", c.paths, got, c.want)
		}
	}
}

// imageFiles are the names in img's layers, lowest layer first.
func imageFiles(t *testing.T, img v1.Image) []string {
	t.Helper()
	layers, err := img.Layers()
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
	return files
}

// imageFile is the content of the regular file p in img's layers.
func imageFile(t *testing.T, img v1.Image, p string) string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	content := ""
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if "/"+path.Clean(h.Name) == p {
				b, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				content = string(b)
			}
		}
		rc.Close()
	}
	return content
}

// TestNamesListed: a directory listed with no path under it used is
// listed for its names; one listed to find what the run then used in it
// (an entry, or a path deeper down) is not, nor the root, nor one not
// found, nor one met on a walk (its parent listed too).
func TestNamesListed(t *testing.T) {
	acc := []tracer.Access{
		{Path: "/usr/lib/aspell", Op: tracer.OpList, Found: true},
		{Path: "/usr/lib/aspell", Op: tracer.OpStat, Found: true},
		{Path: "/usr/lib/aspell-extra", Op: tracer.OpOpen, Found: true},
		{Path: "/usr/lib/python3.11", Op: tracer.OpList, Found: true},
		{Path: "/usr/lib/python3.11/json/__init__.py", Op: tracer.OpOpen, Found: true},
		{Path: "/etc/conf.d", Op: tracer.OpList, Found: true},
		{Path: "/etc/conf.d/a.conf", Op: tracer.OpOpen, Found: true},
		{Path: "/usr/share/hunspell", Op: tracer.OpList, Found: true},
		{Path: "/usr/share/hunspell/default.aff", Op: tracer.OpOpen, Found: false},
		{Path: "/", Op: tracer.OpList, Found: true},
		{Path: "/var", Op: tracer.OpList, Found: true},
		{Path: "/gone", Op: tracer.OpList, Found: false},
		{Path: "/usr/lib/python3.11/email", Op: tracer.OpList, Found: true},
	}
	want := []string{"/usr/lib/aspell", "/usr/share/hunspell"}
	if got := NamesListed(acc); !slices.Equal(got, want) {
		t.Errorf("NamesListed() = %q, want %q", got, want)
	}
}

// TestBuildWholeListing: a directory a run listed for its names (a trace's
// JSON read by ReadPathList, or a DIR/* line) comes with its direct
// entries: files with their bytes, a link with its target, a subdirectory
// empty; a link that leads nowhere and what is deeper stay out. A DIR/*
// the root lacks is named missing.
func TestBuildWholeListing(t *testing.T) {
	requireELF(t, "/bin/true")
	root := t.TempDir()
	for _, d := range []string{"usr/lib/dicts/sub", "var/lib/dicts", "bin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range map[string]string{
		"usr/lib/dicts/en.multi":  "add en.rws\n",
		"usr/lib/dicts/de.alias":  "add de.multi\n",
		"usr/lib/dicts/sub/x.dat": "x",
		"var/lib/dicts/en.rws":    "words",
		"usr/lib/elsewhere/a.txt": "a",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"usr/lib/dicts/en.rws": "/var/lib/dicts/en.rws", "usr/lib/dicts/gone.rws": "/var/lib/dicts/gone.rws"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	// A socket among the entries (a listed /run has docker.sock) is left
	// out, not an error.
	sock, err := net.Listen("unix", filepath.Join(root, "usr/lib/dicts/s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	true_, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/true"), true_, 0o755); err != nil {
		t.Fatal(err)
	}
	trace := `{"argv": ["/bin/true"], "accesses": [
		{"path": "/usr/lib/dicts", "op": "list", "found": true, "pid": 1},
		{"path": "/usr/lib/elsewhere", "op": "list", "found": true, "pid": 1},
		{"path": "/usr/lib/elsewhere/a.txt", "op": "open", "found": true, "pid": 1}]}`
	for _, list := range []string{trace, "/usr/lib/dicts/*\n/usr/lib/elsewhere\n/usr/lib/elsewhere/a.txt\n"} {
		paths, err := ReadPathList(strings.NewReader(list))
		if err != nil {
			t.Fatalf("ReadPathList() = %v", err)
		}
		res, err := Build(context.Background(), Options{Roots: dirRoot(t, root), Program: "/bin/true", AllowMissing: true, Paths: paths})
		if err != nil {
			t.Fatalf("Build() = %v", err)
		}
		files := imageFiles(t, res.Images[0])
		res.Close()
		for _, want := range []string{"/usr/lib/dicts/en.multi", "/usr/lib/dicts/de.alias", "/usr/lib/dicts/en.rws", "/var/lib/dicts/en.rws", "/usr/lib/dicts/sub", "/usr/lib/elsewhere/a.txt"} {
			if !slices.Contains(files, want) {
				t.Errorf("%.20q: image lacks %s; has %q", list, want, files)
			}
		}
		for _, unwanted := range []string{"/usr/lib/dicts/sub/x.dat", "/usr/lib/dicts/gone.rws", "/usr/lib/dicts/s.sock"} {
			if slices.Contains(files, unwanted) {
				t.Errorf("%.20q: image has %s", list, unwanted)
			}
		}
	}
	// A directory whose entries hold more than MaxWhole is created empty,
	// with a warning (a sparse file: no disk used).
	if err := os.MkdirAll(filepath.Join(root, "usr/sbin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/sbin/small"), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(root, "usr/sbin/small"), closure.MaxWhole); err != nil {
		t.Fatal(err)
	}
	res, err := Build(context.Background(), Options{Roots: dirRoot(t, root), Program: "/bin/true", AllowMissing: true, Paths: []string{"/usr/sbin/*"}})
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	res.Close()
	if slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, "/usr/sbin") }) {
		t.Errorf("MaxWhole bytes of entries: warnings %q, want none of /usr/sbin", res.Warnings)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/sbin/more"), []byte("y"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err = Build(context.Background(), Options{Roots: dirRoot(t, root), Program: "/bin/true", AllowMissing: true, Paths: []string{"/usr/sbin/*"}})
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	defer res.Close()
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.HasPrefix(w, "/usr/sbin/*: its entries hold 16.0 MB") }) {
		t.Errorf("more than MaxWhole bytes of entries: warnings %q, want one naming /usr/sbin/*", res.Warnings)
	}
	var names []string
	for h := range tartest.Image(t, res.Images[0]) {
		names = append(names, h.Name)
	}
	if !slices.Contains(names, "usr/sbin/") || slices.Contains(names, "usr/sbin/more") {
		t.Errorf("more than MaxWhole bytes of entries: want usr/sbin/ empty, the image has %q", names)
	}

	_, err = Build(context.Background(), Options{Roots: dirRoot(t, root), Program: "/bin/true", AllowMissing: false,
		Paths: []string{"/usr/lib/nodicts/*"}})
	var me *MissingPathsError
	if !errors.As(err, &me) || !slices.Equal(me.Paths, []string{"/usr/lib/nodicts"}) {
		t.Errorf("Build() with a missing DIR/* = %v, want /usr/lib/nodicts missing", err)
	}
}
