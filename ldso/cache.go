package ldso

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// The two ld.so.cache formats (glibc sysdeps/generic/dl-cache.h).
const (
	cacheMagicOld     = "ld.so-1.7.0"          // struct cache_file
	cacheMagicNew     = "glibc-ld.so.cache1.1" // struct cache_file_new: magic and version
	cacheOldHeader    = 16                     // magic, padding, nlibs
	cacheOldEntry     = 12                     // flags, key, value
	cacheNewHeader    = 48                     // magic, nlibs, len_strings, flags, extension_offset, unused
	cacheNewEntry     = 24                     // flags, key, value, osversion, hwcap
	cacheExtMagic     = 0xEAA42174             // cache_extension_magic, (uint32_t) -358342284
	cacheExtTagHWCaps = 1                      // cache_extension_tag_glibc_hwcaps

	// cacheHWCapExtension marks an entry of a glibc-hwcaps subdirectory:
	// the low 32 bits of hwcap index the names in the extension
	// (DL_CACHE_HWCAP_EXTENSION).
	cacheHWCapExtension = uint64(1) << 62
	// cacheISALevelMask selects the x86 ISA level ldconfig stores in bits
	// 32..41 of the hwcap of glibc-hwcaps entries.
	cacheISALevelMask = 1<<10 - 1
	// cacheHWCapTLS is the legacy hwcap bit of a "tls" subdirectory; the
	// loader never excludes it (_DL_HWCAP_TLS_MASK).
	cacheHWCapTLS = uint64(1) << 63
	// cacheHWCapX86_64 is x86's legacy HWCAP_X86_64 ("x86_64" subdirectory),
	// which glibc up to 2.36 sets on every x86-64 CPU and keeps in its default
	// hwcap mask.
	cacheHWCapX86_64 = uint64(1) << 1
)

// Cache flags: FLAG_* of glibc sysdeps/generic/ldconfig.h. The low byte is
// the library type, the next one the architecture/ABI.
const (
	cacheFlagELF         = 0x0001
	cacheFlagELFLibc6    = 0x0003
	cacheFlagSparcLib64  = 0x0100
	cacheFlagIA64Lib64   = 0x0200
	cacheFlagX8664Lib64  = 0x0300
	cacheFlagS390Lib64   = 0x0400
	cacheFlagPPCLib64    = 0x0500
	cacheFlagMIPS64N32   = 0x0600
	cacheFlagMIPS64N64   = 0x0700
	cacheFlagX8664LibX32 = 0x0800
	cacheFlagARMLibHF    = 0x0900
	cacheFlagAArch64     = 0x0a00
	cacheFlagARMLibSF    = 0x0b00
	cacheFlagMIPS32N2008 = 0x0c00
	cacheFlagMIPSN32N08  = 0x0d00
	cacheFlagMIPSN64N08  = 0x0e00
	cacheFlagRISCVSoft   = 0x0f00
	cacheFlagRISCVDouble = 0x1000
	cacheFlagLArchSoft   = 0x1100
	cacheFlagLArchDouble = 0x1200
)

// e_flags bits that ldconfig reads (glibc's elf.h).
const (
	cacheEFARMEABIMask    = 0xff000000
	cacheEFARMEABIVer5    = 0x05000000
	cacheEFARMFloatSoft   = 0x200
	cacheEFARMFloatHard   = 0x400
	cacheEFMIPSABI2       = 0x20
	cacheEFMIPSNaN2008    = 0x400
	cacheEFRISCVRVC       = 0x1
	cacheEFRISCVFloatABI  = 0x6
	cacheEFRISCVSoft      = 0x0
	cacheEFRISCVDouble    = 0x4
	cacheEFLArchSoft      = 0x1
	cacheEFLArchDouble    = 0x3
	cacheEFLArchSupported = cacheEFLArchSoft | cacheEFLArchDouble
	cacheEFLArchObjABIV1  = 0x40
	cacheMachineCSKY      = elf.Machine(252) // EM_CSKY, missing from debug/elf
)

// Values of Cache.Format.
const (
	cacheFormatNew    = "new"
	cacheFormatOld    = "old"
	cacheFormatCompat = "compat"
)

// CacheEntry is one library in an ld.so.cache.
//
// HWCapSubdir is set for a glibc-hwcaps entry (bit 62 of HWCap, with no
// other bit of the upper half but the ISA level in bits 32..41) and is the
// name glibc reads for it, as `ldconfig -p` prints it: in a compat file that
// is a piece of another string, not the name ldconfig meant, and the loader
// never takes such an entry.
type CacheEntry struct {
	Flags       uint32 // e.g. 0x0303 for x86-64 libc6
	Name        string // key, the soname
	Path        string // value, absolute path inside the root
	HWCap       uint64 // raw hwcap field (new format); 0 in the old format
	HWCapSubdir string // glibc-hwcaps subdirectory name (e.g. "x86-64-v3") when bit 62 of HWCap is set and the extension names it; "" otherwise
}

// Cache is a parsed ld.so.cache.
type Cache struct {
	format  string
	wide    bool // entries come from the new format and carry hwcap
	entries []CacheEntry
}

// CacheError reports a malformed ld.so.cache: what is wrong, and the byte
// offset in the file of the field that says so.
type CacheError struct {
	Offset int64
	Msg    string
}

// Error implements error.
func (e *CacheError) Error() string {
	return fmt.Sprintf("ld.so.cache: %s (at byte %#x)", e.Msg, e.Offset)
}

func cacheErrorf(off int64, format string, args ...any) error {
	return &CacheError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// ParseCache parses the bytes of an ld.so.cache in the new format
// ("glibc-ld.so.cache1.1", with the glibc 2.33+ extension holding the
// glibc-hwcaps subdirectory names), the old format ("ld.so-1.7.0"), or the
// compat layout (old then new at an 8-byte boundary: the new part is used,
// as glibc does).
//
// It accepts what glibc's loader accepts (elf/dl-cache.c
// _dl_load_cache_lookup), in either byte order: the new format's flags byte
// says which, and where it is unset (old files) the one in which the entry
// count fits the file is taken. A cache marked invalid, truncated, or with
// an entry whose name or path is out of the file or not NUL-terminated is
// refused with a [*CacheError]. A malformed extension is not an error: like
// the loader, the parser then knows no glibc-hwcaps names, so those entries
// are never chosen.
//
// Every count and offset is checked against len(b), and the strings share
// one copy of b, so memory is linear in len(b).
func ParseCache(b []byte) (*Cache, error) {
	switch {
	case len(b) >= len(cacheMagicNew) && string(b[:len(cacheMagicNew)]) == cacheMagicNew:
		// glibc wants more than the header ("cachesize > sizeof *cache_new").
		if len(b) <= cacheNewHeader {
			return nil, cacheErrorf(int64(len(b)), "truncated header: %d bytes", len(b))
		}
		c, err := parseNewCache(b, newCacheStrings(string(b)), 0)
		if err != nil {
			return nil, err
		}
		c.format = cacheFormatNew
		return c, nil
	case len(b) >= len(cacheMagicOld) && string(b[:len(cacheMagicOld)]) == cacheMagicOld:
		return parseOldCache(b)
	}
	return nil, cacheErrorf(0, "not an ld.so.cache (no %q or %q magic)", cacheMagicNew, cacheMagicOld)
}

// countOrder returns the byte order in which the 32-bit count at off fits
// in avail bytes of entries of size entry, little-endian first.
func countOrder(b []byte, off, avail, entry int) (binary.ByteOrder, uint32, bool) {
	for _, o := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		if n := o.Uint32(b[off:]); uint64(n) <= uint64(avail/entry) {
			return o, n, true
		}
	}
	return nil, 0, false
}

// parseOldCache parses a file that starts with the old magic: the old
// format, or the compat layout when the new format follows the old
// entries.
func parseOldCache(b []byte) (*Cache, error) {
	if len(b) <= cacheOldHeader {
		return nil, cacheErrorf(int64(len(b)), "truncated header: %d bytes", len(b))
	}
	order, n, ok := countOrder(b, 12, len(b)-cacheOldHeader, cacheOldEntry)
	if !ok {
		return nil, cacheErrorf(12, "entry count %d does not fit in the file (%d bytes)",
			binary.LittleEndian.Uint32(b[12:]), len(b))
	}
	strs := newCacheStrings(string(b))
	strBase := uint64(cacheOldHeader) + uint64(n)*cacheOldEntry
	// The new format follows at the next 8-byte boundary (ALIGN_CACHE on a
	// 64-bit loader; ldconfig pads the old part to an even count so 32-bit
	// loaders agree).
	if off := (strBase + 7) &^ 7; uint64(len(b)) >= off+cacheNewHeader &&
		string(b[off:off+uint64(len(cacheMagicNew))]) == cacheMagicNew {
		c, err := parseNewCache(b, strs, int(off))
		if err != nil {
			return nil, err
		}
		c.format = cacheFormatCompat
		return c, nil
	}
	c := &Cache{format: cacheFormatOld, entries: make([]CacheEntry, 0, n)}
	for i := range uint64(n) {
		at := cacheOldHeader + i*cacheOldEntry
		name, err := strs.field(strBase, order.Uint32(b[at+4:]), at+4, "name")
		if err != nil {
			return nil, err
		}
		p, err := strs.field(strBase, order.Uint32(b[at+8:]), at+8, "path")
		if err != nil {
			return nil, err
		}
		c.entries = append(c.entries, CacheEntry{Flags: order.Uint32(b[at:]), Name: name, Path: p})
	}
	return c, nil
}

// parseNewCache parses the new format whose header is at base (0, or after
// the old part of a compat file). String offsets of entries count from the
// header; offsets in the extension, and the string offsets it holds, count
// from the start of the file, as glibc reads them.
func parseNewCache(b []byte, strs *cacheStrings, base int) (*Cache, error) {
	var order binary.ByteOrder
	avail := len(b) - base - cacheNewHeader
	switch fl := b[base+28]; {
	case fl == 0: // by an older ldconfig that did not record the byte order
		o, _, ok := countOrder(b, base+20, avail, cacheNewEntry)
		if !ok {
			return nil, cacheErrorf(int64(base+20), "entry count %d does not fit in the file (%d bytes)",
				binary.LittleEndian.Uint32(b[base+20:]), len(b))
		}
		order = o
	case fl&3 == 2:
		order = binary.LittleEndian
	case fl&3 == 3:
		order = binary.BigEndian
	default: // cache_file_new_flags_endian_invalid, or bits without an order
		return nil, cacheErrorf(int64(base+28), "cache flags %#x mark it invalid", fl)
	}
	n := order.Uint32(b[base+20:])
	if uint64(n) > uint64(avail/cacheNewEntry) {
		return nil, cacheErrorf(int64(base+20), "entry count %d does not fit in the file (%d bytes)", n, len(b))
	}
	hwcapNames := cacheHWCapNames(b, strs, order, order.Uint32(b[base+32:]))
	c := &Cache{wide: true, entries: make([]CacheEntry, 0, n)}
	for i := range uint64(n) {
		at := uint64(base) + cacheNewHeader + i*cacheNewEntry
		name, err := strs.field(uint64(base), order.Uint32(b[at+4:]), at+4, "name")
		if err != nil {
			return nil, err
		}
		p, err := strs.field(uint64(base), order.Uint32(b[at+8:]), at+8, "path")
		if err != nil {
			return nil, err
		}
		e := CacheEntry{Flags: order.Uint32(b[at:]), Name: name, Path: p, HWCap: order.Uint64(b[at+16:])}
		if isNamedHWCap(e.HWCap) {
			e.HWCapSubdir = hwcapNames(uint32(e.HWCap))
		}
		c.entries = append(c.entries, e)
	}
	return c, nil
}

// cacheStrings reads the NUL-terminated strings of a file in time that
// does not grow with their length, so that many offsets into one long
// string cost no more than the file's size: it knows, for each block, where
// the first NUL at or after the block's start is.
type cacheStrings struct {
	s     string // the whole file; every string is a substring of it
	first []int  // first[k]: index of the first NUL at or after k*cacheStrBlock, or -1
}

const cacheStrBlock = 4096

func newCacheStrings(s string) *cacheStrings {
	t := &cacheStrings{s: s, first: make([]int, len(s)/cacheStrBlock+1)}
	next := -1
	for k := len(t.first) - 1; k >= 0; k-- {
		start, end := k*cacheStrBlock, min((k+1)*cacheStrBlock, len(s))
		if i := strings.IndexByte(s[start:end], 0); i >= 0 {
			next = start + i
		}
		t.first[k] = next
	}
	return t
}

// at returns the string at offset off, and false if off is out of the file
// or no NUL follows it.
func (t *cacheStrings) at(off uint64) (string, bool) {
	if off >= uint64(len(t.s)) {
		return "", false
	}
	o := int(off)
	k := o/cacheStrBlock + 1
	if i := strings.IndexByte(t.s[o:min(k*cacheStrBlock, len(t.s))], 0); i >= 0 {
		return t.s[o : o+i], true
	}
	if k >= len(t.first) || t.first[k] < 0 {
		return "", false
	}
	return t.s[o:t.first[k]], true
}

// field returns the string at base+off for the entry field at byte field,
// or a *CacheError naming it.
func (t *cacheStrings) field(base uint64, off uint32, field uint64, what string) (string, error) {
	start := base + uint64(off)
	if start >= uint64(len(t.s)) {
		return "", cacheErrorf(int64(field), "%s string offset %#x is out of the file (%d bytes)", what, off, len(t.s))
	}
	str, ok := t.at(start)
	if !ok {
		return "", cacheErrorf(int64(field), "%s string at byte %#x has no NUL terminator", what, start)
	}
	return str, nil
}

// isNamedHWCap reports whether hwcap marks a glibc-hwcaps entry: bit 62
// and no other bit of the upper half except the ISA level
// (dl_cache_hwcap_extension).
func isNamedHWCap(hwcap uint64) bool {
	return (hwcap>>32)&^cacheISALevelMask == cacheHWCapExtension>>32
}

// cacheHWCapNames returns a function from the index in an entry's hwcap to
// the glibc-hwcaps subdirectory name, following glibc's
// cache_extension_load: any inconsistency in the extension directory means
// no names at all. Names are read at their offset from the start of the
// file, which is what glibc does; in a compat file ldconfig writes them
// relative to the new header instead, so there the names are wrong and the
// loader never picks a glibc-hwcaps entry (observed with glibc 2.36).
func cacheHWCapNames(b []byte, strs *cacheStrings, order binary.ByteOrder, extOff uint32) func(uint32) string {
	none := func(uint32) string { return "" }
	size := uint64(len(b))
	if extOff == 0 || extOff%4 != 0 || uint64(extOff)+8 > size {
		return none
	}
	if order.Uint32(b[extOff:]) != cacheExtMagic {
		return none
	}
	count := uint64(order.Uint32(b[extOff+4:]))
	if uint64(extOff)+8+count*16 > size {
		return none
	}
	var secOff, secSize uint64
	found := false
	for i := range count {
		at := uint64(extOff) + 8 + 16*i
		off, sz := uint64(order.Uint32(b[at+8:])), uint64(order.Uint32(b[at+12:]))
		if off+sz > size {
			return none
		}
		if order.Uint32(b[at:]) == cacheExtTagHWCaps { // the last one wins
			secOff, secSize, found = off, sz, true
		}
	}
	// cache_extension_verify: non-empty, 4-byte aligned, whole entries.
	if !found || secSize == 0 || secOff%4 != 0 || secSize%4 != 0 {
		return none
	}
	sec := b[secOff : secOff+secSize]
	return func(i uint32) string {
		if uint64(i) >= uint64(len(sec)/4) {
			return ""
		}
		name, _ := strs.at(uint64(order.Uint32(sec[4*i:])))
		return name
	}
}

// Format returns "new", "old" or "compat".
func (c *Cache) Format() string {
	if c == nil {
		return ""
	}
	return c.format
}

// Entries returns the entries in file order (for a compat file, those of
// its new part).
func (c *Cache) Entries() []CacheEntry {
	if c == nil {
		return nil
	}
	return slices.Clone(c.entries)
}

// cacheLoader is what one build of glibc's loader expects of cache
// entries: _dl_cache_check_flags and _DL_CACHE_DEFAULT_ID of its
// sysdeps/unix/sysv/linux/*/dl-cache.h.
type cacheLoader struct {
	accept       [2]uint32 // the flags _dl_cache_check_flags accepts
	defaultID    uint32    // _DL_CACHE_DEFAULT_ID: an exact match ends the search
	x86          bool      // x86-64 or x32: ISA levels and HWCAP_X86_64 apply
	unsignedChar bool      // plain char is unsigned in the loader's C ABI
}

// accepts is _dl_cache_check_flags.
func (ld cacheLoader) accepts(flags uint32) bool {
	return flags == ld.accept[0] || flags == ld.accept[1]
}

// loaderFor returns the loader that runs an object with cache flags flags.
func loaderFor(flags uint32) cacheLoader {
	switch flags {
	case cacheFlagX8664Lib64 | cacheFlagELFLibc6, cacheFlagX8664LibX32 | cacheFlagELFLibc6:
		return cacheLoader{accept: [2]uint32{flags, flags}, defaultID: flags, x86: true}
	case cacheFlagARMLibHF | cacheFlagELFLibc6, cacheFlagARMLibSF | cacheFlagELFLibc6:
		// Unmarked objects are taken as compatible with either float ABI;
		// the default ID stays the generic one.
		return cacheLoader{accept: [2]uint32{flags, cacheFlagELFLibc6}, defaultID: cacheFlagELFLibc6, unsignedChar: true}
	case cacheFlagAArch64 | cacheFlagELFLibc6, cacheFlagPPCLib64 | cacheFlagELFLibc6,
		cacheFlagS390Lib64 | cacheFlagELFLibc6, cacheFlagRISCVSoft | cacheFlagELFLibc6,
		cacheFlagRISCVDouble | cacheFlagELFLibc6:
		return cacheLoader{accept: [2]uint32{flags, flags}, defaultID: flags, unsignedChar: true}
	case cacheFlagELF, cacheFlagELFLibc6:
		// sysdeps/generic/dl-cache.h: i386, 32-bit PowerPC, s390 and SPARC,
		// MIPS o32 with legacy NaN, and the architectures without a flag.
		return cacheLoader{accept: [2]uint32{cacheFlagELF, cacheFlagELFLibc6}, defaultID: cacheFlagELFLibc6}
	}
	// Every other architecture accepts exactly its own value.
	return cacheLoader{accept: [2]uint32{flags, flags}, defaultID: flags}
}

// acceptFlags reports whether the loader for objects of cache flags flags
// accepts a cache entry whose flags are entryFlags (_dl_cache_check_flags).
func acceptFlags(flags, entryFlags uint32) bool {
	return loaderFor(flags).accepts(entryFlags)
}

// Lookup returns the path glibc's loader would take from the cache for
// name, for an object whose cache flags are flags (see [CacheFlags]), given
// the glibc-hwcaps subdirectory names the CPU supports in priority order,
// best first (may be nil: then only plain entries qualify). It returns ""
// if none.
//
// It mirrors glibc 2.33+ elf/dl-cache.c search_cache, binary search
// included: names compare as _dl_cache_libcmp does (digit runs as numbers,
// so "libfoo.so.01" finds "libfoo.so.1"), and among the entries with that
// name whose flags the loader accepts ([acceptFlags]), a glibc-hwcaps entry
// whose subdirectory is in hwcaps wins by priority, otherwise the first
// plain entry. On x86-64 a glibc-hwcaps entry must also fit the ISA level
// the best x86-64-vN of hwcaps implies. In the old format there is no hwcap
// field, so glibc-hwcaps entries written there count as plain ones (which
// is what the loader does).
//
// Legacy hwcap entries (hwcap != 0 without the glibc-hwcaps mark, from
// subdirectories such as tls, haswell or x86_64 that ldconfig up to 2.36
// recorded) depend on the CPU and are skipped, except those the loader
// takes on every CPU: the "tls" bit, and on x86-64 and x32 also the
// "x86_64" bit (glibc up to 2.36).
func (c *Cache) Lookup(name string, flags uint32, hwcaps []string) string {
	if c == nil || len(c.entries) == 0 {
		return ""
	}
	if i := strings.IndexByte(name, 0); i >= 0 { // a C string ends there
		name = name[:i]
	}
	ld := loaderFor(flags)
	cmp := func(i int) int32 { return libcmp(name, c.entries[i].Name, ld.unsignedChar) }

	left, right := 0, len(c.entries)-1
	for left <= right {
		middle := (left + right) / 2
		res := cmp(middle)
		if res < 0 {
			left = middle + 1
			continue
		}
		if res > 0 {
			right = middle - 1
			continue
		}
		// Found: back up to the first entry with this name, then walk on.
		left = middle
		for middle > 0 && cmp(middle-1) == 0 {
			middle--
		}
		best, found := "", false
		var bestPrio int
		for ; middle <= right; middle++ {
			e := &c.entries[middle]
			if middle > left && cmp(middle) != 0 {
				break
			}
			if !ld.accepts(e.Flags) {
				continue
			}
			named := false
			if c.wide {
				named = isNamedHWCap(e.HWCap)
				if named && ld.x86 && !x86ISALevelOK(e.HWCap, hwcaps) {
					continue
				}
				// glibc-hwcaps entries sort first; once they are done,
				// the best of them wins.
				if !named && found {
					break
				}
				if !named && !legacyHWCapOK(e.HWCap, ld) {
					continue
				}
				if named {
					p := hwcapPriority(e.HWCapSubdir, hwcaps)
					if p == 0 || (found && p >= bestPrio) {
						continue
					}
					bestPrio = p
				}
			}
			best, found = e.Path, true
			if !named && e.Flags == ld.defaultID {
				break
			}
		}
		return best
	}
	return ""
}

// hwcapPriority returns 1 for the best subdirectory of hwcaps, 2 for the
// next, and 0 when the CPU does not support sub.
func hwcapPriority(sub string, hwcaps []string) int {
	if sub == "" {
		return 0
	}
	return slices.Index(hwcaps, sub) + 1
}

// legacyHWCapOK reports whether a legacy hwcap entry is one the loader
// takes whatever the CPU: hwcap_exclude in search_cache never holds the TLS
// bit, and x86-64's dl_hwcap and default hwcap mask always hold
// HWCAP_X86_64 (glibc up to 2.36).
func legacyHWCapOK(hwcap uint64, ld cacheLoader) bool {
	always := cacheHWCapTLS
	if ld.x86 {
		always |= cacheHWCapX86_64
	}
	return hwcap&^always == 0
}

// x86ISALevelOK mirrors x86's dl_cache_hwcap_isa_level_compatible: the ISA
// level ldconfig stored (0 baseline, 1 x86-64-v2, 2 -v3, 3 -v4) must be one
// the CPU supports, taken as every level up to the best x86-64-vN in hwcaps.
func x86ISALevelOK(hwcap uint64, hwcaps []string) bool {
	level := (hwcap >> 32) & cacheISALevelMask
	isa := uint32(1) // baseline
	for n, name := range []string{"x86-64-v2", "x86-64-v3", "x86-64-v4"} {
		if slices.Contains(hwcaps, name) {
			isa = 1<<(n+2) - 1
		}
	}
	bit := uint32(1) << (level & 31) // the x86 shift instruction masks the count
	return isa&bit == bit
}

// libcmp is glibc's _dl_cache_libcmp, the order of the entries: digit runs
// compare as (32-bit, wrapping) numbers, other bytes as plain chars, signed
// or not as on the loader's architecture.
func libcmp(p1, p2 string, unsignedChar bool) int32 {
	at := func(s string, i int) int32 {
		if i >= len(s) {
			return 0
		}
		if unsignedChar {
			return int32(s[i])
		}
		return int32(int8(s[i]))
	}
	digit := func(c int32) bool { return c >= '0' && c <= '9' }
	i, j := 0, 0
	for at(p1, i) != 0 {
		c1, c2 := at(p1, i), at(p2, j)
		switch {
		case digit(c1) && digit(c2):
			var v1, v2 int32
			for ; digit(at(p1, i)); i++ {
				v1 = v1*10 + at(p1, i) - '0'
			}
			for ; digit(at(p2, j)); j++ {
				v2 = v2*10 + at(p2, j) - '0'
			}
			if v1 != v2 {
				return v1 - v2
			}
		case digit(c1):
			return 1
		case digit(c2):
			return -1
		case c1 != c2:
			return c1 - c2
		default:
			i++
			j++
		}
	}
	return at(p1, i) - at(p2, j)
}

// CacheFlags returns the ld.so.cache flags value (FLAG_ELF_LIBC6 | the
// architecture flag) that ldconfig records for a library of this class,
// machine and e_flags, and ok=false for an architecture glibc does not
// support. It follows glibc's sysdeps/unix/sysv/linux/*/readelflib.c; where
// ldconfig records a library of a generic architecture as FLAG_ELF (one
// that needs no libc.so.6), it returns FLAG_ELF_LIBC6, which the same
// loader accepts.
func CacheFlags(class elf.Class, machine elf.Machine, eflags uint32) (flags uint32, ok bool) {
	is32, is64 := class == elf.ELFCLASS32, class == elf.ELFCLASS64
	libc6 := uint32(cacheFlagELFLibc6)
	switch machine {
	case elf.EM_X86_64:
		if is64 {
			return cacheFlagX8664Lib64 | libc6, true
		}
		if is32 {
			return cacheFlagX8664LibX32 | libc6, true
		}
	case elf.EM_386:
		if is32 {
			return libc6, true
		}
	case elf.EM_AARCH64:
		if is64 {
			return cacheFlagAArch64 | libc6, true
		}
	case elf.EM_ARM:
		if !is32 {
			break
		}
		if eflags&cacheEFARMEABIMask == cacheEFARMEABIVer5 {
			switch {
			case eflags&cacheEFARMFloatHard != 0:
				return cacheFlagARMLibHF | libc6, true
			case eflags&cacheEFARMFloatSoft != 0:
				return cacheFlagARMLibSF | libc6, true
			}
		}
		return libc6, true // unmarked: compatible with either float ABI
	case elf.EM_PPC64:
		if is64 {
			return cacheFlagPPCLib64 | libc6, true
		}
	case elf.EM_S390:
		if is64 {
			return cacheFlagS390Lib64 | libc6, true
		}
		if is32 {
			return libc6, true
		}
	case elf.EM_SPARCV9:
		if is64 {
			return cacheFlagSparcLib64 | libc6, true
		}
	case elf.EM_IA_64:
		if is64 {
			return cacheFlagIA64Lib64 | libc6, true
		}
	case elf.EM_MIPS:
		nan2008 := eflags&cacheEFMIPSNaN2008 != 0
		switch {
		case is64 && nan2008:
			return cacheFlagMIPSN64N08 | libc6, true
		case is64:
			return cacheFlagMIPS64N64 | libc6, true
		case is32 && eflags&cacheEFMIPSABI2 != 0 && nan2008:
			return cacheFlagMIPSN32N08 | libc6, true
		case is32 && eflags&cacheEFMIPSABI2 != 0:
			return cacheFlagMIPS64N32 | libc6, true
		case is32 && nan2008:
			return cacheFlagMIPS32N2008 | libc6, true
		case is32:
			return libc6, true
		}
	case elf.EM_RISCV:
		// Only the soft and double float ABIs, and no flag but RVC.
		if !is32 && !is64 || eflags&^(cacheEFRISCVFloatABI|cacheEFRISCVRVC) != 0 {
			break
		}
		switch eflags & cacheEFRISCVFloatABI {
		case cacheEFRISCVSoft:
			return cacheFlagRISCVSoft | libc6, true
		case cacheEFRISCVDouble:
			return cacheFlagRISCVDouble | libc6, true
		}
	case elf.EM_LOONGARCH:
		f := eflags &^ cacheEFLArchObjABIV1
		if !is64 || f&^cacheEFLArchSupported != 0 {
			break
		}
		switch f {
		case cacheEFLArchSoft:
			return cacheFlagLArchSoft | libc6, true
		case cacheEFLArchDouble:
			return cacheFlagLArchDouble | libc6, true
		}
	case elf.EM_PPC, elf.EM_SPARC, elf.EM_SPARC32PLUS, elf.EM_68K, elf.EM_SH,
		elf.EM_PARISC, elf.EM_MICROBLAZE, elf.EM_ALTERA_NIOS2, elf.EM_OPENRISC,
		elf.EM_ARC_COMPACT2, cacheMachineCSKY:
		// 32-bit ports without an architecture flag.
		if is32 {
			return libc6, true
		}
	case elf.EM_ALPHA:
		if is64 {
			return libc6, true
		}
	}
	return 0, false
}
