package sbom

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/fromscratch/fromscratch/rootfs"
)

// tarLayer makes a layer of raw tar entries (whiteouts included).
func tarLayer(t *testing.T, entries ...*tar.Header) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		data := ""
		if h.Typeflag == tar.TypeReg {
			data = h.Linkname // the content, for brevity
			h.Linkname = ""
			h.Size = int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, data)
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func reg(name, content string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Linkname: content, Mode: 0o644}
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestFiles: later layers win, whiteouts and opaque directories delete,
// hard links count as their file.
func TestFiles(t *testing.T) {
	l1 := tarLayer(t, reg("a", "one"), reg("d/x", "x"), reg("d/y", "y"), reg("o/z", "z"), reg("gone", "g"))
	l2 := tarLayer(t, reg("a", "two"), &tar.Header{Typeflag: tar.TypeReg, Name: ".wh.gone"},
		&tar.Header{Typeflag: tar.TypeReg, Name: "d/.wh.x"}, &tar.Header{Typeflag: tar.TypeReg, Name: "o/.wh..wh..opq"},
		reg("o/new", "n"), &tar.Header{Typeflag: tar.TypeLink, Name: "hl", Linkname: "o/new"})
	files, err := Files(context.Background(), []v1.Layer{l1, l2})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.Path] = f.SHA256
	}
	want := map[string]string{"/a": sum("two"), "/d/y": sum("y"), "/o/new": sum("n"), "/hl": sum("n")}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for p, s := range want {
		if got[p] != s {
			t.Errorf("%s: %q, want %q", p, got[p], s)
		}
	}
}

// TestRecords: a root with two packages, an image holding one file of one:
// the records name that package only, with the md5 of what the image
// holds; the documents list the records' files.
func TestRecords(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		p = filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("var/lib/dpkg/status", "Package: liba\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\nSource: a-src (1.0)\nConffiles:\n /etc/a.conf 0123\nDescription: a\n long\n\nPackage: libb\nStatus: install ok installed\nVersion: 2\nArchitecture: amd64\n")
	write("var/lib/dpkg/info/liba.list", "/.\n/usr\n/usr/lib\n/usr/lib/liba.so.1\n/usr/share/doc/liba/copyright\n")
	write("var/lib/dpkg/info/libb.list", "/usr/lib/libb.so.2\n")
	write("usr/share/doc/liba/copyright", "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: Expat\n")
	write("usr/lib/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.Symlink("../usr/lib/os-release", filepath.Join(root, "etc/os-release"))
	fsys, err := rootfs.Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	img := tarLayer(t, reg("usr/lib/liba.so.1", "A"), reg("app", "mine"))
	doc, spec, err := Apply(context.Background(), OpenFS(fsys), []v1.Layer{img}, true)
	if err != nil {
		t.Fatal(err)
	}
	if spec == nil {
		t.Fatal("no records")
	}
	data := map[string]string{}
	for _, e := range spec.Entries {
		data[e.Path] = string(e.Data)
		if e.Type == tar.TypeSymlink {
			data[e.Path] = "-> " + e.Linkname
		}
	}
	if got := data["/var/lib/dpkg/status.d/liba"]; strings.Contains(got, "Status:") || strings.Contains(got, "Conffiles") || strings.Contains(got, "/etc/a.conf") || !strings.Contains(got, "Version: 1.0-1\n") || !strings.Contains(got, " long\n") {
		t.Errorf("status.d/liba:\n%s", got)
	}
	// md5("A") is 7fc56270e7a70fa81a5935b72eacbe29.
	if got := data["/var/lib/dpkg/status.d/liba.md5sums"]; !strings.HasPrefix(got, "7fc56270e7a70fa81a5935b72eacbe29  usr/lib/liba.so.1\n") || !strings.Contains(got, "  usr/share/doc/liba/copyright\n") {
		t.Errorf("liba.md5sums:\n%s", got)
	}
	if _, ok := data["/var/lib/dpkg/status.d/libb"]; ok {
		t.Errorf("libb has a record, and no file in the image")
	}
	if data["/etc/os-release"] != "-> ../usr/lib/os-release" || !strings.Contains(data["/usr/lib/os-release"], "ID=debian") {
		t.Errorf("os-release: %q, %q", data["/etc/os-release"], data["/usr/lib/os-release"])
	}
	if len(doc.Packages) != 1 || doc.Packages[0].Name != "liba" || doc.Packages[0].Files != 2 || strings.Join(doc.Packages[0].Licenses, ",") != "Expat" {
		t.Fatalf("packages: %+v", doc.Packages)
	}
	owners := map[string]string{}
	for _, f := range doc.Files {
		owners[f.Path] = "-"
		if f.Package != nil {
			owners[f.Path] = f.Package.Name
		}
	}
	for p, want := range map[string]string{"/usr/lib/liba.so.1": "liba", "/app": "-", "/usr/share/doc/liba/copyright": "liba", "/var/lib/dpkg/status.d/liba": "-", "/usr/lib/os-release": "-"} {
		if owners[p] != want {
			t.Errorf("%s: owner %q, want %q", p, owners[p], want)
		}
	}
	doc.Name = "test:1"
	var b bytes.Buffer
	if err := Write(&b, SPDX, doc); err != nil {
		t.Fatal(err)
	}
	var s struct {
		Packages []struct{ Name, LicenseDeclared, SourceInfo string }
	}
	if err := json.Unmarshal(b.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Packages) != 2 || s.Packages[1].LicenseDeclared != "MIT" || s.Packages[1].SourceInfo != "built package from: a-src 1.0" {
		t.Errorf("SPDX packages: %+v", s.Packages)
	}
	if got := doc.PURL(doc.Packages[0]); got != "pkg:deb/debian/liba@1.0-1?arch=amd64&distro=debian-12&upstream=a-src" {
		t.Errorf("purl %s", got)
	}
	// Without an SBOM, the same records from the MD5s alone.
	_, spec5, err := ApplyRecords(context.Background(), OpenFS(fsys), []v1.Layer{img})
	if err != nil || spec5 == nil || !reflect.DeepEqual(spec5.Entries, spec.Entries) {
		t.Errorf("ApplyRecords: %v, records differ from Apply's", err)
	}
	// An image that carries a database gets no records.
	withDB := tarLayer(t, reg("usr/lib/liba.so.1", "A"), reg("var/lib/dpkg/status", "Package: liba\n"))
	if _, spec, err := Apply(context.Background(), OpenFS(fsys), []v1.Layer{withDB}, true); err != nil || spec != nil {
		t.Errorf("records for an image with a database: %v %v", spec, err)
	}
}

// TestApkRecord keeps the files the image holds.
func TestApkRecord(t *testing.T) {
	stanza := "P:musl\nV:1.2\nF:lib\nR:a.so\nZ:Q1a\nR:b.so\nZ:Q1b\nF:usr/bin\nR:ldd\n"
	got := apkRecord(stanza, []File{{Path: "/lib/b.so"}})
	if want := "P:musl\nV:1.2\nF:lib\nR:b.so\nZ:Q1b\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
