//go:build linux && (amd64 || arm64)

package tracer

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// The eBPF programs of the eBPF tracer (see ebpf_linux.go), written as
// instructions. Four raw tracepoints:
//
//   - sys_exit: for a thread of a traced process (its tgid is in the
//     traced map) leaving a traced call (the calls map, by number; the
//     number and arguments are those saved in pt_regs at the call's entry,
//     which the call leaves as they were), an event with its result, its path
//     read from the caller's memory (the kernel has just read it too), and
//     for a relative path (or a getdents, or an fexecve) the path of the
//     directory it is relative to: the working directory or the dirfd's
//     file, walked up to the task's root as d_path does, names from the
//     leaf up; for an open that returned a file, whether it created it
//     (FMODE_CREATED);
//   - sched_process_fork: a child of a traced process is traced (added
//     before it runs) and an event says so;
//   - sched_process_exit: an event for each thread that exits;
//   - sched_process_exec: an event with the name the program was executed
//     by (bprm->filename), the working directory if it is relative, and
//     the path of the file executed.
//
// Every event starts with a 56-byte header (evHeader), then its strings.

// Event types.
const (
	evCall = 1
	evFork = 2
	evExit = 3
	evExec = 4
)

// The header: offsets of its fields.
const (
	hType    = 0  // u32
	hTid     = 4  // u32
	hTgid    = 8  // u32
	hInfo    = 12 // u32: call info; fork: child tid; exec: former tid
	hRet     = 16 // i64: the call's result; fork: child tgid
	hPathLen = 24 // u32: the path's bytes with its NUL, at hData
	hPos     = 28 // u32: the end of the strings, from hData
	hDirEnd  = 32 // u32: the end of the directory's names, from hData
	hFlags   = 36 // u32: fDir, fCreated, fExe
	hArg     = 40 // u64: the call's flags argument
	hTurns   = 48 // u32: the walk's count of turns
	hInterp  = 52 // u32: exec: the interpreter's bytes with its NUL, after the path
	hData    = 56
)

// hFlags bits.
const (
	fDir     = 1 // the directory was walked up to the root
	fCreated = 2 // the open created the file
	fExe     = 4 // exec: the executed file was walked up to the root
)

// Call info bits, as the calls map holds them by system call number.
const (
	ciIndex   = 0xff // index in syscalls + 1
	ciPath    = 8    // shift: the path argument (15: none)
	ciDirfd   = 12   // shift: the dirfd argument (15: the working directory)
	ciFlags   = 16   // shift: the flags argument (15: none)
	ciList    = 1 << 20
	ciOpen    = 1 << 21
	ciExec    = 1 << 22
	ciNone    = 15
	maxSysNr  = 512
	scratchSz = 16384
	maxPos    = 7936 // the walk stops past this much data
	maxDepth  = 32   // and after this many directories and mounts
	// With may_goto the verifier's work does not grow with the depth:
	// the data (maxPos) bounds the walk before this does.
	maxDepthMayGoto = 2048
	fmodeCreated    = 1 << 20
	atFdcwd         = -100
	rbNoWakeup      = 1 // BPF_RB_NO_WAKEUP: the tracer reads on its own time
)

// callInfo is the calls map's value for sc, the index-th traced call.
func callInfo(index int, sc *sysc) uint32 {
	arg := func(i int8) uint32 {
		if i < 0 {
			return ciNone
		}
		return uint32(i)
	}
	v := uint32(index+1) | arg(sc.dirfd)<<ciDirfd | arg(sc.flags)<<ciFlags
	path := sc.path
	switch sc.kind {
	case kList:
		v |= ciList
		path = -1
	case kOpen, kOpenat2:
		v |= ciOpen
	case kExec:
		v |= ciExec
	}
	return v | arg(path)<<ciPath
}

// bpfOffsets are the kernel struct members the programs read.
var bpfOffsets = []string{
	"task_struct.fs", "task_struct.files", "task_struct.pid", "task_struct.tgid",
	"fs_struct.root", "fs_struct.pwd",
	"files_struct.fdt", "fdtable.max_fds", "fdtable.fd",
	"file.f_path", "file.f_mode",
	"path.mnt", "path.dentry",
	"dentry.d_parent", "dentry.d_name", "qstr.name",
	"vfsmount.mnt_root", "mount.mnt", "mount.mnt_parent", "mount.mnt_mountpoint",
	"linux_binprm.file", "linux_binprm.filename", "linux_binprm.interp",
}

// bpfMaps are the file descriptors of a run's maps: the traced processes
// (tgid), the traced calls (call info by number), a scratch buffer for
// an event (per CPU), the ring buffer, and the count of lost events.
type bpfMaps struct {
	traced, calls, scratch, events, lost int
}

// Stack slots (offsets from r10).
const (
	sDentry  = -8  // the walk: the current dentry
	sMnt     = -16 // and its struct vfsmount (path.mnt, path.dentry at -16)
	sRootD   = -24 // the task's root (a struct path at -32)
	sRootMnt = -32
	sT1      = -40 // temporaries of the walk
	sT2      = -48
	sT3      = -56
	sPidTgid = -64 // u64: tid at -64, tgid at -60
	sZero    = -68 // u32 0: the scratch map's key
	sTask    = -80
	sFd      = -88
	sBprm    = -96
	sRet     = -104
	sPend    = -160 // 56 bytes: call info, then the 6 arguments
	sRegs    = -304 // 72 bytes of pt_regs
)

type gen struct {
	mayGoto bool // loops end with may_goto
	o       map[string]uint32
	p       []insn
	seq     int
}

func (g *gen) emit(in ...insn) { g.p = append(g.p, in...) }

func (g *gen) label(prefix string) string {
	g.seq++
	return fmt.Sprintf("%s%d", prefix, g.seq)
}

// off is the offset of a struct member named in bpfOffsets.
func (g *gen) off(name string) int32 {
	v, ok := g.o[name]
	if !ok {
		panic("tracer: " + name + " is not in bpfOffsets")
	}
	return int32(v)
}

// readSlot reads size bytes at *(slot) + off into dst slot.
func (g *gen) readSlot(dst int16, size int32, src int16, off int32) {
	g.emit(ldx(bpfDW, r3, r10, src))
	g.emit(aluImm(aADD, r3, off),
		movReg(r1, r10), aluImm(aADD, r1, int32(dst)), movImm(r2, size),
		call(fnProbeReadKernel))
}

// tracedOrExit stores the current thread's ids at sPidTgid and exits unless
// its process is traced.
func (g *gen) tracedOrExit(m bpfMaps) {
	g.emit(call(fnGetCurrentPid), stx(bpfDW, r10, sPidTgid, r0),
		ldMap(r1, m.traced), movReg(r2, r10), aluImm(aADD, r2, sPidTgid+4), call(fnMapLookup),
		jmpImm(jEQ, r0, 0, "out"))
}

// scratch sets r6 to the scratch buffer (this CPU's), or exits.
func (g *gen) scratch(m bpfMaps) {
	g.emit(stImm(bpfW, r10, sZero, 0), ldMap(r1, m.scratch), movReg(r2, r10), aluImm(aADD, r2, sZero),
		call(fnMapLookup), jmpImm(jEQ, r0, 0, "out"), movReg(r6, r0))
}

// header fills the event header at r6: type, ids, zeros.
func (g *gen) header(typ int32) {
	g.emit(stImm(bpfW, r6, hType, typ),
		ldx(bpfW, r1, r10, sPidTgid), stx(bpfW, r6, hTid, r1),
		ldx(bpfW, r1, r10, sPidTgid+4), stx(bpfW, r6, hTgid, r1),
		stImm(bpfW, r6, hInfo, 0), stImm(bpfDW, r6, hRet, 0), stImm(bpfDW, r6, hPathLen, 0),
		stImm(bpfDW, r6, hDirEnd, 0), stImm(bpfDW, r6, hArg, 0), stImm(bpfDW, r6, hTurns, 0))
}

// rootOfTask reads the task's (at sTask) fs->root into sRootMnt/sRootD and
// leaves fs in sT3.
func (g *gen) rootOfTask() {
	g.readSlot(sT3, 8, sTask, g.off("task_struct.fs"))
	g.readSlot(sRootMnt, 16, sT3, g.off("fs_struct.root"))
}

// cwd reads the task's working directory into sMnt/sDentry (fs at sT3).
func (g *gen) cwd() {
	g.readSlot(sMnt, 16, sT3, g.off("fs_struct.pwd"))
}

// fdFile reads the struct file of the fd at sFd of the task at sTask
// into sT1 (0 if none).
func (g *gen) fdFile() {
	bad := g.label("fdbad")
	done := g.label("fddone")
	g.readSlot(sT1, 8, sTask, g.off("task_struct.files"))
	g.readSlot(sT1, 8, sT1, g.off("files_struct.fdt"))
	g.readSlot(sT2, 4, sT1, g.off("fdtable.max_fds"))
	g.readSlot(sT1, 8, sT1, g.off("fdtable.fd"))
	g.emit(ldx(bpfW, r1, r10, sT2), ldx(bpfDW, r2, r10, sFd),
		jmpReg(jGE, r2, r1, bad),
		aluImm(aLSH, r2, 3), ldx(bpfDW, r3, r10, sT1), aluReg(aADD, r3, r2),
		movReg(r1, r10), aluImm(aADD, r1, sT1), movImm(r2, 8), call(fnProbeReadKernel),
		jump(done),
		label(bad), stImm(bpfDW, r10, sT1, 0),
		label(done))
}

// walk writes the names of the directories from sDentry/sMnt up to the
// root (sRootD/sRootMnt, or the namespace's root) at hData+hPos, each
// with its NUL, leaf first, and sets bit in hFlags when it got there.
// The working state, the count of turns included, is in the stack and in
// the scratch buffer, where the verifier does not follow it. With may_goto
// (Linux 6.9 and later) the verifier sees the loop converge after a turn
// or two; without it, it walks every turn (ten times the work), each
// distinct by the loop's own count in r7.
func (g *gen) walk(bit int32) {
	loop, complete, end, name := g.label("loop"), g.label("complete"), g.label("end"), g.label("name")
	cont := g.label("cont")
	g.emit(stImm(bpfW, r6, hTurns, 0), movImm(r7, 0), label(loop))
	depth := int32(maxDepthMayGoto)
	if g.mayGoto {
		g.emit(insn{code: bpfJMP | jCOND, target: end})
	} else {
		depth = maxDepth
		g.emit(jmpImm(jGE, r7, maxDepth, end), aluImm(aADD, r7, 1))
	}
	g.emit(ldx(bpfW, r1, r6, hTurns), jmpImm(jGE, r1, depth, end), aluImm(aADD, r1, 1), stx(bpfW, r6, hTurns, r1),
		ldx(bpfDW, r1, r10, sDentry), jmpImm(jEQ, r1, 0, end),
		ldx(bpfDW, r2, r10, sRootD), jmpReg(jNE, r1, r2, cont),
		ldx(bpfDW, r1, r10, sMnt), ldx(bpfDW, r2, r10, sRootMnt), jmpReg(jEQ, r1, r2, complete),
		label(cont))
	g.readSlot(sT1, 8, sMnt, g.off("vfsmount.mnt_root"))
	g.emit(ldx(bpfDW, r1, r10, sT1), ldx(bpfDW, r2, r10, sDentry), jmpReg(jNE, r1, r2, name))
	// The root of a mount: on to where it is mounted.
	g.emit(ldx(bpfDW, r9, r10, sMnt), aluImm(aSUB, r9, g.off("mount.mnt")), stx(bpfDW, r10, sT3, r9))
	g.readSlot(sT2, 8, sT3, g.off("mount.mnt_parent"))
	// The namespace's root, not the task's: a path outside its chroot
	// (binfmt_misc's interpreter, an fd from outside), which it cannot name.
	g.emit(ldx(bpfDW, r1, r10, sT2), ldx(bpfDW, r2, r10, sT3), jmpReg(jEQ, r1, r2, end), jmpImm(jEQ, r1, 0, end))
	g.readSlot(sDentry, 8, sT3, g.off("mount.mnt_mountpoint"))
	g.emit(ldx(bpfDW, r1, r10, sT2), aluImm(aADD, r1, g.off("mount.mnt")), stx(bpfDW, r10, sMnt, r1),
		jump(loop))
	// A name, then the parent.
	g.emit(label(name))
	g.readSlot(sT2, 8, sDentry, g.off("dentry.d_parent"))
	g.emit(ldx(bpfDW, r1, r10, sT2), ldx(bpfDW, r2, r10, sDentry), jmpReg(jEQ, r1, r2, end))
	g.readSlot(sT1, 8, sDentry, g.off("dentry.d_name")+g.off("qstr.name"))
	g.emit(ldx(bpfW, r8, r6, hPos), jmpImm(jGT, r8, maxPos, end), aluImm(aAND, r8, 8191),
		movReg(r1, r6), aluImm(aADD, r1, hData), aluReg(aADD, r1, r8), movImm(r2, 256),
		ldx(bpfDW, r3, r10, sT1), call(fnProbeReadKStr),
		jmpImm(jSLT, r0, 1, end),
		ldx(bpfW, r8, r6, hPos), aluReg(aADD, r8, r0), stx(bpfW, r6, hPos, r8),
		ldx(bpfDW, r1, r10, sT2), stx(bpfDW, r10, sDentry, r1),
		jump(loop),
		label(complete),
		ldx(bpfW, r1, r6, hFlags), aluImm(aOR, r1, bit), stx(bpfW, r6, hFlags, r1),
		label(end))
}

// output sends the event at r6, hData+hPos bytes long.
// output sends the event at r6, hData+hPos bytes long; one the ring
// buffer has no room for is counted lost.
func (g *gen) output(m bpfMaps) {
	g.emit(ldx(bpfW, r3, r6, hPos), jmpImm(jGT, r3, 12000, "lost"), aluImm(aADD, r3, hData),
		ldMap(r1, m.events), movReg(r2, r6), movImm(r4, rbNoWakeup), call(fnRingbufOutput),
		jmpImm(jEQ, r0, 0, "out"), jump("lost"))
}

// end ends the program: "out" returns, "lost" counts an event lost (in
// the lost map, which the tracer reads at the end) and returns.
func (g *gen) end(m bpfMaps) []insn {
	lost := false
	for _, in := range g.p {
		lost = lost || in.target == "lost"
	}
	if lost {
		if last := g.p[len(g.p)-1]; last.code != bpfJMP|jA || last.target == "" {
			g.emit(jump("out"))
		}
		g.emit(label("lost"),
			stImm(bpfW, r10, sZero, 0), ldMap(r1, m.lost), movReg(r2, r10), aluImm(aADD, r2, sZero),
			call(fnMapLookup), jmpImm(jEQ, r0, 0, "out"), movImm(r1, 1),
			insn{code: bpfSTX | bpfATOMIC | bpfDW, dst: r0, src: r1}) // lock *(u64 *)r0 += r1
	}
	g.emit(label("out"), movImm(r0, 0), exit())
	return g.p
}

// argTo loads into dst the argument whose index is in r8 (0 to 5) from
// the copy of the arguments on the stack, or jumps to none.
func (g *gen) argTo(dst uint8, none string) {
	done := g.label("arg")
	for i := range 6 {
		next := g.label("argn")
		g.emit(jmpImm(jNE, r8, int32(i), next), ldx(bpfDW, dst, r10, sPend+8+8*int16(i)), jump(done), label(next))
	}
	g.emit(jump(none), label(done))
}

func progSysExit(m bpfMaps, o map[string]uint32, mayGoto bool) []insn {
	g := &gen{o: o, mayGoto: mayGoto}
	g.emit(movReg(r6, r1))
	g.tracedOrExit(m)
	// The call's number and arguments, still in the registers saved at
	// its entry (pt_regs), and its result.
	g.emit(ldx(bpfDW, r1, r6, 8), stx(bpfDW, r10, sRet, r1))
	for _, rd := range regsReads {
		g.emit(ldx(bpfDW, r3, r6, 0), aluImm(aADD, r3, rd.at),
			movReg(r1, r10), aluImm(aADD, r1, int32(sRegs+rd.to)), movImm(r2, rd.size), call(fnProbeReadKernel),
			jmpImm(jNE, r0, 0, "out"))
	}
	g.emit(ldx(bpfW, r1, r10, sRegs+regsNrAt), jmpImm(jGE, r1, maxSysNr, "out"), stx(bpfW, r10, sZero, r1),
		ldMap(r1, m.calls), movReg(r2, r10), aluImm(aADD, r2, sZero), call(fnMapLookup),
		jmpImm(jEQ, r0, 0, "out"), ldx(bpfW, r7, r0, 0), jmpImm(jEQ, r7, 0, "out"),
		stx(bpfDW, r10, sPend, r7))
	for i, at := range regsArgsAt {
		g.emit(ldx(bpfDW, r1, r10, sRegs+at), stx(bpfDW, r10, sPend+8+8*int16(i), r1))
	}
	g.emit(call(fnGetCurrentTask), stx(bpfDW, r10, sTask, r0))
	g.scratch(m)
	g.header(evCall)
	g.emit(ldx(bpfDW, r7, r10, sPend), stx(bpfW, r6, hInfo, r7),
		ldx(bpfDW, r1, r10, sRet), stx(bpfDW, r6, hRet, r1))
	// A successful exec: sched_process_exec says it.
	g.emit(movReg(r1, r7), aluImm(aAND, r1, ciExec), jmpImm(jEQ, r1, 0, "notexec"),
		ldx(bpfDW, r1, r10, sRet), jmpImm(jEQ, r1, 0, "out"), label("notexec"))
	// The flags argument.
	g.emit(movReg(r8, r7), aluImm(aRSH, r8, ciFlags), aluImm(aAND, r8, 15))
	g.argTo(r1, "noflags")
	g.emit(stx(bpfDW, r6, hArg, r1), label("noflags"))
	// The path.
	g.emit(movReg(r8, r7), aluImm(aRSH, r8, ciPath), aluImm(aAND, r8, 15))
	g.argTo(r3, "dir") // no path: a getdents, the dirfd's path
	g.emit(movReg(r1, r6), aluImm(aADD, r1, hData), movImm(r2, 4096), call(fnProbeReadUserStr),
		jmpImm(jSGT, r0, 0, "read"),
		// Not readable: lost, unless the call said so too (EFAULT).
		ldx(bpfDW, r1, r10, sRet), jmpImm(jEQ, r1, -int32(unix.EFAULT), "out"), jump("lost"),
		label("read"),
		stx(bpfW, r6, hPathLen, r0), stx(bpfW, r6, hPos, r0),
		jmpImm(jNE, r0, 1, "havepath"),
		// An empty path: fexecve's, else fstatat(fd, "", AT_EMPTY_PATH), fstat.
		movReg(r1, r7), aluImm(aAND, r1, ciExec), jmpImm(jEQ, r1, 0, "out"), jump("dir"),
		label("havepath"),
		ldx(bpfB, r1, r6, hData), jmpImm(jEQ, r1, '/', "emit"),
		label("dir"))
	g.rootOfTask()
	g.emit(movReg(r8, r7), aluImm(aRSH, r8, ciDirfd), aluImm(aAND, r8, 15))
	g.argTo(r1, "cwd")
	g.emit(aluImm(aLSH, r1, 32), aluImm(aARSH, r1, 32), jmpImm(jEQ, r1, atFdcwd, "cwd"),
		stx(bpfDW, r10, sFd, r1))
	g.fdFile()
	g.emit(ldx(bpfDW, r1, r10, sT1), jmpImm(jEQ, r1, 0, "emit"))
	g.readSlot(sMnt, 16, sT1, g.off("file.f_path"))
	g.emit(jump("walk"), label("cwd"))
	g.cwd()
	g.emit(label("walk"))
	g.walk(fDir)
	g.emit(ldx(bpfW, r1, r6, hPos), stx(bpfW, r6, hDirEnd, r1))
	// An open that returned a file: did it create it?
	g.emit(label("emit"), ldx(bpfDW, r7, r10, sPend), aluImm(aAND, r7, ciOpen), jmpImm(jEQ, r7, 0, "send"),
		ldx(bpfDW, r1, r10, sRet), jmpImm(jSLT, r1, 0, "send"), stx(bpfDW, r10, sFd, r1))
	g.fdFile()
	g.emit(ldx(bpfDW, r1, r10, sT1), jmpImm(jEQ, r1, 0, "send"))
	g.readSlot(sT2, 4, sT1, g.off("file.f_mode"))
	g.emit(ldx(bpfW, r1, r10, sT2), aluImm(aAND, r1, fmodeCreated), jmpImm(jEQ, r1, 0, "send"),
		ldx(bpfW, r1, r6, hFlags), aluImm(aOR, r1, fCreated), stx(bpfW, r6, hFlags, r1),
		label("send"))
	g.output(m)
	return g.end(m)
}

func progFork(m bpfMaps, o map[string]uint32, mayGoto bool) []insn {
	g := &gen{o: o, mayGoto: mayGoto}
	g.emit(movReg(r6, r1))
	g.tracedOrExit(m)
	g.emit(ldx(bpfDW, r7, r6, 8), stx(bpfDW, r10, sTask, r7))
	g.scratch(m)
	g.header(evFork)
	g.readSlot(sT1, 4, sTask, g.off("task_struct.pid"))
	g.readSlot(sT2, 4, sTask, g.off("task_struct.tgid"))
	g.emit(ldx(bpfW, r1, r10, sT1), stx(bpfW, r6, hInfo, r1),
		ldx(bpfW, r1, r10, sT2), stx(bpfDW, r6, hRet, r1),
		ldx(bpfW, r2, r10, sPidTgid+4), jmpReg(jEQ, r1, r2, "send"),
		stImm(bpfW, r10, sT1, 1),
		ldMap(r1, m.traced), movReg(r2, r10), aluImm(aADD, r2, sT2), movReg(r3, r10), aluImm(aADD, r3, sT1),
		movImm(r4, 0), call(fnMapUpdate),
		label("send"))
	g.output(m)
	return g.end(m)
}

func progExit(m bpfMaps) []insn {
	g := &gen{}
	g.tracedOrExit(m)
	g.scratch(m)
	g.header(evExit)
	g.output(m)
	return g.end(m)
}

func progExec(m bpfMaps, o map[string]uint32, mayGoto bool) []insn {
	g := &gen{o: o, mayGoto: mayGoto}
	g.emit(movReg(r6, r1))
	g.tracedOrExit(m)
	g.emit(ldx(bpfDW, r1, r6, 8), stx(bpfDW, r10, sFd, r1),
		ldx(bpfDW, r1, r6, 16), stx(bpfDW, r10, sBprm, r1),
		call(fnGetCurrentTask), stx(bpfDW, r10, sTask, r0))
	g.scratch(m)
	g.header(evExec)
	g.emit(ldx(bpfDW, r1, r10, sFd), stx(bpfW, r6, hInfo, r1))
	g.readSlot(sT1, 8, sBprm, g.off("linux_binprm.filename"))
	g.emit(movReg(r1, r6), aluImm(aADD, r1, hData), movImm(r2, 4096), ldx(bpfDW, r3, r10, sT1), call(fnProbeReadKStr),
		jmpImm(jSLT, r0, 1, "lost"),
		stx(bpfW, r6, hPathLen, r0), stx(bpfW, r6, hPos, r0))
	// The interpreter a #! line named (else the path again).
	g.readSlot(sT1, 8, sBprm, g.off("linux_binprm.interp"))
	g.emit(ldx(bpfW, r8, r6, hPos), aluImm(aAND, r8, 4095),
		movReg(r1, r6), aluImm(aADD, r1, hData), aluReg(aADD, r1, r8), movImm(r2, 256), ldx(bpfDW, r3, r10, sT1), call(fnProbeReadKStr),
		jmpImm(jSLT, r0, 1, "nointerp"),
		stx(bpfW, r6, hInterp, r0), ldx(bpfW, r8, r6, hPos), aluReg(aADD, r8, r0), stx(bpfW, r6, hPos, r8),
		label("nointerp"))
	g.rootOfTask()
	g.emit(ldx(bpfB, r1, r6, hData), jmpImm(jEQ, r1, '/', "exe"))
	g.cwd()
	g.walk(fDir)
	g.emit(label("exe"), ldx(bpfW, r1, r6, hPos), stx(bpfW, r6, hDirEnd, r1))
	g.readSlot(sT1, 8, sBprm, g.off("linux_binprm.file"))
	g.emit(ldx(bpfDW, r1, r10, sT1), jmpImm(jEQ, r1, 0, "send"))
	g.readSlot(sMnt, 16, sT1, g.off("file.f_path"))
	g.walk(fExe)
	g.emit(label("send"))
	g.output(m)
	return g.end(m)
}
