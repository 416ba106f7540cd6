package elfinfo

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrNotELF is returned for a file that does not start with the ELF magic.
var ErrNotELF = errors.New("not an ELF file")

// IsELF reports whether head, the first bytes of a file, starts with the
// ELF magic ("\x7fELF"): the one test of the module for "is it ELF".
func IsELF(head []byte) bool { return len(head) >= 4 && string(head[:4]) == elf.ELFMAG }

// Limits on what is read from one file, so that a hostile size field
// cannot force a huge allocation.
const (
	maxInterp  = 4096
	maxDynamic = 1 << 20  // bytes of PT_DYNAMIC
	maxStrtab  = 64 << 20 // bytes of DT_STRTAB
	maxVerRecs = 1 << 16  // version records followed
	maxString  = 1 << 16  // bytes of one string
	maxStrings = 4 << 20  // bytes of the distinct strings of one file
)

// FormatError reports a malformed ELF file.
type FormatError struct {
	Off int64  // offset in the file, or -1
	Msg string // what is wrong
	// Err is the read error behind an unreadable part, when it is not
	// the file's end (a part a view of the file did not keep).
	Err error
}

func (e *FormatError) Error() string {
	msg := e.Msg
	if e.Err != nil {
		msg += " (" + e.Err.Error() + ")"
	}
	if e.Off < 0 {
		return "malformed ELF: " + msg
	}
	return fmt.Sprintf("malformed ELF: %s at byte %#x", msg, e.Off)
}

func (e *FormatError) Unwrap() error { return e.Err }

// readErr is the cause worth reporting of a failed read: nil for the
// file's end.
func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}

// Info is what the loader needs from one ELF file.
type Info struct {
	Class   elf.Class
	Data    elf.Data
	Machine elf.Machine
	OSABI   elf.OSABI
	Type    elf.Type
	EFlags  uint32 // e_flags (ABI bits on ARM, MIPS, RISC-V)

	Interp     string // PT_INTERP, "" if none
	HasDynamic bool   // has PT_DYNAMIC
	// execErr is why the kernel refuses to execute the file (a PT_INTERP
	// it rejects), nil if it does not.
	execErr *FormatError

	Needed     []string // DT_NEEDED in order
	SOName     string
	RPath      string // DT_RPATH, raw; meaningful when HasRPath
	HasRPath   bool
	RunPath    string // DT_RUNPATH, raw; meaningful when HasRunPath
	HasRunPath bool
	Flags      elf.DynFlag  // DT_FLAGS
	Flags1     elf.DynFlag1 // DT_FLAGS_1

	VersionNeeds []VersionNeed // from DT_VERNEED
	VersionDefs  []string      // names defined by DT_VERDEF (the first, the file's own name, included)
}

// VersionNeed is the versions one object needs from one file (DT_VERNEED).
type VersionNeed struct {
	File     string // e.g. "libc.so.6"
	Versions []Version
}

// Version is one needed version, e.g. GLIBC_2.34.
type Version struct {
	Name string
	Weak bool
}

// ExecError returns why the kernel refuses to execute the file with
// ENOEXEC ("exec format error"), nil if it does not: its first PT_INTERP is
// empty (under 2 bytes), longer than PATH_MAX, or not NUL-terminated
// (load_elf_binary). It is a *FormatError. The loader ignores PT_INTERP in
// the libraries it loads: it only matters for a program.
func (i *Info) ExecError() error {
	if i.execErr == nil {
		return nil
	}
	return i.execErr
}

// IsStatic reports whether the loader plays no part: no PT_DYNAMIC, or a
// static-pie (PT_DYNAMIC but no PT_INTERP and no DT_NEEDED).
func (i *Info) IsStatic() bool {
	if !i.HasDynamic {
		return true
	}
	return i.Interp == "" && len(i.Needed) == 0
}

// IsStaticPIE reports whether the file relocates itself: ET_DYN with
// PT_DYNAMIC, no PT_INTERP, no DT_NEEDED and the DF_1_PIE flag.
func (i *Info) IsStaticPIE() bool {
	return i.Type == elf.ET_DYN && i.HasDynamic && i.Interp == "" &&
		len(i.Needed) == 0 && i.Flags1&elf.DF_1_PIE != 0
}

// NoDefLib reports DF_1_NODEFLIB: the cache and default directories are not
// searched for this object's dependencies.
func (i *Info) NoDefLib() bool { return i.Flags1&elf.DF_1_NODEFLIB != 0 }

// Read reads the ELF file r (size bytes long). It reads only the parts the
// loader reads, a few pages, whatever the size of the file.
func Read(r io.ReaderAt, size int64) (info *Info, err error) {
	pr := &pagedReader{r: r, size: size}
	defer pr.release()
	// Make sure no panic on adversarial input escapes.
	defer func() {
		if p := recover(); p != nil {
			info, err = nil, &FormatError{Off: -1, Msg: fmt.Sprint("unreadable: ", p)}
		}
	}()
	var magic []byte
	if size >= 4 {
		magic, _ = pr.view(0, 4)
	}
	if !IsELF(magic) {
		if size < 4 {
			return nil, fmt.Errorf("%w (file too short)", ErrNotELF)
		}
		return nil, ErrNotELF
	}
	info, phdrs, phentsize, err := readHeader(pr, size)
	if err != nil {
		return nil, err
	}
	bo := byteOrder(info.Data)
	var (
		dyn        progHeader
		haveDyn    bool
		haveInterp bool
		loadsBuf   [8]progHeader // most files have 2 to 5 PT_LOAD
		loads      = loadsBuf[:0]
	)
	for i := 0; i < len(phdrs); i += phentsize {
		p := decodeProg(phdrs[i:], info.Class, bo)
		switch p.typ {
		case elf.PT_INTERP:
			if haveInterp {
				continue // the kernel reads the first
			}
			haveInterp = true
			if p.filesz > maxInterp || int64(p.off) < 0 || int64(p.off+p.filesz) > size {
				return nil, &FormatError{Off: int64(p.off), Msg: "PT_INTERP out of range"}
			}
			b, err := pr.view(int64(p.off), int64(p.filesz))
			if err != nil {
				return nil, &FormatError{Off: int64(p.off), Msg: "PT_INTERP unreadable", Err: readErr(err)}
			}
			switch {
			case len(b) < 2:
				info.execErr = &FormatError{Off: int64(p.off), Msg: fmt.Sprintf("PT_INTERP of %d bytes is empty", len(b))}
			case b[len(b)-1] != 0:
				info.execErr = &FormatError{Off: int64(p.off), Msg: "PT_INTERP is not NUL-terminated"}
			}
			if i := bytes.IndexByte(b, 0); i >= 0 {
				b = b[:i]
			}
			info.Interp = string(b)
		case elf.PT_DYNAMIC:
			if !haveDyn {
				dyn, haveDyn = p, true
			}
		case elf.PT_LOAD:
			loads = append(loads, p)
		}
	}
	if !haveDyn {
		return info, nil
	}
	info.HasDynamic = true
	m := &image{pr: pr, size: size, loads: loads}
	if err := readDynamic(m, info, &dyn); err != nil {
		return nil, err
	}
	return info, nil
}

// LoaderRanges returns the parts of an ELF file of size bytes that Read
// reads wherever they lie, found from its first bytes head (which must
// hold the ELF header and the program headers): the program headers,
// PT_INTERP and PT_DYNAMIC (as much of it as Read reads), each as [start,
// end) offsets. The string table and version records are found through
// PT_DYNAMIC. ok is false when head does not hold the program headers or
// they are malformed.
func LoaderRanges(head []byte, size int64) (ranges [][2]int64, ok bool) {
	pr := &pagedReader{r: bytes.NewReader(head), size: min(size, int64(len(head)))}
	defer pr.release()
	info, phdrs, phentsize, err := readHeader(pr, size)
	if err != nil {
		return nil, false
	}
	phoff := int64(0)
	if len(phdrs) > 0 {
		// readHeader checked the table against size; find its offset again.
		bo := byteOrder(info.Data)
		if info.Class == elf.ELFCLASS64 {
			h, _ := pr.view(0, 64)
			phoff = int64(bo.Uint64(h[32:]))
		} else {
			h, _ := pr.view(0, 52)
			phoff = int64(bo.Uint32(h[28:]))
		}
		ranges = append(ranges, [2]int64{phoff, phoff + int64(len(phdrs))})
	}
	bo := byteOrder(info.Data)
	for i := 0; i < len(phdrs); i += phentsize {
		p := decodeProg(phdrs[i:], info.Class, bo)
		if int64(p.off) < 0 || int64(p.off) > size {
			continue
		}
		switch p.typ {
		case elf.PT_INTERP:
			ranges = append(ranges, [2]int64{int64(p.off), int64(p.off) + int64(min(p.filesz, maxInterp))})
		case elf.PT_DYNAMIC:
			ranges = append(ranges, [2]int64{int64(p.off), int64(p.off) + int64(min(p.filesz, maxDynamic))})
		}
	}
	return ranges, true
}

// progHeader is what the loader uses of a program header.
type progHeader struct {
	typ                elf.ProgType
	off, vaddr, filesz uint64
}

// decodeProg decodes the program header at the start of b, an Elf64_Phdr
// or Elf32_Phdr.
func decodeProg(b []byte, class elf.Class, bo binary.ByteOrder) progHeader {
	if class == elf.ELFCLASS64 {
		return progHeader{
			typ: elf.ProgType(bo.Uint32(b[0:])),
			off: bo.Uint64(b[8:]), vaddr: bo.Uint64(b[16:]), filesz: bo.Uint64(b[32:]),
		}
	}
	return progHeader{
		typ: elf.ProgType(bo.Uint32(b[0:])),
		off: uint64(bo.Uint32(b[4:])), vaddr: uint64(bo.Uint32(b[8:])), filesz: uint64(bo.Uint32(b[16:])),
	}
}

// readHeader decodes the ELF header and returns the program header table
// (phnum entries of phentsize bytes). Section headers, which the loader
// never reads, are not looked at, so bad ones do not matter.
func readHeader(pr *pagedReader, size int64) (*Info, []byte, int, error) {
	ident, err := pr.view(0, elf.EI_NIDENT)
	if err != nil {
		return nil, nil, 0, &FormatError{Off: 0, Msg: "file too short for the ELF header"}
	}
	info := &Info{
		Class: elf.Class(ident[elf.EI_CLASS]),
		Data:  elf.Data(ident[elf.EI_DATA]),
		OSABI: elf.OSABI(ident[elf.EI_OSABI]),
	}
	var bo binary.ByteOrder
	switch info.Data {
	case elf.ELFDATA2LSB:
		bo = binary.LittleEndian
	case elf.ELFDATA2MSB:
		bo = binary.BigEndian
	default:
		return nil, nil, 0, &FormatError{Off: elf.EI_DATA, Msg: fmt.Sprintf("unknown data encoding %d", ident[elf.EI_DATA])}
	}
	var phoff int64
	var phentsize, phnum int
	switch info.Class {
	case elf.ELFCLASS64:
		// Elf64_Ehdr: 64 bytes.
		h, err := pr.view(0, 64)
		if err != nil {
			return nil, nil, 0, &FormatError{Off: 0, Msg: "file too short for the ELF header"}
		}
		info.Type, info.Machine, info.EFlags = elf.Type(bo.Uint16(h[16:])), elf.Machine(bo.Uint16(h[18:])), bo.Uint32(h[48:])
		phoff, phentsize, phnum = int64(bo.Uint64(h[32:])), int(bo.Uint16(h[54:])), int(bo.Uint16(h[56:]))
		if phnum > 0 && phentsize < 56 { // sizeof(Elf64_Phdr)
			return nil, nil, 0, &FormatError{Off: 0x36, Msg: fmt.Sprintf("program header entry size %d", phentsize)}
		}
	case elf.ELFCLASS32:
		// Elf32_Ehdr: 52 bytes.
		h, err := pr.view(0, 52)
		if err != nil {
			return nil, nil, 0, &FormatError{Off: 0, Msg: "file too short for the ELF header"}
		}
		info.Type, info.Machine, info.EFlags = elf.Type(bo.Uint16(h[16:])), elf.Machine(bo.Uint16(h[18:])), bo.Uint32(h[36:])
		phoff, phentsize, phnum = int64(bo.Uint32(h[28:])), int(bo.Uint16(h[42:])), int(bo.Uint16(h[44:]))
		if phnum > 0 && phentsize < 32 { // sizeof(Elf32_Phdr)
			return nil, nil, 0, &FormatError{Off: 0x2a, Msg: fmt.Sprintf("program header entry size %d", phentsize)}
		}
	default:
		return nil, nil, 0, &FormatError{Off: elf.EI_CLASS, Msg: fmt.Sprintf("unknown class %d", ident[elf.EI_CLASS])}
	}
	if phnum == 0 {
		return info, nil, phentsize, nil
	}
	if phoff <= 0 || phoff > size || int64(phnum)*int64(phentsize) > size-phoff {
		return nil, nil, 0, &FormatError{Off: phoff, Msg: fmt.Sprintf("program headers (%d of %d bytes) out of range", phnum, phentsize)}
	}
	phdrs, err := pr.view(phoff, int64(phnum*phentsize))
	if err != nil {
		return nil, nil, 0, &FormatError{Off: phoff, Msg: "program headers unreadable", Err: readErr(err)}
	}
	return info, phdrs, phentsize, nil
}

// image maps the file's virtual addresses to file offsets through PT_LOAD.
type image struct {
	pr    *pagedReader
	size  int64
	loads []progHeader
}

// offset returns the file offset of vaddr and how many bytes of the segment
// follow it in the file.
func (m *image) offset(vaddr uint64) (int64, int64, bool) {
	for _, p := range m.loads {
		if vaddr >= p.vaddr && vaddr-p.vaddr < p.filesz {
			off := p.off + (vaddr - p.vaddr)
			if off > uint64(m.size) {
				return 0, 0, false
			}
			n := p.filesz - (vaddr - p.vaddr)
			if off+n > uint64(m.size) || off+n < off {
				n = uint64(m.size) - off
			}
			return int64(off), int64(n), true
		}
	}
	return 0, 0, false
}

// read returns n bytes at off, valid while m's pages are (see
// pagedReader.view).
func (m *image) read(off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off > m.size || n > m.size-off {
		return nil, &FormatError{Off: off, Msg: "read out of range"}
	}
	b, err := m.pr.view(off, n)
	if err != nil {
		return nil, &FormatError{Off: off, Msg: "unreadable", Err: readErr(err)}
	}
	return b, nil
}

func readDynamic(m *image, info *Info, dyn *progHeader) error {
	bo := byteOrder(info.Data)
	size := m.size
	n := int64(dyn.filesz)
	if n > maxDynamic {
		n = maxDynamic
	}
	if int64(dyn.off) < 0 || int64(dyn.off) > size {
		return &FormatError{Off: int64(dyn.off), Msg: "PT_DYNAMIC out of range"}
	}
	if n > size-int64(dyn.off) {
		n = size - int64(dyn.off)
	}
	buf, err := m.read(int64(dyn.off), n)
	if err != nil {
		return err
	}
	entsize := 16
	if info.Class == elf.ELFCLASS32 {
		entsize = 8
	}
	var (
		neededBuf                              [16]uint64
		needed                                 = neededBuf[:0]
		strAddr, strsz, soname, rpath, runpath uint64
		haveStrtab, haveStrsz, haveSoname      bool
		verneed, verneednum, verdef, verdefnum uint64
		haveVerneed, haveVerdef                bool
	)
	for i := 0; i+entsize <= len(buf); i += entsize {
		var tag, val uint64
		if entsize == 16 {
			tag, val = bo.Uint64(buf[i:]), bo.Uint64(buf[i+8:])
		} else {
			tag, val = uint64(int64(int32(bo.Uint32(buf[i:])))), uint64(bo.Uint32(buf[i+4:]))
		}
		switch elf.DynTag(tag) {
		case elf.DT_NULL:
			i = len(buf)
		case elf.DT_NEEDED:
			needed = append(needed, val)
		case elf.DT_STRTAB:
			strAddr, haveStrtab = val, true
		case elf.DT_STRSZ:
			strsz, haveStrsz = val, true
		case elf.DT_SONAME:
			soname, haveSoname = val, true
		case elf.DT_RPATH:
			rpath, info.HasRPath = val, true
		case elf.DT_RUNPATH:
			runpath, info.HasRunPath = val, true
		case elf.DT_FLAGS:
			info.Flags = elf.DynFlag(val)
		case elf.DT_FLAGS_1:
			info.Flags1 = elf.DynFlag1(val)
		case elf.DT_VERNEED:
			verneed, haveVerneed = val, true
		case elf.DT_VERNEEDNUM:
			verneednum = val
		case elf.DT_VERDEF:
			verdef, haveVerdef = val, true
		case elf.DT_VERDEFNUM:
			verdefnum = val
		}
	}
	if !haveStrtab {
		if len(needed) > 0 || haveSoname || info.HasRPath || info.HasRunPath {
			return &FormatError{Off: int64(dyn.off), Msg: "dynamic section has no DT_STRTAB"}
		}
		return nil
	}
	off, avail, ok := m.offset(strAddr)
	if !ok {
		return &FormatError{Off: int64(dyn.off), Msg: fmt.Sprintf("DT_STRTAB %#x not in a loaded segment", strAddr)}
	}
	if haveStrsz && int64(strsz) >= 0 && int64(strsz) < avail {
		avail = int64(strsz)
	}
	if avail > maxStrtab {
		avail = maxStrtab
	}
	tab := strtab{pr: m.pr, off: off, size: avail}
	if len(needed) > 0 {
		info.Needed = make([]string, 0, len(needed))
	}
	for _, o := range needed {
		s, err := tab.str(o, "DT_NEEDED")
		if err != nil {
			return err
		}
		info.Needed = append(info.Needed, s)
	}
	if haveSoname {
		if info.SOName, err = tab.str(soname, "DT_SONAME"); err != nil {
			return err
		}
	}
	if info.HasRPath {
		if info.RPath, err = tab.str(rpath, "DT_RPATH"); err != nil {
			return err
		}
	}
	if info.HasRunPath {
		if info.RunPath, err = tab.str(runpath, "DT_RUNPATH"); err != nil {
			return err
		}
	}
	if haveVerneed {
		if info.VersionNeeds, err = readVerneed(m, bo, verneed, verneednum, &tab); err != nil {
			return err
		}
	}
	if haveVerdef {
		if info.VersionDefs, err = readVerdef(m, bo, verdef, verdefnum, &tab); err != nil {
			return err
		}
	}
	return nil
}

// pagedReader reads r a page at a time and keeps the pages: the loader's
// data (headers, dynamic section, strings, version records) is a few
// scattered pages, read with many small reads.
type pagedReader struct {
	r    io.ReaderAt
	size int64
	// The pages read, searched in order: the first in inline (most files
	// need one to three), the rest in more. Not a slice of inline, which
	// would make the reader point to itself and escape to the heap.
	inline [4]page
	n      int // pages in inline
	more   []page
}

type page struct {
	idx int64
	b   []byte
	buf *[readPage]byte // from pagePool, returned by release
}

// pagePool recycles pages across files: nothing read escapes a page (the
// strings and records of Info are copies).
var pagePool = sync.Pool{New: func() any { return new([readPage]byte) }}

// release returns the pages to the pool; p must not be used after.
func (p *pagedReader) release() {
	for _, pg := range p.inline[:p.n] {
		pagePool.Put(pg.buf)
	}
	for _, pg := range p.more {
		pagePool.Put(pg.buf)
	}
	p.inline, p.n, p.more = [4]page{}, 0, nil
}

// ReadAt implements io.ReaderAt.
func (p *pagedReader) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &FormatError{Off: off, Msg: "negative offset"}
	}
	n := 0
	for n < len(b) {
		if off >= p.size {
			return n, io.EOF
		}
		pg, err := p.page(off / readPage)
		if err != nil {
			return n, err
		}
		in := off % readPage
		if in >= int64(len(pg)) {
			return n, io.EOF
		}
		c := copy(b[n:], pg[in:])
		n += c
		off += int64(c)
	}
	return n, nil
}

// view returns the n bytes at off: a slice of a cached page when they lie
// in one (valid until release), else a copy.
func (p *pagedReader) view(off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off > p.size || n > p.size-off {
		return nil, io.ErrUnexpectedEOF
	}
	if n == 0 {
		return []byte{}, nil
	}
	idx, in := off/readPage, off%readPage
	if in+n <= readPage {
		pg, err := p.page(idx)
		if err != nil {
			return nil, err
		}
		if in+n > int64(len(pg)) {
			return nil, io.ErrUnexpectedEOF
		}
		return pg[in : in+n : in+n], nil
	}
	b := make([]byte, n)
	if _, err := p.ReadAt(b, off); err != nil {
		return nil, err
	}
	return b, nil
}

func (p *pagedReader) page(i int64) ([]byte, error) {
	for _, pg := range p.inline[:p.n] {
		if pg.idx == i {
			return pg.b, nil
		}
	}
	for _, pg := range p.more {
		if pg.idx == i {
			return pg.b, nil
		}
	}
	buf := pagePool.Get().(*[readPage]byte)
	b := buf[:min(readPage, p.size-i*readPage)]
	n, err := p.r.ReadAt(b, i*readPage)
	if n < len(b) {
		pagePool.Put(buf)
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if p.n < len(p.inline) {
		p.inline[p.n] = page{idx: i, b: b, buf: buf}
		p.n++
	} else {
		p.more = append(p.more, page{idx: i, b: b, buf: buf})
	}
	return b, nil
}

// strtab reads strings of DT_STRTAB on demand, straight from the file's
// cached pages: the few strings the loader needs are a small part of a big
// C++ library's table.
type strtab struct {
	pr   *pagedReader
	off  int64 // file offset of the table
	size int64 // bytes of the table available in the file
	// The strings read, by offset: a file naming one string many times
	// (thousands of DT_NEEDED entries of one long name) shares it, and the
	// distinct strings of one file are bounded in total (maxStrings).
	// The first strings are searched in inline (a file has a few dozen),
	// the rest in more.
	inline [16]seenString
	n      int
	more   map[uint64]string
	total  int64
}

type seenString struct {
	o uint64
	s string
}

// lookup returns the string at offset o if it was read before.
func (t *strtab) lookup(o uint64) (string, bool) {
	for _, e := range t.inline[:t.n] {
		if e.o == o {
			return e.s, true
		}
	}
	s, ok := t.more[o]
	return s, ok
}

// remember records the string at offset o.
func (t *strtab) remember(o uint64, s string) {
	if t.n < len(t.inline) {
		t.inline[t.n] = seenString{o, s}
		t.n++
		return
	}
	if t.more == nil {
		t.more = map[uint64]string{}
	}
	t.more[o] = s
}

// readPage is the unit of reading. The kernel copies every byte read, and
// most of a larger page is never looked at: over the 2802 ELF files of a
// Debian system, 4 KiB pages make 40% more reads than 16 KiB ones but copy
// a third of the bytes, and take less time.
const readPage = 4096

// str returns the string at offset o of the table, or an error naming
// what it is for.
func (t *strtab) str(o uint64, what string) (string, error) {
	if o >= uint64(t.size) {
		return "", &FormatError{Off: t.off, Msg: fmt.Sprintf("%s string offset %#x beyond the string table", what, o)}
	}
	if s, ok := t.lookup(o); ok {
		return s, nil
	}
	s, ok, err := t.get(int64(o))
	if err != nil {
		return "", err
	}
	if !ok {
		return "", &FormatError{Off: t.off + int64(o), Msg: what + " string not terminated"}
	}
	if t.total += int64(len(s)); t.total > maxStrings {
		return "", &FormatError{Off: t.off + int64(o), Msg: fmt.Sprintf("strings of the dynamic section over %d bytes", maxStrings)}
	}
	t.remember(o, s)
	return s, nil
}

// get returns the NUL-terminated string at offset o of the table, and
// false if the table ends (or maxString passes) before its NUL.
func (t *strtab) get(o int64) (string, bool, error) {
	var b []byte
	abs, end := t.off+o, t.off+t.size
	for abs < end && int64(len(b)) <= maxString {
		idx := abs / readPage
		page, err := t.pr.page(idx)
		if err != nil {
			return "", false, err
		}
		start := abs - idx*readPage
		if start >= int64(len(page)) {
			break
		}
		chunk := page[start:min(int64(len(page)), start+end-abs)]
		if i := bytes.IndexByte(chunk, 0); i >= 0 {
			if b == nil {
				return string(chunk[:i]), true, nil
			}
			return string(append(b, chunk[:i]...)), true, nil
		}
		b = append(b, chunk...)
		abs += int64(len(chunk))
	}
	return "", false, nil
}

func byteOrder(d elf.Data) binary.ByteOrder {
	if d == elf.ELFDATA2MSB {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// readVerneed walks Elf_Verneed records (16 bytes) and their Elf_Vernaux
// records (16 bytes); the layout is the same for both classes.
func readVerneed(m *image, bo binary.ByteOrder, addr, count uint64, tab *strtab) ([]VersionNeed, error) {
	var out []VersionNeed
	if count > 0 {
		out = make([]VersionNeed, 0, min(count, 16)) // count comes from the file: capped
	}
	off, avail, ok := m.offset(addr)
	if !ok {
		return nil, &FormatError{Off: -1, Msg: fmt.Sprintf("DT_VERNEED %#x not in a loaded segment", addr)}
	}
	base := off
	end := off + avail
	recs := 0
	pos := off
	for i := uint64(0); i < count; i++ {
		if pos < base || pos+16 > end {
			return nil, &FormatError{Off: pos, Msg: "version need record out of range"}
		}
		b, err := m.read(pos, 16)
		if err != nil {
			return nil, err
		}
		cnt, file, aux, next := bo.Uint16(b[2:]), bo.Uint32(b[4:]), bo.Uint32(b[8:]), bo.Uint32(b[12:])
		name, err := tab.str(uint64(file), "version need file")
		if err != nil {
			return nil, err
		}
		vn := VersionNeed{File: name}
		if cnt > 0 {
			vn.Versions = make([]Version, 0, min(cnt, 16)) // cnt comes from the file: capped
		}
		apos := pos + int64(aux)
		for j := 0; j < int(cnt); j++ {
			if recs++; recs > maxVerRecs {
				return nil, &FormatError{Off: apos, Msg: "too many version records"}
			}
			if apos < base || apos+16 > end {
				return nil, &FormatError{Off: apos, Msg: "version need aux record out of range"}
			}
			a, err := m.read(apos, 16)
			if err != nil {
				return nil, err
			}
			flags, vname, anext := bo.Uint16(a[4:]), bo.Uint32(a[8:]), bo.Uint32(a[12:])
			s, err := tab.str(uint64(vname), "version need name")
			if err != nil {
				return nil, err
			}
			vn.Versions = append(vn.Versions, Version{Name: s, Weak: flags&0x2 != 0})
			if anext == 0 {
				break
			}
			apos += int64(anext)
		}
		out = append(out, vn)
		if recs++; recs > maxVerRecs {
			return nil, &FormatError{Off: pos, Msg: "too many version records"}
		}
		if next == 0 {
			break
		}
		pos += int64(next)
	}
	return out, nil
}

// readVerdef walks Elf_Verdef records (20 bytes) and the first Elf_Verdaux
// (8 bytes) of each, which names the version.
func readVerdef(m *image, bo binary.ByteOrder, addr, count uint64, tab *strtab) ([]string, error) {
	var out []string
	off, avail, ok := m.offset(addr)
	if !ok {
		return nil, &FormatError{Off: -1, Msg: fmt.Sprintf("DT_VERDEF %#x not in a loaded segment", addr)}
	}
	base, end, pos := off, off+avail, off
	for i := uint64(0); i < count && i < maxVerRecs; i++ {
		if pos < base || pos+20 > end {
			return nil, &FormatError{Off: pos, Msg: "version definition record out of range"}
		}
		b, err := m.read(pos, 20)
		if err != nil {
			return nil, err
		}
		cnt, aux, next := bo.Uint16(b[6:]), bo.Uint32(b[12:]), bo.Uint32(b[16:])
		if cnt > 0 {
			apos := pos + int64(aux)
			if apos < base || apos+8 > end {
				return nil, &FormatError{Off: apos, Msg: "version definition aux record out of range"}
			}
			a, err := m.read(apos, 8)
			if err != nil {
				return nil, err
			}
			s, err := tab.str(uint64(bo.Uint32(a[0:])), "version definition name")
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		if next == 0 {
			break
		}
		pos += int64(next)
	}
	return out, nil
}
