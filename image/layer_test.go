package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fromscratch/fromscratch/internal/tartest"
	"github.com/fromscratch/fromscratch/rootfs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// makeRoot writes files (path -> content) under a new temporary directory,
// every file and directory with mtime and atime at, and returns it as a
// rootfs.FS.
func makeRoot(t *testing.T, files map[string]string, at time.Time) rootfs.FS {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		host := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(host, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, at, at)
	})
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := rootfs.Dir(dir)
	if err != nil {
		t.Fatalf("rootfs.Dir(%q) = %v", dir, err)
	}
	return fsys
}

// header is what the tests compare of a tar header.
type header struct {
	Name     string
	Type     byte
	Mode     int64
	UID, GID int
	Linkname string
	Content  string
}

// readLayer returns the headers of l's tar, in order, and checks what every
// header must have: fixed mtime, no atime/ctime, no names, no PAX records.
func readLayer(t *testing.T, l v1.Layer, mtime time.Time) []header {
	t.Helper()
	var out []header
	for h, r := range tartest.Layer(t, l) {
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("reading %q: %v", h.Name, err)
		}
		if !h.ModTime.Equal(mtime) || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%q: times %v %v %v, want mtime %v only", h.Name, h.ModTime, h.AccessTime, h.ChangeTime, mtime)
		}
		//lint:ignore SA1019 the deprecated Xattrs must be empty too
		if h.Uname != "" || h.Gname != "" || len(h.Xattrs) != 0 {
			t.Errorf("%q: uname %q gname %q", h.Name, h.Uname, h.Gname)
		}
		for k := range h.PAXRecords {
			if k != "path" && k != "linkpath" && k != "uid" && k != "gid" {
				t.Errorf("%q: PAX record %q", h.Name, k)
			}
		}
		out = append(out, header{h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Linkname, string(b)})
	}
	return out
}

func digests(t *testing.T, l v1.Layer) (v1.Hash, v1.Hash) {
	t.Helper()
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	id, err := l.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	return d, id
}

func TestLayerHeaders(t *testing.T) {
	fsys := makeRoot(t, map[string]string{
		"/usr/lib/x86_64-linux-gnu/libc.so.6": "libc",
		"/usr/bin/su":                         "su",
		"/usr/lib/x86_64-linux-gnu/ld.so.2":   "loader",
		"/elsewhere/prog":                     "prog",
	}, time.Now())
	spec := LayerSpec{Entries: []Entry{
		{Path: "/usr/lib/x86_64-linux-gnu/libc.so.6", Type: tar.TypeReg, Mode: 0o644, Source: "/usr/lib/x86_64-linux-gnu/libc.so.6"},
		{Path: "/usr/bin/su", Type: tar.TypeReg, Mode: fs.ModeSetuid | 0o755, Source: "/usr/bin/su"},
		{Path: "/usr/bin/sg", Type: tar.TypeReg, Mode: 0o2755, Source: "/usr/bin/su"}, // raw setgid bit
		{Path: "/tmp", Type: tar.TypeDir, Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		// A symlink chain: /lib64 -> usr/lib64, usr/lib64/ld -> /usr/lib/x86_64-linux-gnu/ld.so.2.
		{Path: "/lib64", Type: tar.TypeSymlink, Linkname: "usr/lib64", Mode: fs.ModeSymlink | 0o777},
		{Path: "/usr/lib64/ld-linux-x86-64.so.2", Type: tar.TypeSymlink, Linkname: "/usr/lib/x86_64-linux-gnu/ld.so.2"},
		{Path: "/usr/lib/x86_64-linux-gnu/ld.so.2", Type: tar.TypeReg, Mode: 0o755, Source: "/usr/lib/x86_64-linux-gnu/ld.so.2"},
		// A file whose source is reached through another name.
		{Path: "/app/prog", Type: tar.TypeReg, Mode: 0o755, Source: "/elsewhere/prog", UID: 1000, GID: 1001},
		{Path: "/app/alias", Type: tar.TypeLink, Linkname: "/app/prog"},
		// An explicit directory keeps its own mode and owner.
		{Path: "/etc", Type: tar.TypeDir, Mode: 0o750, UID: 7, GID: 8},
		{Path: "/etc/passwd", Type: tar.TypeReg, Mode: 0o644, Data: []byte("root:x:0:0::/:/sbin/nologin\n")},
		{Path: "/etc/empty", Type: tar.TypeReg, Mode: 0o600},
	}}
	created := time.Date(2024, 5, 6, 7, 8, 9, 123, time.FixedZone("x", 3600))
	l, err := Layer(fsys, spec, Options{Created: created})
	if err != nil {
		t.Fatalf("Layer() = %v", err)
	}
	defer l.(io.Closer).Close()
	if err := validate.Layer(l); err != nil {
		t.Errorf("validate.Layer() = %v", err)
	}
	got := readLayer(t, l, created.Truncate(time.Second))
	want := []header{
		{Name: "app/", Type: tar.TypeDir, Mode: 0o755},
		// The hard link group goes under the first name: "alias" < "prog".
		{Name: "app/alias", Type: tar.TypeReg, Mode: 0o755, UID: 1000, GID: 1001, Content: "prog"},
		{Name: "app/prog", Type: tar.TypeLink, Mode: 0o755, UID: 1000, GID: 1001, Linkname: "app/alias"},
		{Name: "etc/", Type: tar.TypeDir, Mode: 0o750, UID: 7, GID: 8},
		{Name: "etc/empty", Type: tar.TypeReg, Mode: 0o600},
		{Name: "etc/passwd", Type: tar.TypeReg, Mode: 0o644, Content: "root:x:0:0::/:/sbin/nologin\n"},
		{Name: "lib64", Type: tar.TypeSymlink, Mode: 0o777, Linkname: "usr/lib64"},
		{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
		{Name: "usr/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "usr/bin/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "usr/bin/sg", Type: tar.TypeReg, Mode: 0o2755, Content: "su"},
		{Name: "usr/bin/su", Type: tar.TypeReg, Mode: 0o4755, Content: "su"},
		{Name: "usr/lib/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "usr/lib/x86_64-linux-gnu/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "usr/lib/x86_64-linux-gnu/ld.so.2", Type: tar.TypeReg, Mode: 0o755, Content: "loader"},
		{Name: "usr/lib/x86_64-linux-gnu/libc.so.6", Type: tar.TypeReg, Mode: 0o644, Content: "libc"},
		{Name: "usr/lib64/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "usr/lib64/ld-linux-x86-64.so.2", Type: tar.TypeSymlink, Mode: 0o777, Linkname: "/usr/lib/x86_64-linux-gnu/ld.so.2"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("layer headers:\n got %+v\nwant %+v", got, want)
	}
	if n, err := l.(interface{ UncompressedSize() (int64, error) }).UncompressedSize(); err != nil || n%512 != 0 || n == 0 {
		t.Errorf("UncompressedSize() = %d, %v", n, err)
	}
}

// TestLayerReproducible builds the same entries from two roots with the same
// contents but different mtimes and atimes, in different orders and through
// different temporary directories, and expects the same bytes.
func TestLayerReproducible(t *testing.T) {
	files := map[string]string{
		"/bin/prog":        "#!/bin/sh\necho hi\n",
		"/lib/libfoo.so.1": strings.Repeat("foo", 100000),
	}
	roots := []rootfs.FS{
		makeRoot(t, files, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)),
		makeRoot(t, files, time.Date(2030, 6, 1, 12, 30, 0, 999, time.UTC)),
	}
	entries := []Entry{
		{Path: "/bin/prog", Type: tar.TypeReg, Mode: 0o755, Source: "/bin/prog"},
		{Path: "/lib/libfoo.so.1", Type: tar.TypeReg, Mode: 0o644, Source: "/lib/libfoo.so.1"},
		{Path: "/lib/libfoo.so", Type: tar.TypeSymlink, Mode: 0o777, Linkname: "libfoo.so.1"},
		{Path: "/etc/hostname", Type: tar.TypeReg, Mode: 0o644, Data: []byte("box\n")},
	}
	cfg := Config{Entrypoint: []string{"/bin/prog"}, Architecture: "amd64", Env: []string{"PATH=/bin"}}
	var first []byte
	var firstDigest v1.Hash
	for i, fsys := range roots {
		spec := LayerSpec{Entries: slices.Clone(entries), CreatedBy: "test"}
		if i == 1 {
			slices.Reverse(spec.Entries)
		}
		opts := Options{TempDir: t.TempDir()}
		l, err := Layer(fsys, spec, opts)
		if err != nil {
			t.Fatalf("Layer() = %v", err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		img, err := Image([]v1.Layer{l}, []LayerSpec{spec}, cfg, opts)
		if err != nil {
			t.Fatalf("Image() = %v", err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first, firstDigest = b, d
			continue
		}
		if !bytes.Equal(b, first) {
			t.Errorf("compressed layers differ (%d and %d bytes)", len(first), len(b))
		}
		if d != firstDigest {
			t.Errorf("image digests differ: %v and %v", firstDigest, d)
		}
	}
}

func TestLayerLevels(t *testing.T) {
	fsys := makeRoot(t, map[string]string{"/f": strings.Repeat("abcdefgh", 10000)}, time.Now())
	spec := LayerSpec{Entries: []Entry{{Path: "/f", Type: tar.TypeReg, Mode: 0o644, Source: "/f"}}}
	_, diff0 := digests(t, mustLayer(t, fsys, spec, Options{}))
	dDefault, _ := digests(t, mustLayer(t, fsys, spec, Options{Level: DefaultLevel}))
	d0, _ := digests(t, mustLayer(t, fsys, spec, Options{}))
	d1, diff1 := digests(t, mustLayer(t, fsys, spec, Options{Level: 1}))
	if d0 != dDefault {
		t.Errorf("Level 0 and DefaultLevel give different digests")
	}
	if d1 == d0 {
		t.Errorf("levels 1 and %d give the same digest", DefaultLevel)
	}
	if diff0 != diff1 {
		t.Errorf("the gzip level changed the diffID")
	}
	for _, level := range []int{-1, 10} {
		if _, err := Layer(fsys, spec, Options{Level: level}); err == nil {
			t.Errorf("Layer(Level: %d) succeeded", level)
		}
	}
}

// An uncompressed layer is the same tar as a gzip one's: diffIDs equal,
// digest = diffID, both readers give the tar, media types say so.
func TestLayerUncompressed(t *testing.T) {
	fsys := makeRoot(t, map[string]string{"/f": strings.Repeat("abcdefgh", 10000)}, time.Now())
	spec := LayerSpec{Entries: []Entry{{Path: "/f", Type: tar.TypeReg, Mode: 0o644, Source: "/f"}}}
	_, gzDiff := digests(t, mustLayer(t, fsys, spec, Options{}))
	for _, oci := range []bool{false, true} {
		l := mustLayer(t, fsys, spec, Options{Uncompressed: true, OCIMediaTypes: oci, Level: 99})
		d, diff := digests(t, l)
		if d != diff || diff != gzDiff {
			t.Errorf("oci=%v: digest %v, diffID %v, gzip layer's diffID %v: want all equal", oci, d, diff, gzDiff)
		}
		mt, _ := l.MediaType()
		want := types.DockerUncompressedLayer
		if oci {
			want = types.OCIUncompressedLayer
		}
		if mt != want {
			t.Errorf("oci=%v: media type %s, want %s", oci, mt, want)
		}
		for name, open := range map[string]func() (io.ReadCloser, error){"Compressed": l.Compressed, "Uncompressed": l.Uncompressed} {
			rc, err := open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			size, _ := l.Size()
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != d.Hex || int64(len(b)) != size {
				t.Errorf("oci=%v: %s() gives %d bytes that do not hash to the digest (size %d)", oci, name, len(b), size)
			}
			hdr, err := tar.NewReader(bytes.NewReader(b)).Next()
			if err != nil || hdr.Name != "f" {
				t.Errorf("oci=%v: %s(): first entry %v, %v: want f", oci, name, hdr, err)
			}
		}
	}
}

func mustLayer(t *testing.T, fsys rootfs.FS, spec LayerSpec, opts Options) v1.Layer {
	t.Helper()
	l, err := Layer(fsys, spec, opts)
	if err != nil {
		t.Fatalf("Layer() = %v", err)
	}
	return l
}

func TestLayerErrors(t *testing.T) {
	fsys := makeRoot(t, map[string]string{"/dir/file": "x"}, time.Now())
	reg := func(p, src string) Entry { return Entry{Path: p, Type: tar.TypeReg, Mode: 0o644, Source: src} }
	tests := []struct {
		name    string
		entries []Entry
		is      error    // the error wraps is, if not nil
		mention []string // and mentions these
	}{
		{"missing source", []Entry{reg("/app/x", "/no/such/file")}, fs.ErrNotExist, []string{`"/app/x"`, `"/no/such/file"`}},
		{"source is a directory", []Entry{reg("/app/x", "/dir")}, nil, []string{`"/app/x"`, `"/dir"`, "directory"}},
		{"duplicate", []Entry{reg("/a", "/dir/file"), {Path: "/a", Type: tar.TypeDir, Mode: 0o755}}, ErrDuplicatePath, []string{`"/a"`}},
		{"relative path", []Entry{reg("a", "/dir/file")}, ErrInvalidEntry, []string{`"a"`}},
		{"unclean path", []Entry{reg("/a/../b", "/dir/file")}, ErrInvalidEntry, []string{`"/a/../b"`}},
		{"root", []Entry{{Path: "/", Type: tar.TypeDir}}, ErrInvalidEntry, nil},
		{"parent not a directory", []Entry{{Path: "/lib", Type: tar.TypeSymlink, Linkname: "usr/lib"}, reg("/lib/x", "/dir/file")}, ErrInvalidEntry, []string{`"/lib/x"`, `"/lib"`}},
		{"source and data", []Entry{{Path: "/a", Type: tar.TypeReg, Source: "/dir/file", Data: []byte("x")}}, ErrInvalidEntry, []string{`"/a"`}},
		{"hard link to nothing", []Entry{{Path: "/a", Type: tar.TypeLink, Linkname: "/b"}}, ErrInvalidEntry, []string{`"/a"`, `"/b"`}},
		{"hard link loop", []Entry{{Path: "/a", Type: tar.TypeLink, Linkname: "/b"}, {Path: "/b", Type: tar.TypeLink, Linkname: "/a"}}, ErrInvalidEntry, []string{"loop"}},
		{"hard link to a directory", []Entry{{Path: "/a", Type: tar.TypeLink, Linkname: "/d"}, {Path: "/d", Type: tar.TypeDir}}, ErrInvalidEntry, nil},
		{"empty symlink", []Entry{{Path: "/a", Type: tar.TypeSymlink}}, ErrInvalidEntry, nil},
		{"device", []Entry{{Path: "/dev/null", Type: tar.TypeChar}}, ErrInvalidEntry, nil},
		{"negative owner", []Entry{{Path: "/a", Type: tar.TypeReg, UID: -1}}, ErrInvalidEntry, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			_, err := Layer(fsys, LayerSpec{Entries: tt.entries}, Options{TempDir: tmp})
			if err == nil {
				t.Fatalf("Layer() succeeded")
			}
			t.Log(err)
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Layer() = %v, want an error wrapping %v", err, tt.is)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("Layer() = %q, want it to mention %s", err, m)
				}
			}
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("temporary directory holds %v after the error", ents)
			}
		})
	}
}

// changingFS serves a file whose Stat size differs from its content.
type changingFS struct {
	rootfs.FS
	content string
	size    int64
}

type changingFile struct {
	*strings.Reader
	size int64
}

func (f changingFile) Close() error               { return nil }
func (f changingFile) Stat() (fs.FileInfo, error) { return fakeInfo{f.size}, nil }

type fakeInfo struct{ size int64 }

func (i fakeInfo) Name() string       { return "f" }
func (i fakeInfo) Size() int64        { return i.size }
func (i fakeInfo) Mode() fs.FileMode  { return 0o644 }
func (i fakeInfo) ModTime() time.Time { return time.Time{} }
func (i fakeInfo) IsDir() bool        { return false }
func (i fakeInfo) Sys() any           { return nil }

func (c changingFS) Open(string) (rootfs.File, error) {
	return changingFile{strings.NewReader(c.content), c.size}, nil
}

func TestLayerSourceChanged(t *testing.T) {
	for _, tt := range []struct {
		name    string
		content string
		size    int64
	}{
		{"shrank", "short", 1 << 20},
		{"grew", strings.Repeat("x", 300<<10), 200 << 10},
		{"grew by one byte", "abcd", 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			spec := LayerSpec{Entries: []Entry{{Path: "/f", Type: tar.TypeReg, Source: "/src"}}}
			_, err := Layer(changingFS{content: tt.content, size: tt.size}, spec, Options{TempDir: tmp})
			if !errors.Is(err, ErrSourceChanged) || !strings.Contains(err.Error(), `"/f"`) {
				t.Errorf("Layer() = %v, want ErrSourceChanged naming /f", err)
			}
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("temporary directory holds %v after the error", ents)
			}
		})
	}
}

// TestLayerSourceFS reads one entry from its own filesystem.
func TestLayerSourceFS(t *testing.T) {
	a := makeRoot(t, map[string]string{"/a": "from a"}, time.Now())
	b := makeRoot(t, map[string]string{"/b": "from b"}, time.Now())
	l := mustLayer(t, a, LayerSpec{Entries: []Entry{
		{Path: "/x", Type: tar.TypeReg, Mode: 0o644, Source: "/a"},
		{Path: "/y", Type: tar.TypeReg, Mode: 0o644, Source: "/b", SourceFS: b},
	}}, Options{})
	got := readLayer(t, l, time.Unix(0, 0))
	if len(got) != 2 || got[0].Content != "from a" || got[1].Content != "from b" {
		t.Errorf("layer = %+v", got)
	}
}

// TestLayerTempFile checks that a layer leaves no file in TempDir, and that
// Close releases it.
func TestLayerTempFile(t *testing.T) {
	tmp := t.TempDir()
	l, err := Layer(nil, LayerSpec{Entries: []Entry{{Path: "/a", Type: tar.TypeReg, Data: []byte("a")}}}, Options{TempDir: tmp})
	if err != nil {
		t.Fatalf("Layer() = %v", err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("temporary directory holds %v", ents)
	}
	if err := validate.Layer(l); err != nil {
		t.Errorf("validate.Layer() = %v", err)
	}
	if err := l.(io.Closer).Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	rc, _ := l.Compressed()
	if _, err := io.ReadAll(rc); err == nil {
		t.Errorf("reading a closed layer succeeded")
	}
}

func TestLayerNoSourceFS(t *testing.T) {
	_, err := Layer(nil, LayerSpec{Entries: []Entry{{Path: "/a", Type: tar.TypeReg, Source: "/a"}}}, Options{})
	if err == nil {
		t.Errorf("Layer(nil fsys) with a Source succeeded")
	}
}

// TestLayerLongNames writes names USTAR cannot hold (long, not ASCII) and
// checks they read back and build the same bytes twice.
func TestLayerLongNames(t *testing.T) {
	long := "/" + strings.Repeat("d", 120) + "/" + strings.Repeat("f", 150)
	spec := LayerSpec{Entries: []Entry{
		{Path: long, Type: tar.TypeReg, Mode: 0o644, Data: []byte("long")},
		{Path: "/caf\u00e9", Type: tar.TypeSymlink, Linkname: strings.Repeat("../", 60) + "target"},
		{Path: "/uid", Type: tar.TypeReg, Mode: 0o644, UID: 1 << 30, GID: 1 << 30},
	}}
	var first v1.Hash
	for i := range 2 {
		l := mustLayer(t, nil, spec, Options{TempDir: t.TempDir()})
		d, _ := digests(t, l)
		if i == 0 {
			first = d
		} else if d != first {
			t.Errorf("digests differ: %v and %v", first, d)
		}
		got := readLayer(t, l, time.Unix(0, 0))
		want := []header{
			{Name: "caf\u00e9", Type: tar.TypeSymlink, Mode: 0o777, Linkname: strings.Repeat("../", 60) + "target"},
			{Name: strings.Repeat("d", 120) + "/", Type: tar.TypeDir, Mode: 0o755},
			{Name: long[1:], Type: tar.TypeReg, Mode: 0o644, Content: "long"},
			{Name: "uid", Type: tar.TypeReg, Mode: 0o644, UID: 1 << 30, GID: 1 << 30},
		}
		if !slices.Equal(got, want) {
			t.Errorf("layer headers:\n got %+v\nwant %+v", got, want)
		}
	}
}

func TestLayerContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tmp := t.TempDir()
	_, err := LayerContext(ctx, nil, LayerSpec{Entries: []Entry{{Path: "/a", Type: tar.TypeReg}}}, Options{TempDir: tmp})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("LayerContext(cancelled) = %v, want context.Canceled", err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("temporary directory holds %v after the error", ents)
	}
}
