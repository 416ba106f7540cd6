package elfinfo

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead feeds arbitrary bytes to Read: it must return an error or an
// Info, never panic or allocate without bound. Seeds: testdata/*.so and testdata/tinyprog.
func FuzzRead(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.so")
	seeds = append(seeds, "testdata/tinyprog")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:64])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		_ = info.ExecError()
		_ = info.IsStatic()
		_ = info.IsStaticPIE()
		_ = info.NoDefLib()
	})
}
