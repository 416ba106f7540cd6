//go:build linux && (amd64 || arm64)

package tracer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// kernelOffsets reads from the kernel's BTF (/sys/kernel/btf/vmlinux) the
// byte offsets of the struct members the eBPF programs read (a member of
// an anonymous struct or union inside counts at its place in the outer
// struct). want maps "struct.member" to nothing; the result has every
// one, or an error names the first missing. A small reader of its own:
// decoding the whole BTF with a general library takes 200 ms, this one
// a few.
func kernelOffsets(want []string) (map[string]uint32, error) {
	b, done, err := readBTF()
	if err != nil {
		return nil, err
	}
	defer done()
	le := binary.LittleEndian
	if len(b) < 24 || le.Uint16(b) != 0xeb9f {
		return nil, errors.New("kernel BTF: bad header")
	}
	hdr := le.Uint32(b[4:])
	typeOff, typeLen := le.Uint32(b[8:]), le.Uint32(b[12:])
	strOff, strLen := le.Uint32(b[16:]), le.Uint32(b[20:])
	if uint64(hdr)+uint64(typeOff)+uint64(typeLen) > uint64(len(b)) || uint64(hdr)+uint64(strOff)+uint64(strLen) > uint64(len(b)) {
		return nil, errors.New("kernel BTF: truncated")
	}
	types := b[hdr+typeOff : hdr+typeOff+typeLen]
	strs := b[hdr+strOff : hdr+strOff+strLen]
	name := func(off uint32) []byte {
		if off >= uint32(len(strs)) {
			return nil
		}
		s := strs[off:]
		if i := bytes.IndexByte(s, 0); i >= 0 {
			return s[:i]
		}
		return nil
	}
	structs := map[string]bool{}
	for _, w := range want {
		s, _, _ := strings.Cut(w, ".")
		structs[s] = true
	}
	var first [256]bool // the first letters of the structs wanted
	var structList []string
	for w := range structs {
		first[w[0]] = true
		structList = append(structList, w)
	}
	// starts[id] is where type id's record begins (id 0 is void). The
	// types are read as far as needed: the structs wanted come early
	// (a seventh of the way in Linux 6.18), then up to the ids of
	// anonymous members.
	starts := make([]uint32, 1, 1<<15)
	named := map[string]uint32{} // wanted struct name -> type id
	next := uint32(0)            // the offset of the next type to read
	scan := func(until func() bool) {
		for next+12 <= uint32(len(types)) && !until() {
			off := next
			info := le.Uint32(types[off+4:])
			kind, vlen := (info>>24)&0x1f, info&0xffff
			starts = append(starts, off)
			if kind == 4 {
				if n := le.Uint32(types[off:]); n < uint32(len(strs)) && first[strs[n]] {
					for _, w := range structList {
						if int(n)+len(w) < len(strs) && strs[int(n)+len(w)] == 0 && string(strs[n:int(n)+len(w)]) == w {
							if _, dup := named[w]; !dup {
								named[w] = uint32(len(starts) - 1)
							}
						}
					}
				}
			}
			off += 12
			switch kind {
			case 1, 14, 17: // int, var, decl_tag
				off += 4
			case 3: // array
				off += 12
			case 4, 5, 15, 19: // struct, union, datasec, enum64
				off += 12 * vlen
			case 6, 13: // enum, func_proto
				off += 8 * vlen
			}
			next = off
		}
	}
	scan(func() bool { return len(named) == len(structs) })
	// typeAt is where type id starts, reading on to it.
	typeAt := func(id uint32) (uint32, bool) {
		scan(func() bool { return int(id) < len(starts) })
		if int(id) >= len(starts) {
			return 0, false
		}
		return starts[id], true
	}
	// member finds name in the struct or union id, looking into anonymous
	// members; the result is in bytes from the start of id.
	var member func(id uint32, mname string, depth int) (uint32, bool)
	member = func(id uint32, mname string, depth int) (uint32, bool) {
		off, ok := typeAt(id)
		if depth > 8 || id == 0 || !ok {
			return 0, false
		}
		info := le.Uint32(types[off+4:])
		kind, vlen, bitfield := (info>>24)&0x1f, info&0xffff, info>>31 != 0
		for kind == 8 || kind == 9 || kind == 10 || kind == 11 || kind == 18 { // typedef and qualifiers
			id = le.Uint32(types[off+8:])
			if off, ok = typeAt(id); id == 0 || !ok {
				return 0, false
			}
			info = le.Uint32(types[off+4:])
			kind, vlen, bitfield = (info>>24)&0x1f, info&0xffff, info>>31 != 0
		}
		if kind != 4 && kind != 5 {
			return 0, false
		}
		for i := range vlen {
			m := off + 12 + 12*i
			bits := le.Uint32(types[m+8:])
			if bitfield {
				bits &= 0xffffff
			}
			n := le.Uint32(types[m:])
			if n == 0 {
				if o, ok := member(le.Uint32(types[m+4:]), mname, depth+1); ok {
					return bits/8 + o, true
				}
				continue
			}
			if string(name(n)) == mname {
				return bits / 8, true
			}
		}
		return 0, false
	}
	out := make(map[string]uint32, len(want))
	for _, w := range want {
		s, m, _ := strings.Cut(w, ".")
		id, ok := named[s]
		if !ok {
			return nil, fmt.Errorf("kernel BTF: no struct %s", s)
		}
		o, ok := member(id, m, 0)
		if !ok {
			return nil, fmt.Errorf("kernel BTF: no member %s", w)
		}
		out[w] = o
	}
	return out, nil
}

// readBTF maps the kernel's BTF (Linux 6.16 and later; reading it costs
// tens of milliseconds more), else reads it.
func readBTF() ([]byte, func(), error) {
	const path = "/sys/kernel/btf/vmlinux"
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		if b, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_PRIVATE); err == nil {
			return b, func() { unix.Munmap(b) }, nil
		}
	}
	b, err := io.ReadAll(f)
	return b, func() {}, err
}
