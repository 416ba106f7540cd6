package imagefs

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/fromscratch/fromscratch/elfinfo"
)

// Limits on the content kept in the temporary directory.
const (
	// keepPage is the unit of keeping: elfinfo reads 4 KiB pages.
	keepPage = 4096
	// elfPrefix is how much of an ELF file's start is always stored while
	// it streams (its headers are in it).
	elfPrefix = 64 << 10
	// ELFSpool is how many bytes of an ELF file (zero pages aside) are
	// stored while it streams, beyond its first 64 KiB, its PT_INTERP and
	// its PT_DYNAMIC: what the loader reads (the string table, the version
	// records) is found from PT_DYNAMIC, which most files place after it.
	// Parts of a file beyond are not kept, and reading them says so.
	ELFSpool = 16 << 20
	// DefaultMaxKept is the default cap on the bytes kept for a view
	// (Options.MaxKept).
	DefaultMaxKept = 1 << 30
)

// span is a range [off, end) of a file.
type span struct{ off, end int64 }

// addSpan appends [off, end) to spans, merging it with the last one when
// they touch.
func addSpan(spans []span, off, end int64) []span {
	if n := len(spans); n > 0 && spans[n-1].end == off {
		spans[n-1].end = end
		return spans
	}
	return append(spans, span{off, end})
}

// covered reports whether spans (sorted) cover [off, end).
func covered(spans []span, off, end int64) bool {
	i := sort.Search(len(spans), func(i int) bool { return spans[i].end > off })
	for ; i < len(spans) && off < end; i++ {
		if spans[i].off > off {
			return false
		}
		off = spans[i].end
	}
	return off >= end
}

// errNotKept explains a read of a part of a file the view did not keep.
var errNotKept = fmt.Errorf("%w: only what the loader reads of a large ELF file is kept", ErrContentNotKept)

// keepWhole copies the entry (size bytes, head already read from r) into
// the temporary directory: an /etc file. Zero pages are left as holes.
func (t *FS) keepWhole(r io.Reader, head []byte, size int64) (*content, error) {
	k, err := t.spool(r, head, size, nil)
	if err != nil {
		return nil, err
	}
	return k.finish(t, nil)
}

// keepELF keeps what the loader reads of an ELF file: it stores the file
// as it streams (its first 64 KiB, PT_INTERP and PT_DYNAMIC, and other
// non-zero pages up to ELFSpool bytes), reads it with elfinfo as the loader
// emulation will, and keeps only the pages read, but for a file that may
// be a loader (no PT_INTERP, no DT_NEEDED: glibc's loader is scanned whole
// for its default directories), kept whole when it was stored whole.
func (t *FS) keepELF(r io.Reader, head []byte, size int64) (*content, error) {
	k, err := t.spool(r, head, size, func(prefix []byte) ([][2]int64, bool) {
		return elfinfo.LoaderRanges(prefix, size)
	})
	if err != nil {
		return nil, err
	}
	rec := &recorder{f: k.f, size: size, missing: k.missing}
	info, rerr := elfinfo.Read(rec, size)
	if rerr == nil && len(k.missing) == 0 && info.HasDynamic && info.Type == elf.ET_DYN &&
		info.Interp == "" && len(info.Needed) == 0 {
		return k.finish(t, nil) // maybe a loader: whole
	}
	if rec.read == nil {
		rec.read = []span{} // nothing read: nothing kept (never whole)
	}
	return k.finish(t, rec.read)
}

// spooled is an entry being stored in a temporary file.
type spooled struct {
	f       *os.File
	size    int64
	stored  []span // non-zero pages written
	missing []span // non-zero pages not written (beyond the spool)
}

// spoolBufs are the 64 KiB buffers of spool (one per file otherwise).
var spoolBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// spool stores the entry in a temporary file, zero pages as holes. With
// protect (an ELF file), only the first elfPrefix bytes, the ranges
// protect finds from them, and ELFSpool more bytes are stored; the rest is
// recorded as missing.
func (t *FS) spool(r io.Reader, head []byte, size int64, protect func(prefix []byte) ([][2]int64, bool)) (_ *spooled, err error) {
	f, err := os.CreateTemp(t.tmp, ".partial-*")
	if err != nil {
		return nil, keepErr(err)
	}
	k := &spooled{f: f, size: size}
	defer func() {
		if err != nil {
			k.remove()
		}
	}()
	bp := spoolBufs.Get().(*[]byte)
	defer spoolBufs.Put(bp)
	buf := *bp
	n := copy(buf, head)
	var prefix []byte // the first elfPrefix bytes, for protect
	var ranges [][2]int64
	protected := func(off, end int64) bool {
		for _, r := range ranges {
			if off < r[1] && end > r[0] {
				return true
			}
		}
		return false
	}
	var extra int64 // bytes stored beyond the prefix and the protected ranges
	for off := int64(0); off < size; {
		want := int(min(int64(len(buf)), size-off))
		if n < want {
			m, err := io.ReadFull(r, buf[n:want])
			if err != nil {
				return nil, fmt.Errorf("%w: reading content: %w", ErrCorrupt, unexpected(err))
			}
			n += m
		}
		chunk := buf[:want]
		if protect != nil && prefix == nil && (off+int64(want) >= elfPrefix || off+int64(want) == size) {
			// The chunks are 64 KiB: the first one is the prefix.
			prefix = chunk
			ranges, _ = protect(prefix)
		}
		// The pages to store, a run of them at a time (one write).
		run := 0 // chunk[run:p] is the run being stored
		store := func(p int) error {
			if run < p {
				if _, err := f.WriteAt(chunk[run:p], off+int64(run)); err != nil {
					return keepErr(err)
				}
				k.stored = addSpan(k.stored, off+int64(run), off+int64(p))
			}
			return nil
		}
		for p := 0; p < len(chunk); p += keepPage {
			page := chunk[p:min(p+keepPage, len(chunk))]
			at := off + int64(p)
			skip := allZero(page)
			if !skip && protect != nil && at >= elfPrefix && !protected(at, at+int64(len(page))) {
				if extra+int64(len(page)) > ELFSpool {
					k.missing = addSpan(k.missing, at, at+int64(len(page)))
					skip = true
				} else {
					extra += int64(len(page))
				}
			}
			if skip {
				if err := store(p); err != nil {
					return nil, err
				}
				run = p + len(page)
			}
		}
		if err := store(len(chunk)); err != nil {
			return nil, err
		}
		off += int64(want)
		n = 0
	}
	if err := f.Truncate(size); err != nil {
		return nil, keepErr(err)
	}
	return k, nil
}

// finish keeps the spooled file: whole when keep is nil, else only the
// pages in keep (the rest is punched out, or copied away when the file
// system cannot punch holes). It counts the bytes against the view's cap.
func (k *spooled) finish(t *FS, keep []span) (c *content, err error) {
	defer func() {
		if err != nil {
			k.remove()
		}
	}()
	c = &content{size: k.size}
	kept := int64(0)
	// Named as created, without the dot: one file per content (not by
	// its hash, which would cost a SHA-256 of every ELF file read).
	name := strings.TrimPrefix(filepath.Base(k.f.Name()), ".partial-")
	if keep == nil && len(k.missing) == 0 {
		for _, s := range k.stored {
			kept += s.end - s.off
		}
	} else {
		name += "-part"
		// Punch every stored page not kept, a run of them at a time.
		var hole span
		punch := func() error {
			if hole.end == hole.off {
				return nil
			}
			err := punchHole(k.f, hole.off, hole.end-hole.off)
			if errors.Is(err, errors.ErrUnsupported) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
				kept += hole.end - hole.off // kept: the spool stays bounded
				err = nil
			}
			hole = span{}
			return err
		}
		for _, s := range k.stored {
			for off := s.off; off < s.end; off += keepPage {
				end := min(off+keepPage, s.end)
				if covered(keep, off, end) {
					kept += end - off
					if err := punch(); err != nil {
						return nil, keepErr(err)
					}
					continue
				}
				if hole.end != off {
					if err := punch(); err != nil {
						return nil, keepErr(err)
					}
					hole.off = off
				}
				hole.end = end
			}
		}
		if err := punch(); err != nil {
			return nil, keepErr(err)
		}
		c.avail = keep
		if c.avail == nil {
			c.avail = []span{}
		}
	}
	if err := t.countKept(kept); err != nil {
		return nil, err
	}
	if err := k.f.Close(); err != nil {
		return nil, keepErr(err)
	}
	dst := filepath.Join(t.tmp, name)
	if err := os.Rename(k.f.Name(), dst); err != nil {
		return nil, keepErr(err)
	}
	c.file = dst
	return c, nil
}

func (k *spooled) remove() {
	k.f.Close()
	os.Remove(k.f.Name())
}

// countKept adds n bytes to what the view keeps, failing past its cap.
func (t *FS) countKept(n int64) error {
	if total := t.kept.Add(n); total > t.maxKept {
		return fmt.Errorf("%w: over %d MiB kept in the temporary directory (the view keeps ELF headers and loader data, and /etc files)", ErrKeptTooLarge, t.maxKept>>20)
	}
	return nil
}

// keepErr words an error of the temporary directory (no space left on
// device, a read-only file system), which is no fault of the layer.
func keepErr(err error) error {
	return fmt.Errorf("keeping content in the temporary directory: %w", err)
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// recorder reads a spooled file for elfinfo, failing on the parts not
// stored, and records the pages read.
type recorder struct {
	f       *os.File
	size    int64
	missing []span
	read    []span // sorted pages read
}

func (r *recorder) ReadAt(b []byte, off int64) (int, error) {
	end := min(off+int64(len(b)), r.size)
	for _, m := range r.missing {
		if off < m.end && end > m.off {
			return 0, errNotKept
		}
	}
	n, err := r.f.ReadAt(b, off)
	if n > 0 {
		first, last := off/keepPage*keepPage, (off+int64(n)+keepPage-1)/keepPage*keepPage
		r.mark(first, min(last, r.size))
	}
	return n, err
}

// mark adds [off, end) to the sorted, merged spans read.
func (r *recorder) mark(off, end int64) {
	spans := append(r.read, span{off, end})
	sort.Slice(spans, func(i, j int) bool { return spans[i].off < spans[j].off })
	out := spans[:1]
	for _, s := range spans[1:] {
		if last := &out[len(out)-1]; s.off <= last.end {
			last.end = max(last.end, s.end)
		} else {
			out = append(out, s)
		}
	}
	r.read = out
}

// partialFile is a kept content of which only some pages are readable.
type partialFile struct {
	*os.File
	avail []span
	size  int64
	info  fs.FileInfo
	off   int64
}

func (f *partialFile) ReadAt(b []byte, off int64) (int, error) {
	end := min(off+int64(len(b)), f.size)
	if off < f.size && !covered(f.avail, off, end) {
		return 0, errNotKept
	}
	return f.File.ReadAt(b, off)
}

func (f *partialFile) Read(b []byte) (int, error) {
	n, err := f.ReadAt(b, f.off)
	f.off += int64(n)
	if err == nil && n < len(b) && f.off >= f.size {
		err = io.EOF
	}
	return n, err
}

func (f *partialFile) Stat() (fs.FileInfo, error) { return f.info, nil }
