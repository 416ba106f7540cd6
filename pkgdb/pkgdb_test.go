package pkgdb

import (
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fromscratch/fromscratch/internal/testenv"
	"github.com/fromscratch/fromscratch/rootfs"
)

// hostDB opens the host's database; the test needs a Debian host.
func hostDB(t *testing.T) *DB {
	t.Helper()
	if _, err := os.Stat(DpkgStatus); err != nil {
		testenv.Missing(t, "not a dpkg host")
	}
	fsys, err := rootfs.Dir("/")
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// dpkgSearch is dpkg -S's package for path.
func dpkgSearch(t *testing.T, p string) string {
	out, err := exec.Command("dpkg", "-S", p).Output()
	if err != nil {
		t.Fatalf("dpkg -S %s: %v", p, err)
	}
	pkg, _, _ := strings.Cut(strings.TrimSpace(string(out)), ":")
	return pkg
}

// TestHostOwner: the owner of libc through both spellings of its path, and
// of a few programs, is what dpkg -S says.
func TestHostOwner(t *testing.T) {
	start := time.Now()
	db := hostDB(t)
	t.Logf("host database: %d packages in %v", len(db.Packages), time.Since(start))
	libc, err := filepath.EvalSymlinks("/lib/x86_64-linux-gnu/libc.so.6")
	if err != nil {
		t.Skip("no x86_64 libc")
	}
	// As dpkg lists them: dpkg -S knows no other spelling.
	for _, p := range []string{"/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/dpkg", "/bin/ls"} {
		real, err := filepath.EvalSymlinks(filepath.Dir(p))
		if err != nil {
			t.Fatal(err)
		}
		phys := filepath.Join(real, filepath.Base(p))
		pkg := db.Owner(phys)
		if pkg == nil {
			t.Errorf("%s (%s): no owner", p, phys)
			continue
		}
		if want := dpkgSearch(t, p); pkg.Name != want {
			t.Errorf("%s: owner %s, dpkg -S says %s", p, pkg.Name, want)
		}
		if pkg.Version == "" || pkg.Architecture == "" {
			t.Errorf("%s: %+v lacks version or architecture", p, pkg)
		}
		if got := db.Owner(p); got != pkg {
			t.Errorf("Owner(%s) = %v, Owner(%s) = %v", p, got, phys, pkg)
		}
	}
	if p := db.Owner("/no/such/file"); p != nil {
		t.Errorf("/no/such/file: owner %s", p.Name)
	}
	// libc6's source is glibc; its md5sums are read.
	pkg := db.Owner(libc)
	if pkg.SourceName() != "glibc" {
		t.Errorf("libc6: source %q, want glibc", pkg.SourceName())
	}
	if sums, err := db.MD5Sums(pkg); err != nil || len(sums) == 0 {
		t.Errorf("libc6: no md5sums")
	}
}

// TestCopyrightLicenses: the License short names of a DEP-5 file, none of a
// free-form one.
func TestCopyrightLicenses(t *testing.T) {
	dep5 := "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: x\nLicense: curl\n\nFiles: lib/*\nLicense: GPL-2+ or LGPL-2.1+ with OpenSSL exception\n text\n .\n more\n\nLicense: curl\n text\n"
	got := CopyrightLicenses([]byte(dep5))
	if want := []string{"curl", "GPL-2+", "LGPL-2.1+"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := SPDXExpression(got); got != "curl AND GPL-2.0-or-later AND LGPL-2.1-or-later" {
		t.Errorf("SPDX: %q", got)
	}
	if got := CopyrightLicenses([]byte("This is the Debian prepackaged version of...\n")); got != nil {
		t.Errorf("free form: %q", got)
	}
	if got := SPDXExpression(nil); got != "NOASSERTION" {
		t.Errorf("none: %q", got)
	}
}

// TestStatusD: a distroless-style root (status.d/NAME with NAME.md5sums)
// on a merged-/usr layout.
func TestStatusD(t *testing.T) {
	dir := t.TempDir()
	mk := func(p, s string) {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk("usr/lib/libz.so.1", "z")
	if err := os.Symlink("usr/lib", filepath.Join(dir, "lib")); err != nil {
		t.Fatal(err)
	}
	mk("var/lib/dpkg/status.d/zlib1g", "Package: zlib1g\nVersion: 1:1.2.13.dfsg-1\nArchitecture: amd64\nSource: zlib\n")
	mk("var/lib/dpkg/status.d/zlib1g.md5sums", "0cc175b9c0f1b6a831c399e269772661  lib/libz.so.1\n")
	fsys, err := rootfs.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(fsys)
	if err != nil {
		t.Fatal(err)
	}
	p := db.Owner("/usr/lib/libz.so.1")
	if p == nil || p.Name != "zlib1g" || p.Version != "1:1.2.13.dfsg-1" || p.Source != "zlib" {
		t.Fatalf("owner: %+v", p)
	}
	if db.ListedPath(p, "/usr/lib/libz.so.1") != "/lib/libz.so.1" {
		t.Errorf("listed path: %q", db.ListedPath(p, "/usr/lib/libz.so.1"))
	}
}

// TestApk: apk's installed database.
func TestApk(t *testing.T) {
	data := "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\no:musl\nL:MIT\nF:lib\nR:ld-musl-x86_64.so.1\nZ:Q1x=\nR:libc.musl-x86_64.so.1\n\nP:zlib\nV:1.3-r0\nA:x86_64\nL:Zlib AND MIT\nF:lib\nR:libz.so.1\n"
	pkgs, err := ParseApk(ApkInstalled, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 2 || pkgs[0].Name != "musl" || !slices.Equal(pkgs[0].Files, []string{"/lib/ld-musl-x86_64.so.1", "/lib/libc.musl-x86_64.so.1"}) {
		t.Fatalf("got %+v", pkgs)
	}
	db := &DB{}
	if l := db.Licenses(pkgs[1]); !slices.Equal(l, []string{"Zlib", "MIT"}) {
		t.Errorf("licences %q", l)
	}
}

// TestMalformed: bad databases give one *Error with the file and line.
func TestMalformed(t *testing.T) {
	for _, c := range []struct{ name, data, want string }{
		{"no colon", "Package: a\nnonsense\n", "line 2: not a field"},
		{"continuation first", " x\n", "line 1: continuation line outside a field"},
		{"no package", "Version: 1\n", "paragraph without a Package field"},
		{"bad name", "Package: ../x\n", "bad package name"},
		{"long line", "Package: a\nX: " + strings.Repeat("a", MaxLine) + "\n", "line longer than"},
	} {
		paras, err := ParseControl(DpkgStatus, []byte(c.data))
		if err == nil {
			for i := range paras {
				if _, _, err = packageOf(DpkgStatus, &paras[i]); err != nil {
					break
				}
			}
		}
		if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), DpkgStatus+": ") {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := ParseMD5Sums("x.md5sums", []byte("zz  usr/bin/x\n")); err == nil {
		t.Errorf("bad md5sums accepted")
	}
	if _, err := ParseApk(ApkInstalled, []byte("P:a\nR:../../etc/x\n")); err == nil {
		t.Errorf("apk R: with a slash accepted")
	}
	if _, err := ParseList("x.list", []byte("relative/path\n")); err == nil {
		t.Errorf("relative list path accepted")
	}
}

// TestOversized: a status file over MaxStatus is refused with one line.
func TestOversized(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "var/lib/dpkg/status")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxStatus + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fsys, _ := rootfs.Dir(dir)
	_, err = Open(fsys)
	if err == nil || !strings.Contains(err.Error(), "file too large") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v", err)
	}
}

// TestDependsClosure: curl's closure on the host holds what dpkg says
// curl depends on, and Depends alternatives pick the installed one.
func TestDependsClosure(t *testing.T) {
	db := hostDB(t)
	curl := db.Find("curl")
	if curl == nil {
		testenv.Missing(t, "curl not installed")
	}
	deps, missing := db.DependsClosure([]*Package{curl})
	names := map[string]bool{}
	for _, p := range deps {
		names[p.Name] = true
	}
	for _, want := range []string{"curl", "libcurl4", "libc6", "zlib1g"} {
		if !names[want] {
			t.Errorf("closure of curl lacks %s (missing: %q)", want, missing)
		}
	}
	if db.Find("no-such-package-here") != nil {
		t.Errorf("found a package that is not installed")
	}
	if got := depNames("libc6 (>= 2.34), zlib1g:any | libz (<< 2) , x [amd64]"); strings.Join(got, ",") != "libc6,zlib1g:any,libz,x" {
		t.Errorf("depNames: %q", got)
	}
}

// TestParseListOnly: the list read for a few base names keeps exactly the
// paths of the whole list that have them, and refuses what ParseList
// refuses, cleaned or not.
func TestParseListOnly(t *testing.T) {
	data := []byte("/.\n/usr\n/usr/bin\n/usr/bin/a\n/usr//lib/./b\r\n/usr/lib/c/\n/usr/lib/d/..\n/usr/share/a\n\n/x/b\n")
	only := map[string]bool{"a": true, "b": true, "c": true, "usr": true}
	all, err := ParseList("l", data)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range all {
		if only[path.Base(p)] {
			want = append(want, p)
		}
	}
	got, err := parseList("l", data, only)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("parseList = %q, %v; want %q", got, err, want)
	}
	if len(want) != 6 {
		t.Errorf("the test's list has %d wanted paths, not 6: %q", len(want), want)
	}
	for _, bad := range []string{"/usr/bin/a\nusr/bin/z\n", "/usr/bin/a\n" + strings.Repeat("x", MaxLine+1) + "\n"} {
		if _, err := parseList("l", []byte(bad), only); err == nil {
			t.Errorf("parseList(%.20q) accepted", bad)
		}
	}
}

// TestParseControlContinuation: a field's continuation lines are joined,
// the field after it and the next paragraph are their own.
func TestParseControlContinuation(t *testing.T) {
	paras, err := ParseControl("s", []byte("Package: a\nDescription: one\n two\n  three\n .\nVersion: 1\n\nPackage: b\nDescription:\n x\n \nPackage: c\nDepends: d\n e"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paras) != 3 {
		t.Fatalf("%d paragraphs, want 3", len(paras))
	}
	for i, c := range []struct{ para, field, want string }{
		{"a", "Description", "one\ntwo\nthree\n."}, {"a", "Version", "1"},
		{"b", "Description", "\nx"}, {"c", "Depends", "d\ne"},
	} {
		p := paras[c.para[0]-'a']
		if got := p.Get(c.field); got != c.want {
			t.Errorf("%d: %s %s = %q, want %q", i, c.para, c.field, got, c.want)
		}
	}
}

// TestExpand: a database opened for libc knows only libc6's paths with that
// name; Expand reads libc6's whole list, as Open has it, and Owner then
// answers for its other files (a gconv module).
func TestExpand(t *testing.T) {
	full := hostDB(t)
	fsys, _ := rootfs.Dir("/")
	db, err := OpenFor(fsys, []string{"/usr/lib/x86_64-linux-gnu/libc.so.6"})
	if err != nil {
		t.Fatal(err)
	}
	libc, want := db.Find("libc6"), full.Find("libc6")
	if libc == nil || want == nil {
		t.Skip("no libc6")
	}
	gconv := "/usr/lib/x86_64-linux-gnu/gconv/ISO8859-1.so"
	if len(libc.Files) >= len(want.Files) || db.Owner(gconv) != nil {
		t.Fatalf("OpenFor kept %d of libc6's %d paths, owner of %s %v", len(libc.Files), len(want.Files), gconv, db.Owner(gconv))
	}
	if err := db.Expand([]*Package{libc}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(libc.Files, want.Files) {
		t.Errorf("expanded: %d paths, Open has %d", len(libc.Files), len(want.Files))
	}
	if full.Owner(gconv) == want && db.Owner(gconv) != libc {
		t.Errorf("owner of %s: %v", gconv, db.Owner(gconv))
	}
}
