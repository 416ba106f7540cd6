package pkgdb

import (
	"os"
	"testing"

	"github.com/fromscratch/fromscratch/internal/testenv"
	"github.com/fromscratch/fromscratch/rootfs"
)

// BenchmarkOpenHost reads the host's database.
func BenchmarkOpenHost(b *testing.B) {
	if _, err := os.Stat(DpkgStatus); err != nil {
		testenv.Missing(b, "not a dpkg host")
	}
	fsys, _ := rootfs.Dir("/")
	for i := 0; i < b.N; i++ {
		if _, err := Open(fsys); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenForHost reads it for the files of a curl image.
func BenchmarkOpenForHost(b *testing.B) {
	if _, err := os.Stat(DpkgStatus); err != nil {
		testenv.Missing(b, "not a dpkg host")
	}
	fsys, _ := rootfs.Dir("/")
	paths := []string{"/usr/bin/curl", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libcurl.so.4.8.0", "/usr/lib/x86_64-linux-gnu/libssl.so.3"}
	for i := 0; i < b.N; i++ {
		if _, err := OpenFor(fsys, paths); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseStatus parses the host's dpkg status.
func BenchmarkParseStatus(b *testing.B) {
	data, err := os.ReadFile(DpkgStatus)
	if err != nil {
		b.Skip("not a dpkg host")
	}
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, err := ParseControl(DpkgStatus, data); err != nil {
			b.Fatal(err)
		}
	}
}
