package ldso

import (
	"runtime"
	"runtime/debug"
)

// CollectLess turns the garbage collector off until the memory in use grows
// by 64 MiB and 32 KiB a file to answer for, and returns the function that
// restores the collector's settings. Resolving keeps most of what it
// allocates (each file's answer, the parsed files, the directory listings)
// until the output is written: a collection finds little garbage, and over
// a whole system's files it cost a sixth of the CPU time. Call it before
// ResolveAll, and restore once the answers are written.
func CollectLess(files int) (restore func()) {
	// What the memory limit counts (see debug.SetMemoryLimit). Read once,
	// by the one goroutine at work, the stop of the world is short; the
	// runtime/metrics package would cost every command's start its
	// initialisation.
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	inUse := int64(ms.Sys - ms.HeapReleased)
	limit := inUse + 64<<20 + 32<<10*int64(files)
	prevLimit := debug.SetMemoryLimit(-1)
	if limit < prevLimit {
		prevPercent := debug.SetGCPercent(-1)
		debug.SetMemoryLimit(limit)
		return func() {
			debug.SetMemoryLimit(prevLimit)
			debug.SetGCPercent(prevPercent)
		}
	}
	return func() {}
}
