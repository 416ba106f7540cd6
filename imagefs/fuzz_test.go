package imagefs

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/fromscratch/fromscratch/internal/elfcraft"
	"github.com/fromscratch/fromscratch/rootfs"
)

// bigELF is a 100 KiB ELF program: headers, then fill.
func bigELF(fill byte) []byte {
	s := elfcraft.Needed("/lib64/ld-linux-x86-64.so.2", "libc.so.6")
	s.Size = 100 << 10
	b := s.Bytes()
	return append(b, bytes.Repeat([]byte{fill}, int(s.Size)-len(b))...)
}

// FuzzMerge feeds arbitrary bytes as the upper of two layers (the lower a
// small well-formed tree): Open must give an error or a view that every
// accessor can walk, never a panic, and Close must remove what it kept.
func FuzzMerge(f *testing.F) {
	seed := func(es []ent) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, e := range es {
			h := &tar.Header{Typeflag: e.typ, Name: e.name, Linkname: e.link, Mode: 0o755, Size: int64(len(e.body)), Format: tar.FormatPAX}
			if e.typ != tar.TypeReg {
				h.Size = 0
			}
			tw.WriteHeader(h)
			tw.Write([]byte(e.body))
		}
		tw.Close()
		return b.Bytes()
	}
	lower := seed([]ent{dirE("etc/"), reg("etc/passwd", 20), dirE("lib/"), reg("lib/a", 10), sym("lib64", "lib"), dirE("d/"), reg("d/x", 3)})
	for _, es := range [][]ent{
		{reg("etc/.wh.passwd", 0)},
		{reg("d/.wh..wh..opq", 0), reg("d/y", 4)},
		{hard("lib/b", "lib/a"), sym("up", "../../..")},
		{reg("../../escape", 3), reg("/abs", 2)},
		{sym("lib64/x", "/etc/passwd"), reg("lib64/y", 1)},
		{{name: "dev/null", typ: tar.TypeChar}},
		{reg("d", 5)},
		{reg(".wh..", 0), reg("a/.wh.", 0)},
		{{name: "f", body: "\x7fELF\x02\x01\x01", typ: tar.TypeReg}},
		// An ELF file larger than its headers say (kept in part), and one
		// mostly zero (holes).
		{{name: "big", body: string(bigELF('x')), typ: tar.TypeReg}, {name: "zero", body: string(bigELF(0)), typ: tar.TypeReg}},
	} {
		f.Add(seed(es))
	}
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, upper []byte) {
		img := empty.Image
		for _, b := range [][]byte{lower, upper} {
			l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
			if err != nil {
				return
			}
			if img, err = mutate.AppendLayers(img, l); err != nil {
				return
			}
		}
		fsys, err := Open(context.Background(), img, Options{TempDir: t.TempDir()})
		if err != nil {
			return
		}
		defer fsys.Close()
		for _, file := range fsys.Files() {
			fsys.Lstat(file.Path)
			if _, _, err := rootfs.Resolve(fsys, file.Path); err == nil {
				if r, err := fsys.Open(file.Path); err == nil {
					io.Copy(io.Discard, r)
					r.Close()
				}
			}
		}
		fsys.ReadDir("/")
	})
}
