package elfinfo

import (
	"bytes"
	"debug/elf"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fromscratch/fromscratch/internal/elfcraft"
)

// manyNeeded is 65,000 DT_NEEDED entries all naming one 65,000-byte
// string: a 1.1 MB file.
func manyNeeded() []byte {
	s := elfcraft.Spec{Dynamic: true, Strtab: []byte("\x00" + strings.Repeat("a", 65000) + "\x00")}
	for range 65000 {
		s.Entries = append(s.Entries, elfcraft.DynEntry{Tag: elf.DT_NEEDED, Val: 1})
	}
	return s.Bytes()
}

// TestManyNeededShared: repeated string offsets share one string, and the
// strings of one file are bounded in total: 65,000 DT_NEEDED entries of one
// 65,000-byte string read in well under 1 s and 200 MB (before: 40 s and
// 4.2 GB through ldd).
func TestManyNeededShared(t *testing.T) {
	b := manyNeeded()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	info, err := Read(bytes.NewReader(b), int64(len(b)))
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d bytes: %v, %d bytes allocated", len(b), took, alloc)
	if err != nil {
		t.Fatalf("Read() = %v", err)
	}
	if len(info.Needed) != 65000 || len(info.Needed[64999]) != 65000 {
		t.Fatalf("Read() = %d DT_NEEDED", len(info.Needed))
	}
	if took > time.Second || alloc > 200<<20 {
		t.Errorf("Read() took %v and %d bytes, want under 1s and 200 MB", took, alloc)
	}
}

// TestManyDistinctStrings: 65,000 DT_NEEDED entries at 65,000 offsets of
// one long string (each a suffix of the last) pass the bound on a file's
// strings: a FormatError, at once.
func TestManyDistinctStrings(t *testing.T) {
	s := elfcraft.Spec{Dynamic: true, Strtab: []byte("\x00" + strings.Repeat("a", 65000) + "\x00")}
	for i := range 65000 {
		s.Entries = append(s.Entries, elfcraft.DynEntry{Tag: elf.DT_NEEDED, Val: uint64(i + 1)})
	}
	b := s.Bytes()
	start := time.Now()
	_, err := Read(bytes.NewReader(b), int64(len(b)))
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "strings of the dynamic section over") {
		t.Fatalf("Read() = %v, want the bound on strings", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Read() took %v", took)
	}
}
