package imagefs

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/rootfs"
)

// Limits on what one entry may hold.
const (
	// MaxNameLen is the longest entry name accepted (Linux's PATH_MAX).
	MaxNameLen = 4096
	// MaxEtcFile is the largest file under /etc whose content is kept.
	MaxEtcFile = 1 << 20
	// HeadLen is how much of a "#!" script is kept.
	HeadLen = 256
)

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	opaqueName     = ".wh..wh..opq"
)

// WalkTar reads the tar stream r and calls fn for every header, with its
// ordinal (0 for the first header, counting every header Next returns).
// fn may read the entry's content from tr. Errors of the stream wrap
// [ErrCorrupt].
func WalkTar(r io.Reader, fn func(pos int, hdr *tar.Header, tr *tar.Reader) error) error {
	tr := tar.NewReader(r)
	for pos := 0; ; pos++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, unexpected(err))
		}
		if err := fn(pos, hdr, tr); err != nil {
			return err
		}
	}
}

// unexpected turns a bare io.EOF in the middle of a stream into
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Kind of an event.
const (
	evEntry = iota
	evWhiteout
	evOpaque
	evSkip
)

// event is one tar entry, checked and cleaned, waiting to be applied.
type event struct {
	pos  int
	raw  string // name as stored
	name string // clean absolute path (for whiteouts: the path deleted)
	kind int
	n    node // the entry as a node; n.target of a hard link is a clean path
	link bool // a hard link
}

// CleanName returns the absolute path a tar entry name stands for: names
// are relative to the root, so a leading "/" or "./" is dropped, and ".."
// never climbs above the root.
func CleanName(raw string) (string, error) {
	if len(raw) > MaxNameLen {
		return "", fmt.Errorf("%w: name of %d bytes (limit %d)", ErrBadEntry, len(raw), MaxNameLen)
	}
	if strings.IndexByte(raw, 0) >= 0 {
		return "", fmt.Errorf("%w: NUL in name", ErrBadEntry)
	}
	return path.Clean("/" + raw), nil
}

// parseEntry turns one header into an event, copying the content the view
// keeps into the temporary directory.
func (t *FS) parseEntry(layer, pos int, hdr *tar.Header, tr io.Reader) (event, error) {
	ev := event{pos: pos, raw: hdr.Name}
	name, err := CleanName(hdr.Name)
	if err != nil {
		return ev, err
	}
	ev.name = name
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		ev.kind = evSkip
		return ev, nil
	}
	if strings.Contains(path.Dir(name)+"/", "/"+whiteoutMeta) {
		ev.kind = evSkip // under aufs bookkeeping (/.wh..wh.plnk/...)
		return ev, nil
	}
	if base := path.Base(name); strings.HasPrefix(base, whiteoutPrefix) {
		dir := path.Dir(name)
		switch {
		case base == opaqueName:
			ev.kind, ev.name = evOpaque, dir
		case strings.HasPrefix(base, whiteoutMeta):
			ev.kind = evSkip // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs)
		default:
			target := strings.TrimPrefix(base, whiteoutPrefix)
			if target == "" || target == "." || target == ".." {
				return ev, fmt.Errorf("%w: %q", ErrBadWhiteout, base)
			}
			ev.kind, ev.name = evWhiteout, path.Join(dir, target)
		}
		return ev, nil
	}
	n := node{
		typ:    hdr.Typeflag,
		mode:   rootfs.PermFromUnix(hdr.Mode),
		uid:    hdr.Uid,
		gid:    hdr.Gid,
		mtime:  hdr.ModTime.Unix(),
		layer:  layer,
		pos:    pos,
		devmaj: hdr.Devmajor,
		devmin: hdr.Devminor,
	}
	for k, v := range hdr.PAXRecords {
		if strings.HasPrefix(k, "SCHILY.xattr.") {
			if n.xattrs == nil {
				n.xattrs = map[string]string{}
			}
			n.xattrs[k] = v
		}
	}
	switch hdr.Typeflag {
	//lint:ignore SA1019 old tars still carry '\x00' for regular files
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		n.typ = tar.TypeReg
		if hdr.Size < 0 {
			return ev, fmt.Errorf("%w: negative size", ErrBadEntry)
		}
		if hdr.Size == 0 {
			n.data = t.empty // one for every empty file: nothing to keep
			break
		}
		c, err := t.capture(tr, name, hdr.Size)
		if err != nil {
			return ev, err
		}
		c.layer, c.pos = layer, pos
		n.data = c
	case tar.TypeLink:
		target, err := CleanName(hdr.Linkname)
		if err != nil {
			return ev, fmt.Errorf("hard link target: %w", err)
		}
		n.target, ev.link = target, true
	case tar.TypeSymlink:
		if len(hdr.Linkname) > MaxNameLen {
			return ev, fmt.Errorf("%w: link target of %d bytes", ErrBadEntry, len(hdr.Linkname))
		}
		n.target = hdr.Linkname
	case tar.TypeDir, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return ev, fmt.Errorf("%w: unsupported type %q", ErrBadEntry, hdr.Typeflag)
	}
	ev.n = n
	return ev, nil
}

// capture reads the start of a regular file and keeps what the view keeps
// (see the package documentation). It leaves the rest of the entry unread
// unless the whole file is copied.
func (t *FS) capture(r io.Reader, name string, size int64) (*content, error) {
	c := &content{size: size}
	kept := t.keep != nil && t.keep(name, size)
	if t.none && !kept {
		return c, nil
	}
	head := make([]byte, min(size, HeadLen))
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, fmt.Errorf("%w: reading content: %w", ErrCorrupt, unexpected(err))
	}
	isELF := elfinfo.IsELF(head)
	isEtc := strings.HasPrefix(name, "/etc/") && size <= MaxEtcFile
	switch {
	case kept:
		return t.keepWhole(r, head, size)
	case isELF:
		return t.keepELF(r, head, size)
	case isEtc:
		return t.keepWhole(r, head, size)
	}
	if bytes.HasPrefix(head, []byte("#!")) {
		c.head = head
	}
	return c, nil
}
