package imagefs

import (
	"errors"
	"fmt"
)

// Sentinel errors, wrapped in a [*LayerError].
var (
	// ErrBadWhiteout is a whiteout of "", "." or "..".
	ErrBadWhiteout = errors.New("invalid whiteout")
	// ErrParentNotDir is an entry under a path that is not a directory.
	ErrParentNotDir = errors.New("parent is not a directory")
	// ErrBadLink is a hard link to nothing, to a directory or to itself.
	ErrBadLink = errors.New("invalid hard link")
	// ErrBadEntry is an entry that cannot be applied: an unknown type, a
	// name too long, the root replaced by a non-directory.
	ErrBadEntry = errors.New("invalid entry")
	// ErrTooLarge is an image with more live paths than Options.MaxEntries.
	ErrTooLarge = errors.New("too many entries")
	// ErrCorrupt is a layer stream that cannot be read to its end: a
	// truncated or corrupt compressed stream or tar.
	ErrCorrupt = errors.New("corrupt layer")
	// ErrKeptTooLarge is an image whose kept contents (ELF headers and
	// loader data, /etc files) pass Options.MaxKept.
	ErrKeptTooLarge = errors.New("too much content to keep")
	// ErrContentNotKept is returned when opening a regular file whose
	// content the view did not copy (see the package documentation).
	ErrContentNotKept = errors.New("content not kept in the image view")
)

// LayerError is an error reading or applying one layer.
type LayerError struct {
	Layer  int    // index, 0 is the bottom layer
	Digest string // the layer's digest (compressed), if known
	Entry  string // the tar entry's name as stored, "" for the stream itself
	Err    error
}

func (e *LayerError) Error() string {
	d := e.Digest
	if len(d) > 19 {
		d = d[:19]
	}
	if e.Entry == "" {
		return fmt.Sprintf("layer %d (%s): %v", e.Layer, d, e.Err)
	}
	return fmt.Sprintf("layer %d (%s): entry %q: %v", e.Layer, d, e.Entry, e.Err)
}

func (e *LayerError) Unwrap() error { return e.Err }
