// Package tartest reads tar streams in tests: a docker-archive, a layer,
// every layer of an image, entry by entry, a broken stream failing the
// test.
package tartest

import (
	"archive/tar"
	"io"
	"iter"
	"os"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Entries yields each entry of the tar stream r with a reader of its
// content. A stream that cannot be read fails the test; what stands before
// the failure has been yielded.
func Entries(t testing.TB, r io.Reader) iter.Seq2[*tar.Header, io.Reader] {
	return func(yield func(*tar.Header, io.Reader) bool) {
		t.Helper()
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("reading a tar stream: %v", err)
			}
			if !yield(h, tr) {
				return
			}
		}
	}
}

// File is [Entries] of the tar file at path (a docker-archive).
func File(t testing.TB, path string) iter.Seq2[*tar.Header, io.Reader] {
	return opened(t, func() (io.ReadCloser, error) { return os.Open(path) })
}

// Layer is [Entries] of l, uncompressed.
func Layer(t testing.TB, l v1.Layer) iter.Seq2[*tar.Header, io.Reader] {
	return opened(t, l.Uncompressed)
}

// opened is [Entries] of the stream open returns, closed when the loop
// ends.
func opened(t testing.TB, open func() (io.ReadCloser, error)) iter.Seq2[*tar.Header, io.Reader] {
	return func(yield func(*tar.Header, io.Reader) bool) {
		t.Helper()
		rc, err := open()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		for h, r := range Entries(t, rc) {
			if !yield(h, r) {
				return
			}
		}
	}
}

// Image is [Layer] of each of img's layers in turn, the base first.
func Image(t testing.TB, img v1.Image) iter.Seq2[*tar.Header, io.Reader] {
	return func(yield func(*tar.Header, io.Reader) bool) {
		t.Helper()
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			for h, r := range Layer(t, l) {
				if !yield(h, r) {
					return
				}
			}
		}
	}
}
