package elfinfo

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fromscratch/fromscratch/internal/testenv"
)

func readFile(t *testing.T, name string) *Info {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("Read(%s) = %v", name, err)
	}
	return info
}

func TestTestdata(t *testing.T) {
	tiny := readFile(t, "testdata/libtiny.so")
	if !slices.Equal(tiny.Needed, []string{"libbar.so.1"}) || tiny.SOName != "libtiny.so.1" ||
		!tiny.HasRunPath || tiny.RunPath != "$ORIGIN/../lib" || tiny.HasRPath || tiny.Interp != "" {
		t.Errorf("Read(libtiny.so) = %+v", tiny)
	}
	if !slices.Equal(tiny.VersionDefs, []string{"libtiny.so.1", "TINY_1.0"}) {
		t.Errorf("VersionDefs = %q, want [libtiny.so.1 TINY_1.0]", tiny.VersionDefs)
	}
	if tiny.Class != elf.ELFCLASS64 || tiny.Machine != elf.EM_X86_64 || tiny.Type != elf.ET_DYN || tiny.IsStatic() {
		t.Errorf("header = %v %v %v static=%v", tiny.Class, tiny.Machine, tiny.Type, tiny.IsStatic())
	}
	prog := readFile(t, "testdata/tinyprog")
	if prog.Interp != "/lib64/ld-linux-x86-64.so.2" || !slices.Equal(prog.Needed, []string{"libc.so.6"}) ||
		len(prog.VersionNeeds) != 1 || prog.VersionNeeds[0].File != "libc.so.6" || prog.IsStatic() {
		t.Errorf("Read(tinyprog) = %+v", prog)
	}
	bar := readFile(t, "testdata/libbar.so")
	if len(bar.Needed) != 0 || bar.SOName != "libbar.so.1" || !bar.IsStatic() {
		t.Errorf("Read(libbar.so) = %+v", bar)
	}
}

// TestAgainstDebugElf compares with debug/elf (which reads the section
// headers) on the host's programs and libraries.
func TestAgainstDebugElf(t *testing.T) {
	var files []string
	for _, g := range []string{"/usr/bin/*", "/usr/lib/x86_64-linux-gnu/*.so.*", "/usr/lib/*-linux-gnu/*.so.*"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	checked := 0
	for _, name := range files {
		f, err := elf.Open(name)
		if err != nil {
			continue
		}
		func() {
			defer f.Close()
			if f.Type == elf.ET_REL {
				return
			}
			info := readFile(t, name)
			checked++
			needed, _ := f.ImportedLibraries()
			if !slices.Equal(info.Needed, needed) && !(len(info.Needed) == 0 && len(needed) == 0) {
				t.Errorf("%s: Needed = %q, debug/elf %q", name, info.Needed, needed)
			}
			if so, _ := f.DynString(elf.DT_SONAME); len(so) == 1 && so[0] != info.SOName {
				t.Errorf("%s: SOName = %q, debug/elf %q", name, info.SOName, so[0])
			}
			if rp, _ := f.DynString(elf.DT_RUNPATH); len(rp) == 1 && rp[0] != info.RunPath {
				t.Errorf("%s: RunPath = %q, debug/elf %q", name, info.RunPath, rp[0])
			}
			if vn, err := f.DynamicVersionNeeds(); err == nil {
				var want, got []string
				for _, n := range vn {
					for _, a := range n.Needs {
						want = append(want, n.Name+"/"+a.Dep)
					}
				}
				for _, n := range info.VersionNeeds {
					for _, v := range n.Versions {
						got = append(got, n.File+"/"+v.Name)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: VersionNeeds = %q, debug/elf %q", name, got, want)
				}
			}
			if vd, err := f.DynamicVersions(); err == nil {
				var want []string
				for _, d := range vd {
					want = append(want, d.Name)
				}
				if !slices.Equal(info.VersionDefs, want) {
					t.Errorf("%s: VersionDefs = %q, debug/elf %q", name, info.VersionDefs, want)
				}
			}
		}()
	}
	if checked < 50 {
		t.Fatalf("only %d files checked", checked)
	}
}

// TestStrippedSectionHeaders: the loader never reads section headers, and
// neither do we.
func TestStrippedSectionHeaders(t *testing.T) {
	b, err := os.ReadFile("/bin/ls")
	if err != nil {
		testenv.Missing(t, "%v", err)
	}
	want, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	// Zero e_shoff, e_shnum and e_shstrndx of the 64-bit header.
	binary.LittleEndian.PutUint64(b[0x28:], 0)
	binary.LittleEndian.PutUint16(b[0x3c:], 0)
	binary.LittleEndian.PutUint16(b[0x3e:], 0)
	if _, err := elf.NewFile(bytes.NewReader(b)); err == nil {
		if f, _ := elf.NewFile(bytes.NewReader(b)); f != nil {
			if libs, _ := f.ImportedLibraries(); len(libs) != 0 {
				t.Fatalf("debug/elf still sees DT_NEEDED: test is wrong")
			}
		}
	}
	got, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("Read(stripped) = %v", err)
	}
	if !slices.Equal(got.Needed, want.Needed) || got.Interp != want.Interp || len(got.Needed) == 0 {
		t.Errorf("Read(stripped) = %q %q, want %q %q", got.Needed, got.Interp, want.Needed, want.Interp)
	}
}

func TestBadInput(t *testing.T) {
	good, err := os.ReadFile("testdata/libtiny.so")
	if err != nil {
		t.Fatal(err)
	}
	hugePh := slices.Clone(good)
	binary.LittleEndian.PutUint64(hugePh[0x20:], 1<<62) // e_phoff
	hugeNum := slices.Clone(good)
	binary.LittleEndian.PutUint16(hugeNum[0x38:], 0xffff) // e_phnum
	badClass := slices.Clone(good)
	badClass[elf.EI_CLASS] = 9
	tests := []struct {
		name string
		data []byte
		want error // nil: any *FormatError
	}{
		{"empty", nil, ErrNotELF},
		{"text", []byte("#!/bin/sh\necho hi\n"), ErrNotELF},
		{"magic only", []byte("\x7fELF"), nil},
		{"header cut", good[:40], nil},
		{"huge phoff", hugePh, nil},
		{"huge phnum", hugeNum, nil},
		{"bad class", badClass, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tt.data), int64(len(tt.data)))
			if err == nil {
				t.Fatal("Read() = nil error")
			}
			var fe *FormatError
			if tt.want != nil && !errors.Is(err, tt.want) || tt.want == nil && !errors.As(err, &fe) {
				t.Errorf("Read() = %v (%T)", err, err)
			}
		})
	}
	// Every truncation of a real file: an error or a result, never a panic.
	for n := 0; n < len(good); n += 7 {
		Read(bytes.NewReader(good[:n]), int64(n))
	}
}
