package ldso

import (
	"debug/elf"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/fromscratch/fromscratch/elfinfo"
)

// ARM and RISC-V e_flags bits that decide which loader can load a file.
const (
	efARMABIFloatSoft = 0x200
	efARMABIFloatHard = 0x400
	efRISCVFloatABI   = 0x6
)

// compatible reports whether the loader that loads a program described by
// want would accept the candidate library got (glibc's open_verify and
// elf_machine_matches_host).
func compatible(want, got *elfinfo.Info) bool {
	if want.Class != got.Class || want.Data != got.Data || want.Machine != got.Machine {
		return false
	}
	switch want.Machine {
	case elf.EM_ARM:
		w, g := want.EFlags&(efARMABIFloatSoft|efARMABIFloatHard), got.EFlags&(efARMABIFloatSoft|efARMABIFloatHard)
		if w != 0 && g != 0 && w != g {
			return false
		}
	case elf.EM_RISCV:
		if want.EFlags&efRISCVFloatABI != got.EFlags&efRISCVFloatABI {
			return false
		}
	}
	return true
}

// arch describes one architecture's loader conventions.
type arch struct {
	triplet   string // Debian multiarch triplet
	glibcLD   string // glibc's loader path
	muslArch  string // musl's LDSO_ARCH
	platform  string // AT_PLATFORM, for $PLATFORM
	goarch    string // runtime.GOARCH of a host that runs it natively
	libSuffix string // "64" where the non-multiarch layout uses lib64
}

// archOf returns the conventions for files like info.
func archOf(info *elfinfo.Info) arch {
	is64 := info.Class == elf.ELFCLASS64
	switch info.Machine {
	case elf.EM_X86_64:
		if !is64 {
			return arch{"x86_64-linux-gnux32", "/libx32/ld-linux-x32.so.2", "x32", "x86_64", "", "x32"}
		}
		return arch{"x86_64-linux-gnu", "/lib64/ld-linux-x86-64.so.2", "x86_64", "x86_64", "amd64", "64"}
	case elf.EM_386:
		return arch{"i386-linux-gnu", "/lib/ld-linux.so.2", "i386", "i686", "386", ""}
	case elf.EM_AARCH64:
		if info.Data == elf.ELFDATA2MSB {
			return arch{"aarch64_be-linux-gnu", "/lib/ld-linux-aarch64_be.so.1", "aarch64_be", "aarch64_be", "", ""}
		}
		return arch{"aarch64-linux-gnu", "/lib/ld-linux-aarch64.so.1", "aarch64", "aarch64", "arm64", ""}
	case elf.EM_ARM:
		if info.EFlags&efARMABIFloatHard != 0 {
			return arch{"arm-linux-gnueabihf", "/lib/ld-linux-armhf.so.3", "armhf", "v7l", "arm", ""}
		}
		return arch{"arm-linux-gnueabi", "/lib/ld-linux.so.3", "arm", "v7l", "", ""}
	case elf.EM_PPC64:
		if info.Data == elf.ELFDATA2LSB {
			return arch{"powerpc64le-linux-gnu", "/lib64/ld64.so.2", "powerpc64le", "power8", "ppc64le", "64"}
		}
		return arch{"powerpc64-linux-gnu", "/lib64/ld64.so.1", "powerpc64", "power8", "ppc64", "64"}
	case elf.EM_PPC:
		return arch{"powerpc-linux-gnu", "/lib/ld.so.1", "powerpc", "ppc", "", ""}
	case elf.EM_S390:
		if is64 {
			return arch{"s390x-linux-gnu", "/lib/ld64.so.1", "s390x", "z900", "s390x", "64"}
		}
		return arch{"s390-linux-gnu", "/lib/ld.so.1", "s390", "s390", "", ""}
	case elf.EM_RISCV:
		if is64 {
			return arch{"riscv64-linux-gnu", "/lib/ld-linux-riscv64-lp64d.so.1", "riscv64", "", "riscv64", "64/lp64d"}
		}
		return arch{"riscv32-linux-gnu", "/lib/ld-linux-riscv32-ilp32d.so.1", "riscv32", "", "", "32/ilp32d"}
	case elf.EM_MIPS:
		if is64 {
			if info.Data == elf.ELFDATA2LSB {
				return arch{"mips64el-linux-gnuabi64", "/lib64/ld.so.1", "mips64el", "mips", "mips64le", "64"}
			}
			return arch{"mips64-linux-gnuabi64", "/lib64/ld.so.1", "mips64", "mips", "mips64", "64"}
		}
		if info.Data == elf.ELFDATA2LSB {
			return arch{"mipsel-linux-gnu", "/lib/ld.so.1", "mipsel", "mips", "mipsle", ""}
		}
		return arch{"mips-linux-gnu", "/lib/ld.so.1", "mips", "mips", "mips", ""}
	case elf.EM_LOONGARCH:
		return arch{"loongarch64-linux-gnu", "/lib64/ld-linux-loongarch-lp64d.so.1", "loongarch64", "loongarch", "loong64", "64"}
	case elf.EM_SPARCV9:
		return arch{"sparc64-linux-gnu", "/lib64/ld-linux.so.2", "sparc64", "sparc64", "", "64"}
	}
	return arch{}
}

// hostHWCaps returns the glibc-hwcaps subdirectories the host CPU supports,
// best first, for files of the host's own architecture (nil otherwise).
func hostHWCaps(a arch) []string {
	if a.goarch == "" || a.goarch != runtime.GOARCH {
		return nil
	}
	switch a.goarch {
	case "amd64":
		return x86Levels()
	}
	return nil
}

// AllHWCaps lists every glibc-hwcaps subdirectory glibc knows for the
// architecture of info, best first.
func AllHWCaps(info *elfinfo.Info) []string {
	switch info.Machine {
	case elf.EM_X86_64:
		if info.Class == elf.ELFCLASS64 {
			return []string{"x86-64-v4", "x86-64-v3", "x86-64-v2"}
		}
	case elf.EM_PPC64:
		if info.Data == elf.ELFDATA2LSB {
			return []string{"power10", "power9"}
		}
	case elf.EM_S390:
		return []string{"z17", "z16", "z15", "z14", "z13"}
	}
	return nil
}

// cpuinfo returns the host CPU's vendor and feature flags.
var cpuinfo = sync.OnceValues(func() (string, map[string]bool) {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "", nil
	}
	vendor, flags := "", map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "vendor_id":
			if vendor == "" {
				vendor = strings.TrimSpace(v)
			}
		case "flags":
			if len(flags) == 0 {
				for _, f := range strings.Fields(v) {
					flags[f] = true
				}
			}
		}
	}
	return vendor, flags
})

// x86Platform is the AT_PLATFORM glibc 2.26-2.36 sets on an Intel CPU
// (init_cpu_features), "" when it keeps the kernel's.
func x86Platform() string {
	vendor, flags := cpuinfo()
	if vendor != "GenuineIntel" {
		return ""
	}
	if flags["avx512cd"] && flags["avx512er"] && flags["avx512pf"] {
		return "xeon_phi"
	}
	for _, f := range []string{"avx2", "fma", "bmi1", "bmi2", "abm", "movbe", "popcnt"} {
		if !flags[f] {
			return ""
		}
	}
	return "haswell"
}

var x86Levels = sync.OnceValue(func() []string {
	_, flags := cpuinfo()
	if flags == nil {
		return nil
	}
	all := func(names ...string) bool {
		for _, n := range names {
			if !flags[n] {
				return false
			}
		}
		return true
	}
	// The feature sets of the x86-64 psABI levels, as glibc checks them
	// (sysdeps/x86/get-isa-level.h); cpuinfo names: pni = SSE3, abm = LZCNT.
	var levels []string
	if !all("cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3") {
		return nil
	}
	levels = append(levels, "x86-64-v2")
	if all("avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave") {
		levels = append([]string{"x86-64-v3"}, levels...)
		if all("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl") {
			levels = append([]string{"x86-64-v4"}, levels...)
		}
	}
	return levels
})
