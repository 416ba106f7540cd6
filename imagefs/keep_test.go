package imagefs

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestKeepContents(t *testing.T) {
	ctx := context.Background()
	big := ent{name: "usr/share/big", body: strings.Repeat("b", 3000), typ: tar.TypeReg}
	img := imageOf(t,
		[]ent{dirE("usr/"), dirE("usr/share/"), reg("usr/share/a", 10), big, reg("usr/share/gone", 5)},
		[]ent{{name: "usr/share/a", body: "new a", typ: tar.TypeReg}, sym("usr/share/link", "big"), hard("usr/share/hl", "usr/share/a")},
	)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := Open(ctx, img, Options{})
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer fsys.Close()
	if _, err := fsys.Open("/usr/share/big"); !errors.Is(err, ErrContentNotKept) {
		t.Fatalf("Open(big) before KeepContents = %v, want ErrContentNotKept", err)
	}
	if err := fsys.KeepContents(ctx, layers, []string{"/usr/share/link", "/usr/share/hl"}); err != nil {
		t.Fatalf("KeepContents() = %v", err)
	}
	for p, want := range map[string]string{"/usr/share/big": big.body, "/usr/share/a": "new a", "/usr/share/hl": "new a"} {
		f, err := fsys.Open(p)
		if err != nil {
			t.Fatalf("Open(%s) = %v", p, err)
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil || string(b) != want {
			t.Errorf("content of %s = %q, %v; want %q", p, b, err, want)
		}
	}
	if _, err := fsys.Open("/usr/share/gone"); !errors.Is(err, ErrContentNotKept) {
		t.Errorf("Open(gone) = %v, want ErrContentNotKept (not asked for)", err)
	}
	if err := fsys.KeepContents(ctx, layers, []string{"/usr/share/nope"}); err == nil {
		t.Errorf("KeepContents(missing path) = nil, want an error")
	}
	if err := fsys.KeepContents(ctx, layers, []string{"/usr"}); err == nil {
		t.Errorf("KeepContents(directory) = nil, want an error")
	}
	if uid, _, ok := fsys.Owner("/usr/share/a"); !ok || uid != 0 {
		t.Errorf("Owner(a) = %d, %v", uid, ok)
	}
}
