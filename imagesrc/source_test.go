package imagesrc

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestArchiveOfSeveral: a docker archive of two images needs a name, given
// as docker-archive:PATH:NAME:TAG.
func TestArchiveOfSeveral(t *testing.T) {
	a, _ := random.Image(64, 1)
	b, _ := random.Image(64, 1)
	ta, _ := name.NewTag("app:a")
	tb, _ := name.NewTag("app:b")
	p := filepath.Join(t.TempDir(), "two.tar")
	if err := tarball.MultiWriteToFile(p, map[name.Tag]v1.Image{ta: a, tb: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), DockerArchive+p, Options{}); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("Open(two images, no name) = %v, want ErrAmbiguous", err)
	}
	for tag, want := range map[string]v1.Image{"app:a": a, "app:b": b} {
		img, err := Open(context.Background(), DockerArchive+p+":"+tag, Options{})
		if err != nil {
			t.Fatalf("Open(%s) = %v", tag, err)
		}
		got, _ := img.Digest()
		wantD, _ := want.Digest()
		if got != wantD {
			t.Errorf("Open(%s) = %s, want %s", tag, got, wantD)
		}
	}
}
