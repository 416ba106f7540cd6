package program

import (
	"debug/elf"
	"errors"
	"fmt"
	"strings"

	"github.com/fromscratch/fromscratch/elfinfo"
)

// ErrNotStatic is returned (wrapped) for an ELF program that needs a
// loader or libraries where a static one is wanted.
var ErrNotStatic = errors.New("not statically linked")

// Static reports whether the ELF program runs without a loader: no
// PT_INTERP (the kernel loads the one named, whatever the rest), and no
// DT_NEEDED or no PT_DYNAMIC at all (see [elfinfo.Info.IsStatic]).
func Static(info *elfinfo.Info) bool { return info.Interp == "" && info.IsStatic() }

// CheckStatic fails with ErrNotStatic, naming the loader and libraries,
// when the ELF program info describes is not [Static].
func CheckStatic(info *elfinfo.Info) error {
	if Static(info) {
		return nil
	}
	var needs []string
	if info.Interp != "" {
		needs = append(needs, "loader "+info.Interp)
	}
	if len(info.Needed) > 0 {
		needs = append(needs, "libraries "+strings.Join(info.Needed, " "))
	}
	return fmt.Errorf("%w (needs %s)", ErrNotStatic, strings.Join(needs, ", "))
}

// efARMABIFloatHard is the ARM EABI e_flags bit of hard-float code.
const efARMABIFloatHard = 0x400

// The ELF types the kernel executes.
const (
	elfTypeExec = elf.ET_EXEC
	elfTypeDyn  = elf.ET_DYN
)

// Platform maps an ELF program's class, data encoding, machine and
// e_flags to the OCI architecture and variant of the linux images that run
// it (the GOARCH names, as the OCI image spec says):
//
//	EM_X86_64 64-bit LE         amd64
//	EM_386 32-bit LE            386
//	EM_AARCH64 64-bit LE        arm64
//	EM_ARM 32-bit LE hard-float arm, v7
//	EM_ARM 32-bit LE otherwise  arm, v5
//	EM_PPC64 64-bit             ppc64le (LE), ppc64 (BE)
//	EM_S390 64-bit BE           s390x
//	EM_RISCV 64-bit LE          riscv64
//	EM_MIPS                     mips64le, mips64, mipsle, mips
//	EM_LOONGARCH 64-bit LE      loong64
//
// Nothing else has one, ok is false: x32 (EM_X86_64 32-bit: no OCI
// architecture), big-endian arm64 (aarch64_be: an arm64 image's programs
// are little-endian, a linux/arm64 host does not run it), 31-bit s390
// (s390x hosts run it only with a compat kernel, and no image is
// linux/s390), 32-bit PowerPC and RISC-V (no GOARCH).
//
// The ARM variant is read from the float ABI, as distributions build: hard
// float is Debian's armhf, whose baseline is ARMv7 (v7); soft float is
// armel, ARMv5 (v5). Raspbian's and Alpine's ARMv6 hard-float programs
// read as v7, which an ARMv6 host may not run: the ELF header does not
// tell (the .ARM.attributes section does, and is not read).
func Platform(info *elfinfo.Info) (arch, variant string, ok bool) {
	is64 := info.Class == elf.ELFCLASS64
	is32 := info.Class == elf.ELFCLASS32
	le := info.Data == elf.ELFDATA2LSB
	be := info.Data == elf.ELFDATA2MSB
	switch m := info.Machine; {
	case m == elf.EM_X86_64 && is64 && le:
		return "amd64", "", true
	case m == elf.EM_386 && is32 && le:
		return "386", "", true
	case m == elf.EM_AARCH64 && is64 && le:
		return "arm64", "", true
	case m == elf.EM_ARM && is32 && le:
		if info.EFlags&efARMABIFloatHard != 0 {
			return "arm", "v7", true
		}
		return "arm", "v5", true
	case m == elf.EM_PPC64 && is64 && le:
		return "ppc64le", "", true
	case m == elf.EM_PPC64 && is64 && be:
		return "ppc64", "", true
	case m == elf.EM_S390 && is64 && be:
		return "s390x", "", true
	case m == elf.EM_RISCV && is64 && le:
		return "riscv64", "", true
	case m == elf.EM_MIPS && is64 && le:
		return "mips64le", "", true
	case m == elf.EM_MIPS && is64 && be:
		return "mips64", "", true
	case m == elf.EM_MIPS && is32 && le:
		return "mipsle", "", true
	case m == elf.EM_MIPS && is32 && be:
		return "mips", "", true
	case m == elf.EM_LOONGARCH && is64 && le:
		return "loong64", "", true
	}
	return "", "", false
}

// Machine describes an ELF program's class, byte order and machine for
// messages, e.g. "ELFCLASS64 MSB EM_AARCH64", where [Platform] has no name.
func Machine(info *elfinfo.Info) string {
	order := "LSB"
	if info.Data == elf.ELFDATA2MSB {
		order = "MSB"
	}
	return fmt.Sprintf("%v %s %v", info.Class, order, info.Machine)
}
