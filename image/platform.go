package image

import "debug/elf"

// efARMABIFloatHard is the ARM EABI e_flags bit of hard-float code.
const efARMABIFloatHard = 0x400

// PlatformOf maps an ELF file's class, data encoding, machine and e_flags to
// the OCI architecture and variant of a linux image that runs it:
//
//	EM_X86_64 64-bit            amd64
//	EM_386                      386
//	EM_AARCH64 little-endian    arm64
//	EM_ARM hard-float           arm, v7
//	EM_ARM soft-float           arm, v5
//	EM_PPC64                    ppc64le, ppc64 (big-endian)
//	EM_S390 64-bit              s390x
//	EM_RISCV 64-bit             riscv64
//	EM_MIPS                     mips64le, mips64, mipsle, mips
//	EM_LOONGARCH 64-bit         loong64
//
// The ARM variant is a guess from the float ABI (Debian's armhf is ARMv7,
// armel ARMv5; Raspbian's ARMv6 hard-float looks like armhf). ok is false for
// anything else (x32, big-endian arm64, 32-bit s390, ...).
func PlatformOf(class elf.Class, data elf.Data, machine elf.Machine, eflags uint32) (arch, variant string, ok bool) {
	is64 := class == elf.ELFCLASS64
	is32 := class == elf.ELFCLASS32
	le := data == elf.ELFDATA2LSB
	be := data == elf.ELFDATA2MSB
	switch {
	case machine == elf.EM_X86_64 && is64 && le:
		return "amd64", "", true
	case machine == elf.EM_386 && is32 && le:
		return "386", "", true
	case machine == elf.EM_AARCH64 && is64 && le:
		return "arm64", "", true
	case machine == elf.EM_ARM && is32 && le:
		if eflags&efARMABIFloatHard != 0 {
			return "arm", "v7", true
		}
		return "arm", "v5", true
	case machine == elf.EM_PPC64 && is64 && le:
		return "ppc64le", "", true
	case machine == elf.EM_PPC64 && is64 && be:
		return "ppc64", "", true
	case machine == elf.EM_S390 && is64 && be:
		return "s390x", "", true
	case machine == elf.EM_RISCV && is64 && le:
		return "riscv64", "", true
	case machine == elf.EM_MIPS && is64 && le:
		return "mips64le", "", true
	case machine == elf.EM_MIPS && is64 && be:
		return "mips64", "", true
	case machine == elf.EM_MIPS && is32 && le:
		return "mipsle", "", true
	case machine == elf.EM_MIPS && is32 && be:
		return "mips", "", true
	case machine == elf.EM_LOONGARCH && is64 && le:
		return "loong64", "", true
	}
	return "", "", false
}
