package imagefs

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/internal/elfcraft"
)

// TestPartialELF: of a large ELF file the view keeps what elfinfo reads
// (the same Info as from the whole file), says ErrContentNotKept for the
// rest, and KeepContents makes it whole; a file that may be a loader is
// kept whole.
func TestPartialELF(t *testing.T) {
	ctx := context.Background()
	prog := elfcraft.Needed("/lib64/ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6")
	prog.Size = 3 << 20
	progBytes := append(prog.Bytes(), []byte(strings.Repeat("code", (3<<20)/4))...)[:3<<20]
	loader := elfcraft.Spec{Dynamic: true, Strtab: []byte("\x00ld-linux-x86-64.so.2\x00"), Entries: []elfcraft.DynEntry{{Tag: elf.DT_SONAME, Val: 1}}}
	loader.Size = 300 << 10
	loaderBytes := append(loader.Bytes(), []byte(strings.Repeat("/lib/\x00", (300<<10)/6+1))...)[:300<<10]
	img := imageOf(t, []ent{dirE("bin/"), {name: "bin/prog", body: string(progBytes), typ: tar.TypeReg, mode: 0o755}, {name: "bin/ld.so", body: string(loaderBytes), typ: tar.TypeReg, mode: 0o755}})
	fsys, err := Open(ctx, img, Options{})
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer fsys.Close()
	want, err := elfinfo.Read(bytes.NewReader(progBytes), int64(len(progBytes)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := fsys.Open("/bin/prog")
	if err != nil {
		t.Fatalf("Open(prog) = %v", err)
	}
	got, err := elfinfo.Read(f, int64(len(progBytes)))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Read(view's prog) = %+v, %v; want %+v", got, err, want)
	}
	if _, err := f.ReadAt(make([]byte, 10), 2<<20); !errors.Is(err, ErrContentNotKept) {
		t.Errorf("ReadAt(2 MiB) = %v, want ErrContentNotKept", err)
	}
	if _, err := io.ReadAll(f); !errors.Is(err, ErrContentNotKept) {
		t.Errorf("ReadAll(prog) = %v, want ErrContentNotKept", err)
	}
	f.Close()
	if st := tempUse(t, fsys.tmp); st > 300<<10+64<<10 { // the loader whole, pages of the program
		t.Errorf("kept %d bytes of a 3 MiB program and a 300 KiB loader", st)
	}
	f, err = fsys.Open("/bin/ld.so")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(f); err != nil || !bytes.Equal(b, loaderBytes) {
		t.Errorf("ReadAll(ld.so) = %d bytes, %v; want it whole", len(b), err)
	}
	f.Close()
	layers, _ := img.Layers()
	if err := fsys.KeepContents(ctx, layers, []string{"/bin/prog"}); err != nil {
		t.Fatalf("KeepContents() = %v", err)
	}
	f, _ = fsys.Open("/bin/prog")
	if b, err := io.ReadAll(f); err != nil || !bytes.Equal(b, progBytes) {
		t.Errorf("ReadAll(prog) after KeepContents = %d bytes, %v", len(b), err)
	}
	f.Close()
}

// TestMaxKept: past Options.MaxKept, Open fails with ErrKeptTooLarge.
func TestMaxKept(t *testing.T) {
	img := imageOf(t, []ent{dirE("etc/"), reg("etc/a", 300<<10), reg("etc/b", 300<<10)})
	if _, err := Open(context.Background(), img, Options{MaxKept: 400 << 10}); !errors.Is(err, ErrKeptTooLarge) {
		t.Errorf("Open() = %v, want ErrKeptTooLarge", err)
	}
}

// tempUse is the disk space of dir's files.
func tempUse(t *testing.T, dir string) int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		fi, _ := e.Info()
		n += blocks(fi)
	}
	return n
}
