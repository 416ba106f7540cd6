package image

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"path"
	"testing"

	"github.com/fromscratch/fromscratch/rootfs"
)

// BenchmarkLayer builds a layer of the host's shared libraries
// (/usr/lib/x86_64-linux-gnu/*.so*, a few hundred MB on a desktop Debian) at
// a few gzip levels, and reports the throughput over the files' bytes and
// the compressed size in percent of the tar.
//
//	go test ./image/ -run '^$' -bench Layer -benchtime 3x
func BenchmarkLayer(b *testing.B) {
	const dir = "/usr/lib/x86_64-linux-gnu"
	host, err := rootfs.Dir("/")
	if err != nil {
		b.Fatal(err)
	}
	names, err := rootfs.Glob(host, path.Join(dir, "*.so*"))
	if err != nil || len(names) == 0 {
		b.Skipf("no libraries in %s (%v)", dir, err)
	}
	var entries []Entry
	var total int64
	for _, n := range names {
		fi, err := host.Lstat(n)
		if err != nil {
			b.Fatal(err)
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := host.Readlink(n)
			if err != nil {
				b.Fatal(err)
			}
			entries = append(entries, Entry{Path: n, Type: tar.TypeSymlink, Mode: 0o777, Linkname: target})
		case fi.Mode().IsRegular():
			entries = append(entries, Entry{Path: n, Type: tar.TypeReg, Mode: fi.Mode(), Source: n})
			total += fi.Size()
		}
	}
	b.Logf("%d entries, %d MB of files", len(entries), total>>20)
	for _, level := range []int{1, DefaultLevel, 9} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			b.SetBytes(total)
			b.ReportAllocs()
			var size, usize int64
			for b.Loop() {
				l, err := Layer(host, LayerSpec{Entries: entries}, Options{Level: level, TempDir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				size, _ = l.Size()
				usize, _ = l.(interface{ UncompressedSize() (int64, error) }).UncompressedSize()
				l.(io.Closer).Close()
			}
			b.ReportMetric(100*float64(size)/float64(usize), "%size")
		})
	}
}
