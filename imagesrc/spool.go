package imagesrc

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// spoolBlock is how much of the stream the spool writes at once: readers
// of a told file see its bytes a block at a time. (A variable for tests.)
var spoolBlock = 1 << 20

// spool is the temporary file an engine's save stream is copied into (its
// io.Writer), readable while it is written: the bytes of a told file (see
// layerNames) are readable as soon as their block is written, and are
// hashed from the blocks by a goroutine of its own, off the copy's path,
// not read again.
type spool struct {
	f     *os.File
	block []byte // being filled, to be written at off
	off   int64
	free  chan []byte    // blocks the hasher is done with
	hashq chan spoolItem // to the hasher, in the stream's order
	// hashed is closed when the hasher has given every told file its
	// verdict.
	hashed chan struct{}

	mu   sync.Mutex
	more *sync.Cond // signalled when n or end change
	n    int64      // bytes of f written
	end  bool       // no more will be
	err  error      // why the stream ended, when it did early
}

// spoolItem is a block written at off, or a told file whose bytes follow.
type spoolItem struct {
	off  int64
	b    []byte
	told *toldFile
}

// toldFile is a layer file of the stream told by its name: its bytes must
// hash to diffID.
type toldFile struct {
	name    string
	entry   archiveEntry
	diffID  v1.Hash
	checked chan struct{} // closed once err is set
	err     error

	h hash.Hash // the hasher's
}

func newSpool(f *os.File) *spool {
	const blocks = 4
	s := &spool{f: f, block: make([]byte, 0, spoolBlock), free: make(chan []byte, blocks),
		hashq: make(chan spoolItem, 2*blocks), hashed: make(chan struct{})}
	s.more = sync.NewCond(&s.mu)
	for range blocks - 1 {
		s.free <- make([]byte, 0, spoolBlock)
	}
	go s.hash()
	return s
}

// Write copies p into the spool's blocks, writing each as it fills.
func (s *spool) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		m := copy(s.block[len(s.block):cap(s.block)], p)
		s.block, p = s.block[:len(s.block)+m], p[m:]
		if len(s.block) == cap(s.block) {
			if err := s.flush(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// flush writes the block being filled, and hands it to the hasher.
func (s *spool) flush() error {
	if len(s.block) == 0 {
		return nil
	}
	if _, err := s.f.WriteAt(s.block, s.off); err != nil {
		return err
	}
	b, off := s.block, s.off
	s.off += int64(len(b))
	s.mu.Lock()
	s.n = s.off
	s.more.Broadcast()
	s.mu.Unlock()
	s.hashq <- spoolItem{off: off, b: b}
	s.block = (<-s.free)[:0]
	return nil
}

// tell has the told file t, whose header is the last thing written,
// hashed as its bytes pass.
func (s *spool) tell(t *toldFile) {
	s.hashq <- spoolItem{told: t}
}

// close ends the spool after the stream's last byte or its error (err):
// readers waiting for bytes beyond it fail, and every told file has its
// verdict when it returns.
func (s *spool) close(err error) {
	if err == nil {
		err = s.flush()
	}
	s.mu.Lock()
	s.end, s.err = true, err
	s.more.Broadcast()
	s.mu.Unlock()
	close(s.hashq)
	<-s.hashed
}

// wait waits until the bytes before end are written, and returns how
// many are; the error is why they never will be.
func (s *spool) wait(end int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.n < end && !s.end {
		s.more.Wait()
	}
	switch {
	case s.n >= end:
		return s.n, nil
	case s.err != nil:
		return 0, s.err
	}
	return 0, io.ErrUnexpectedEOF
}

// hash hashes the told files' bytes from the blocks, and gives each its
// verdict once its last byte has passed (or the stream ended).
func (s *spool) hash() {
	defer close(s.hashed)
	var told []*toldFile
	for it := range s.hashq {
		if t := it.told; t != nil {
			t.h = sha256.New()
			if t.entry.size == 0 {
				t.verdict()
			} else {
				told = append(told, t)
			}
			continue
		}
		end := it.off + int64(len(it.b))
		left := told[:0]
		for _, t := range told {
			lo, hi := max(it.off, t.entry.off), min(end, t.entry.off+t.entry.size)
			if lo < hi {
				t.h.Write(it.b[lo-it.off : hi-it.off])
			}
			if hi == t.entry.off+t.entry.size {
				t.verdict()
			} else {
				left = append(left, t)
			}
		}
		told = left
		s.free <- it.b
	}
	for _, t := range told {
		t.err = fmt.Errorf("the engine's stream ended in %s", t.name)
		close(t.checked)
	}
}

// verdict checks the hash of t's bytes.
func (t *toldFile) verdict() {
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(t.h.Sum(nil))}
	if got != t.diffID {
		t.err = fmt.Errorf("the engine's stream: %s hashes to %s, not to the layer's diff_id %s", t.name, got, t.diffID)
	}
	close(t.checked)
}

// toldLayer is the plain layer a told file holds, read while it arrives.
type toldLayer struct {
	s *spool
	t *toldFile
}

func (l toldLayer) Digest() (v1.Hash, error)            { return l.t.diffID, nil }
func (l toldLayer) DiffID() (v1.Hash, error)            { return l.t.diffID, nil }
func (l toldLayer) Size() (int64, error)                { return l.t.entry.size, nil }
func (l toldLayer) MediaType() (types.MediaType, error) { return types.DockerUncompressedLayer, nil }

func (l toldLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(&toldReader{s: l.s, t: l.t}), nil
}

// toldReader reads a told file from the spool while it arrives: a read
// waits for the next block, and the end of the file (io.EOF) is its
// verdict.
type toldReader struct {
	s   *spool
	t   *toldFile
	pos int64
}

func (r *toldReader) Read(p []byte) (int, error) {
	e := r.t.entry
	if r.pos >= e.size {
		<-r.t.checked
		if r.t.err != nil {
			return 0, r.t.err
		}
		return 0, io.EOF
	}
	written, err := r.s.wait(e.off + r.pos + 1)
	if err != nil {
		return 0, err
	}
	n, err := r.s.f.ReadAt(p[:min(int64(len(p)), written-e.off-r.pos, e.size-r.pos)], e.off+r.pos)
	r.pos += int64(n)
	return n, err
}
