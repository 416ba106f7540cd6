//go:build linux && (amd64 || arm64)

package tracer

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A small eBPF assembler and the bpf(2) calls the eBPF tracer needs: maps,
// a program load, a raw tracepoint attach and a ring buffer reader. Written
// here rather than taken from a general library, whose packages cost the
// binary megabytes and every start of fromscratch their initialisation.

// insn is one eBPF instruction, or a label (a jump target) or a jump to a
// label before assembly.
type insn struct {
	code     uint8
	dst, src uint8
	off      int16
	imm      int32
	label    string // this instruction is the label's target (code 0: a label alone)
	target   string // a jump to this label
	imm64    bool   // the first half of a 16-byte load
}

// Registers.
const (
	r0 uint8 = iota
	r1
	r2
	r3
	r4
	r5
	r6
	r7
	r8
	r9
	r10 // the frame pointer
)

// Instruction classes, sizes, modes and operations (linux/bpf.h).
const (
	bpfLD    = 0x00
	bpfLDX   = 0x01
	bpfST    = 0x02
	bpfSTX   = 0x03
	bpfALU   = 0x04
	bpfJMP   = 0x05
	bpfALU64 = 0x07

	bpfW  = 0x00
	bpfB  = 0x10
	bpfDW = 0x18

	bpfIMM    = 0x00
	bpfATOMIC = 0xc0
	bpfMEM    = 0x60

	bpfK = 0x00
	bpfX = 0x08

	aADD  = 0x00
	aSUB  = 0x10
	aOR   = 0x40
	aARSH = 0xc0
	aAND  = 0x50
	aLSH  = 0x60
	aRSH  = 0x70
	aMOV  = 0xb0
	jA    = 0x00
	jEQ   = 0x10
	jGT   = 0x20
	jGE   = 0x30
	jNE   = 0x50
	jSGT  = 0x60
	jSLT  = 0xc0
	jCALL = 0x80
	jEXIT = 0x90
	jCOND = 0xe0 // may_goto, with src 0
)

// Helper functions (linux/bpf.h, enum bpf_func_id).
const (
	fnMapLookup        = 1
	fnMapUpdate        = 2
	fnMapDelete        = 3
	fnGetCurrentPid    = 14
	fnGetCurrentTask   = 35
	fnProbeReadUserStr = 114
	fnProbeReadKernel  = 113
	fnProbeReadKStr    = 115
	fnRingbufOutput    = 130
)

func movImm(dst uint8, imm int32) insn { return insn{code: bpfALU64 | aMOV | bpfK, dst: dst, imm: imm} }
func movReg(dst, src uint8) insn       { return insn{code: bpfALU64 | aMOV | bpfX, dst: dst, src: src} }
func aluImm(op, dst uint8, imm int32) insn {
	return insn{code: bpfALU64 | op | bpfK, dst: dst, imm: imm}
}
func aluReg(op, dst, src uint8) insn { return insn{code: bpfALU64 | op | bpfX, dst: dst, src: src} }

// ldx loads size bytes at src+off into dst; stx stores src at dst+off.
func ldx(size, dst, src uint8, off int16) insn {
	return insn{code: bpfLDX | bpfMEM | size, dst: dst, src: src, off: off}
}
func stx(size, dst uint8, off int16, src uint8) insn {
	return insn{code: bpfSTX | bpfMEM | size, dst: dst, src: src, off: off}
}
func stImm(size, dst uint8, off int16, imm int32) insn {
	return insn{code: bpfST | bpfMEM | size, dst: dst, off: off, imm: imm}
}
func jmpImm(op, dst uint8, imm int32, target string) insn {
	return insn{code: bpfJMP | op | bpfK, dst: dst, imm: imm, target: target}
}
func jmpReg(op, dst, src uint8, target string) insn {
	return insn{code: bpfJMP | op | bpfX, dst: dst, src: src, target: target}
}
func jump(target string) insn { return insn{code: bpfJMP | jA, target: target} }
func call(fn int32) insn      { return insn{code: bpfJMP | jCALL, imm: fn} }
func exit() insn              { return insn{code: bpfJMP | jEXIT} }
func label(name string) insn  { return insn{label: name} }
func ldMap(dst uint8, fd int) insn {
	return insn{code: bpfLD | bpfDW | bpfIMM, dst: dst, src: 1 /* BPF_PSEUDO_MAP_FD */, imm: int32(fd), imm64: true}
}

// assemble resolves the labels and encodes the program.
func assemble(prog []insn) ([]byte, error) {
	pos := map[string]int{}
	n := 0
	for _, in := range prog {
		if in.label != "" {
			if _, dup := pos[in.label]; dup {
				return nil, fmt.Errorf("bpf: label %s twice", in.label)
			}
			pos[in.label] = n
		}
		if in.code == 0 && in.label != "" && !in.imm64 {
			continue
		}
		n++
		if in.imm64 {
			n++
		}
	}
	out := make([]byte, 0, 8*n)
	i := 0
	for _, in := range prog {
		if in.code == 0 && in.label != "" && !in.imm64 {
			continue
		}
		off := in.off
		if in.target != "" {
			t, ok := pos[in.target]
			if !ok {
				return nil, fmt.Errorf("bpf: no label %s", in.target)
			}
			off = int16(t - i - 1)
		}
		out = append(out, in.code, in.dst|in.src<<4, 0, 0, 0, 0, 0, 0)
		binary.LittleEndian.PutUint16(out[len(out)-6:], uint16(off))
		binary.LittleEndian.PutUint32(out[len(out)-4:], uint32(in.imm))
		i++
		if in.imm64 {
			out = append(out, 0, 0, 0, 0, 0, 0, 0, 0)
			i++
		}
	}
	return out, nil
}

// bpf(2) commands and types.
const (
	cmdMapCreate      = 0
	cmdMapLookup      = 1
	cmdMapUpdate      = 2
	cmdMapDelete      = 3
	cmdProgLoad       = 5
	cmdRawTracepoint  = 17
	mapHash           = 1
	mapPercpuArray    = 6
	mapArray          = 2
	mapRingbuf        = 27
	progRawTracepoint = 17
	mapNoPrealloc     = 1
)

func bpfCall(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func newMap(typ, key, value, max, flags uint32) (int, error) {
	attr := [5]uint32{typ, key, value, max, flags}
	return bpfCall(cmdMapCreate, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
}

func mapUpdate(fd int, key, value unsafe.Pointer) error {
	return mapElem(cmdMapUpdate, fd, key, value)
}

func mapLookup(fd int, key, value unsafe.Pointer) error {
	return mapElem(cmdMapLookup, fd, key, value)
}

func mapDelete(fd int, key unsafe.Pointer) error {
	return mapElem(cmdMapDelete, fd, key, nil)
}

// mapElem runs cmd on the element of map fd at key, with value (flags 0).
//
// The addresses the kernel reads are unsafe.Pointer fields of the
// attributes, as in every attribute struct here, not integers: while the
// struct is live the garbage collector keeps what they point to, and a
// growth of the goroutine's stack before the call (which moves a key on
// the caller's stack) updates them.
func mapElem(cmd int, fd int, key, value unsafe.Pointer) error {
	attr := struct {
		fd         uint32
		_          uint32
		key, value unsafe.Pointer
		flags      uint64
	}{fd: uint32(fd), key: key, value: value}
	_, err := bpfCall(cmd, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(&attr)
	return err
}

// loadProgram loads a raw tracepoint program; on failure the error holds
// the end of the verifier's log.
func loadProgram(name string, code []byte) (int, error) {
	license := []byte("Dual MIT/GPL\x00")
	attr := struct {
		typ, cnt     uint32
		insns, lic   unsafe.Pointer
		level, size  uint32
		log          unsafe.Pointer
		kver, pflags uint32
		name         [16]byte
	}{typ: progRawTracepoint, cnt: uint32(len(code) / 8),
		insns: unsafe.Pointer(&code[0]), lic: unsafe.Pointer(&license[0])}
	copy(attr.name[:15], name)
	fd, err := bpfCall(cmdProgLoad, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(&attr)
	if err == nil || err == unix.EPERM {
		return fd, err
	}
	log := make([]byte, 1<<20)
	attr.level, attr.size, attr.log = 1, uint32(len(log)), unsafe.Pointer(&log[0])
	fd, err2 := bpfCall(cmdProgLoad, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(&attr)
	if err2 == nil {
		return fd, nil
	}
	// The verifier's reason: the last line of its log before its counts.
	why := ""
	for _, l := range strings.Split(string(log[:max(0, bytes.IndexByte(log, 0))]), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "processed ") && !strings.HasPrefix(l, "verification time") && !strings.HasPrefix(l, "stack depth") {
			why = l
		}
	}
	return -1, fmt.Errorf("%s: %v: %s", name, err, why)
}

// attachRawTracepoint attaches prog to the tracepoint; closing the
// returned fd detaches it.
func attachRawTracepoint(name string, prog int) (int, error) {
	b := append([]byte(name), 0)
	attr := struct {
		name   unsafe.Pointer
		prog   uint32
		_      uint32
		cookie uint64
	}{name: unsafe.Pointer(&b[0]), prog: uint32(prog)}
	fd, err := bpfCall(cmdRawTracepoint, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(&attr)
	return fd, err
}

// ringReader reads a BPF_MAP_TYPE_RINGBUF map from user space.
type ringReader struct {
	fd   int
	cons []byte // the consumer position's page
	prod []byte // the producer position's page, then the data twice
	data []byte
	mask uint64
}

func newRingReader(fd int, size int) (*ringReader, error) {
	page := unix.Getpagesize()
	cons, err := unix.Mmap(fd, 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	prod, err := unix.Mmap(fd, int64(page), page+2*size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		unix.Munmap(cons)
		return nil, err
	}
	return &ringReader{fd: fd, cons: cons, prod: prod, data: prod[page:], mask: uint64(size - 1)}, nil
}

func (r *ringReader) close() {
	unix.Munmap(r.cons)
	unix.Munmap(r.prod)
}

// read calls fn with each record committed so far (the slice is valid
// during the call) and returns how many it read.
func (r *ringReader) read(fn func([]byte)) int {
	consPos := (*uint64)(unsafe.Pointer(&r.cons[0]))
	prodPos := (*uint64)(unsafe.Pointer(&r.prod[0]))
	cons := atomic.LoadUint64(consPos)
	n := 0
	for {
		prod := atomic.LoadUint64(prodPos)
		if cons >= prod {
			break
		}
		hdr := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.data[cons&r.mask])))
		const busy, discard = 1 << 31, 1 << 30
		if hdr&busy != 0 {
			break
		}
		size := uint64(hdr &^ (busy | discard))
		if hdr&discard == 0 {
			start := (cons & r.mask) + 8
			fn(r.data[start : start+size])
			n++
		}
		cons += (size + 8 + 7) &^ 7
		atomic.StoreUint64(consPos, cons)
	}
	return n
}
