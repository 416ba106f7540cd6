// Package elfcraft writes small, possibly malformed, 64-bit little-endian
// ELF files for tests: the hostile shapes (an empty PT_INTERP, thousands of
// DT_NEEDED entries, a huge file behind a valid header) are made by the
// test that needs them, so no large or strange file is kept in git.
package elfcraft

import (
	"debug/elf"
	"encoding/binary"
)

// Spec describes a file. The layout is: ELF header, program headers
// (PT_LOAD over the whole file, then PT_INTERP and PT_DYNAMIC when asked
// for), the PT_INTERP bytes, the string table, the dynamic section.
// Virtual addresses equal file offsets.
type Spec struct {
	Type    elf.Type    // ET_DYN when 0
	Machine elf.Machine // EM_X86_64 when 0
	// Interp is the PT_INTERP content, stored as is (a well-formed one
	// ends in a NUL); nil means no PT_INTERP.
	Interp []byte
	// Dynamic asks for PT_DYNAMIC, with DT_STRTAB and DT_STRSZ of Strtab
	// first, then Entries, then DT_NULL.
	Dynamic bool
	Strtab  []byte     // the string table (a well-formed one starts with a NUL)
	Entries []DynEntry // dynamic entries after DT_STRTAB and DT_STRSZ
	Size    int64      // the PT_LOAD's file size when larger than the bytes written (the rest follows in the stream)
}

// DynEntry is one dynamic entry.
type DynEntry struct {
	Tag elf.DynTag
	Val uint64
}

// Needed returns a spec of a dynamic program (PT_INTERP interp, when not
// "") needing libs, each a string of its own.
func Needed(interp string, libs ...string) Spec {
	s := Spec{Dynamic: true, Strtab: []byte{0}}
	if interp != "" {
		s.Interp = append([]byte(interp), 0)
		s.Type = elf.ET_EXEC
	}
	for _, l := range libs {
		s.Entries = append(s.Entries, DynEntry{elf.DT_NEEDED, uint64(len(s.Strtab))})
		s.Strtab = append(append(s.Strtab, l...), 0)
	}
	return s
}

// Bytes returns the file.
func (s Spec) Bytes() []byte {
	le := binary.LittleEndian
	const ehsize, phentsize = 64, 56
	nph := 1
	if s.Interp != nil {
		nph++
	}
	if s.Dynamic {
		nph++
	}
	interpOff := uint64(ehsize + nph*phentsize)
	strOff := interpOff + uint64(len(s.Interp))
	dynOff := (strOff + uint64(len(s.Strtab)) + 7) &^ 7
	var dyn []byte
	if s.Dynamic {
		ents := append([]DynEntry{{elf.DT_STRTAB, strOff}, {elf.DT_STRSZ, uint64(len(s.Strtab))}}, s.Entries...)
		ents = append(ents, DynEntry{elf.DT_NULL, 0})
		dyn = make([]byte, 16*len(ents))
		for i, e := range ents {
			le.PutUint64(dyn[16*i:], uint64(e.Tag))
			le.PutUint64(dyn[16*i+8:], e.Val)
		}
	}
	end := dynOff + uint64(len(dyn))
	b := make([]byte, end)
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS], b[elf.EI_DATA], b[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	typ, mach := s.Type, s.Machine
	if typ == 0 {
		typ = elf.ET_DYN
	}
	if mach == 0 {
		mach = elf.EM_X86_64
	}
	le.PutUint16(b[16:], uint16(typ))
	le.PutUint16(b[18:], uint16(mach))
	le.PutUint32(b[20:], uint32(elf.EV_CURRENT))
	le.PutUint64(b[32:], ehsize) // e_phoff
	le.PutUint16(b[52:], ehsize)
	le.PutUint16(b[54:], phentsize)
	le.PutUint16(b[56:], uint16(nph))
	filesz := end
	if uint64(s.Size) > filesz {
		filesz = uint64(s.Size)
	}
	ph := b[ehsize:]
	put := func(typ elf.ProgType, flags elf.ProgFlag, off, size uint64) {
		le.PutUint32(ph[0:], uint32(typ))
		le.PutUint32(ph[4:], uint32(flags))
		le.PutUint64(ph[8:], off)   // p_offset
		le.PutUint64(ph[16:], off)  // p_vaddr
		le.PutUint64(ph[24:], off)  // p_paddr
		le.PutUint64(ph[32:], size) // p_filesz
		le.PutUint64(ph[40:], size) // p_memsz
		le.PutUint64(ph[48:], 8)    // p_align
		ph = ph[phentsize:]
	}
	put(elf.PT_LOAD, elf.PF_R|elf.PF_X, 0, filesz)
	if s.Interp != nil {
		put(elf.PT_INTERP, elf.PF_R, interpOff, uint64(len(s.Interp)))
		copy(b[interpOff:], s.Interp)
	}
	copy(b[strOff:], s.Strtab)
	if s.Dynamic {
		put(elf.PT_DYNAMIC, elf.PF_R|elf.PF_W, dynOff, uint64(len(dyn)))
		copy(b[dynOff:], dyn)
	}
	return b
}
