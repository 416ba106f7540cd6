package program

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/internal/elfcraft"
)

// beELF is the header of an ELF executable of class, byte order data and
// machine, without program headers.
func beELF(class elf.Class, data elf.Data, machine elf.Machine) []byte {
	var bo binary.ByteOrder = binary.LittleEndian
	if data == elf.ELFDATA2MSB {
		bo = binary.BigEndian
	}
	b := make([]byte, 64)
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS], b[elf.EI_DATA], b[elf.EI_VERSION] = byte(class), byte(data), byte(elf.EV_CURRENT)
	bo.PutUint16(b[16:], uint16(elf.ET_EXEC))
	bo.PutUint16(b[18:], uint16(machine))
	bo.PutUint32(b[20:], uint32(elf.EV_CURRENT))
	if class == elf.ELFCLASS64 {
		bo.PutUint16(b[52:], 64) // e_ehsize
		bo.PutUint16(b[54:], 56) // e_phentsize
	} else {
		b = b[:52]
		bo.PutUint16(b[40:], 52)
		bo.PutUint16(b[42:], 32)
	}
	return b
}

// TestPlatform: programs of the machines that have an OCI platform and of
// some that do not, read from their files (arch "" for none).
func TestPlatform(t *testing.T) {
	want := map[string]string{
		"/bin/arm64be": "", // big-endian arm64 is not linux/arm64
		"/bin/arm64":   "arm64",
		"/bin/s390":    "", // 31-bit s390 is not s390x
		"/bin/s390x":   "s390x",
		"/bin/x32":     "",
		"/bin/i386":    "386",
		"/usr/bin/env": hostArch(t),
	}
	headers := map[string][]byte{
		"/bin/arm64be": beELF(elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_AARCH64),
		"/bin/arm64":   beELF(elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_AARCH64),
		"/bin/s390":    beELF(elf.ELFCLASS32, elf.ELFDATA2MSB, elf.EM_S390),
		"/bin/s390x":   beELF(elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_S390),
		"/bin/x32":     beELF(elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_X86_64),
		"/bin/i386":    beELF(elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_386),
	}
	files := map[string]string{
		"/bin/dyn":    string(elfcraft.Needed("/lib/ld-linux-aarch64.so.1", "libc.so.6").Bytes()),
		"/bin/static": string(elfcraft.Spec{Type: elf.ET_EXEC}.Bytes()),
	}
	for p, b := range headers {
		files[p] = string(b)
	}
	fsys := root(t, files, nil)
	for prog, arch := range want {
		ex, err := Resolve(fsys, []string{prog}, nil)
		if err != nil {
			t.Errorf("Resolve(%s) = %v", prog, err)
			continue
		}
		got, _, ok := Platform(ex.Program().ELF)
		if got != arch || ok != (arch != "") {
			t.Errorf("Platform(%s) = %q %v, want %q (%s)", prog, got, ok, arch, Machine(ex.Program().ELF))
		}
	}
	ex, err := Resolve(fsys, []string{"/bin/dyn"}, nil)
	if err != nil || Static(ex.Program().ELF) || !errors.Is(CheckStatic(ex.Program().ELF), ErrNotStatic) {
		t.Errorf("/bin/dyn: %v, static %v", err, ex.Program() != nil && Static(ex.Program().ELF))
	}
	ex, err = Resolve(fsys, []string{"/bin/static"}, nil)
	if err != nil || CheckStatic(ex.Program().ELF) != nil {
		t.Errorf("/bin/static: %v", err)
	}
}

func hostArch(t *testing.T) string {
	b, err := os.ReadFile("/usr/bin/env")
	if err != nil {
		t.Fatal(err)
	}
	info, err := elfinfo.Read(strings.NewReader(string(b)), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	arch, _, _ := Platform(info)
	return arch
}

func TestBadELF(t *testing.T) {
	fsys := root(t, map[string]string{
		"/bin/obj":    string(elfcraft.Spec{Type: elf.ET_REL}.Bytes()),
		"/bin/interp": string(elfcraft.Spec{Type: elf.ET_EXEC, Interp: []byte{}}.Bytes()),
	}, nil)
	for _, p := range []string{"/bin/obj", "/bin/interp"} {
		if _, err := Resolve(fsys, []string{p}, nil); !errors.Is(err, ErrFormat) {
			t.Errorf("Resolve(%s) = %v, want ErrFormat", p, err)
		}
	}
}

func TestPlatformTable(t *testing.T) {
	const hard, soft = 0x05000400, 0x05000200
	tests := []struct {
		class   elf.Class
		data    elf.Data
		machine elf.Machine
		flags   uint32
		arch    string
		variant string
		ok      bool
	}{
		{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_X86_64, 0, "amd64", "", true},
		{elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_X86_64, 0, "", "", false}, // x32
		{elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_386, 0, "386", "", true},
		{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_AARCH64, 0, "arm64", "", true},
		{elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_AARCH64, 0, "", "", false},
		{elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_ARM, hard, "arm", "v7", true},
		{elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_ARM, soft, "arm", "v5", true},
		{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_PPC64, 2, "ppc64le", "", true},
		{elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_PPC64, 1, "ppc64", "", true},
		{elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_S390, 0, "s390x", "", true},
		{elf.ELFCLASS32, elf.ELFDATA2MSB, elf.EM_S390, 0, "", "", false},
		{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_RISCV, 5, "riscv64", "", true},
		{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_MIPS, 0, "mips64le", "", true},
		{elf.ELFCLASS32, elf.ELFDATA2MSB, elf.EM_MIPS, 0, "mips", "", true},
		{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_LOONGARCH, 0, "loong64", "", true},
		{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_SPARCV9, 0, "", "", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v/%v/%v", tt.machine, tt.class, tt.data), func(t *testing.T) {
			arch, variant, ok := Platform(&elfinfo.Info{Class: tt.class, Data: tt.data, Machine: tt.machine, EFlags: tt.flags})
			if arch != tt.arch || variant != tt.variant || ok != tt.ok {
				t.Errorf("Platform() = %q, %q, %v; want %q, %q, %v", arch, variant, ok, tt.arch, tt.variant, tt.ok)
			}
		})
	}
}
