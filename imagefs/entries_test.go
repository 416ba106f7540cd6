package imagefs

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"sort"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestManyEntriesMemory: the memory of a view is bounded per entry. A layer
// of 200,000 empty files: the events are handed over in chunks (not held
// for the whole layer), empty files share one content, and Largest keeps k
// nodes, not a list of every file. Before: 277 bytes a live entry and
// 2,260 allocated; now under 220 and 1,000.
func TestManyEntriesMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory changes what this measures")
	}
	const n = 200000
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "d/", Mode: 0o755, Format: tar.FormatGNU})
	for i := range n {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("d/%07d", i), Mode: 0o644, Format: tar.FormatGNU})
	}
	tw.Close()
	data := b.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fsys, err := Open(context.Background(), img, Options{})
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer fsys.Close()
	top := fsys.Largest(10)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(data)
	live := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	alloc := int64(after.TotalAlloc-before.TotalAlloc) / n
	t.Logf("%d entries: %d bytes live, %d allocated, a entry", n, live, alloc)
	if live > 220 || alloc > 1000 {
		t.Errorf("%d bytes live and %d allocated a entry, want under 220 and 1,000", live, alloc)
	}
	runtime.KeepAlive(data)
	if len(top) != 10 || top[0].Path != "/d/0000000" || top[9].Path != "/d/0000009" {
		t.Errorf("Largest(10) = %v", top)
	}
}

// TestLargest: the k largest, ties in walk order, as sorting every file
// gives.
func TestLargest(t *testing.T) {
	img := imageOf(t, []ent{dirE("a/"), reg("a/x", 5), reg("a/y", 7), reg("a.txt", 5), reg("b", 0), reg("c", 7), reg("a/z", 1), sym("s", "c")})
	fsys, err := Open(context.Background(), img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	var all []File
	for _, f := range fsys.Files() {
		if f.Mode.IsRegular() {
			all = append(all, f)
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Size > all[j].Size })
	for k := 0; k <= len(all)+1; k++ {
		want := all[:min(k, len(all))]
		got := fsys.Largest(k)
		if fmt.Sprint(got) != fmt.Sprint(want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("Largest(%d) = %v, want %v", k, got, want)
		}
	}
}
