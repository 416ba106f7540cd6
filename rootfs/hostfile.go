//go:build linux

package rootfs

import (
	"io"
	"io/fs"
	"path"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// hostFile is a regular file of the host opened read-only, used through
// its descriptor directly. An *os.File costs more than the few reads the
// loader emulation makes of each file: os.Open checks the file's kind with
// an fstat and registers it with the netpoller (an epoll_ctl that fails for
// a regular file), Stat makes a second fstat, and every read goes through
// the poller's locks. hostFile makes one fstat, which Stat answers from.
//
// Unlike an *os.File it has no cleanup closing the descriptor if it is
// dropped: it must be closed.
type hostFile struct {
	fd   int
	name string         // as opened, for errors and Stat's Name
	st   syscall.Stat_t // as os.File.Stat's Sys gives it
	off  int64          // for Read
}

var _ File = (*hostFile)(nil)

// openHost opens the regular file name of the host, following symbolic
// links. O_NONBLOCK: a FIFO must not hang the caller; it is refused.
func openHost(name string) (*hostFile, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	f := &hostFile{fd: fd, name: name}
	if err := syscall.Fstat(fd, &f.st); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	if m := f.st.Mode & unix.S_IFMT; m != unix.S_IFREG {
		unix.Close(fd)
		if m == unix.S_IFDIR {
			return nil, &fs.PathError{Op: "open", Path: name, Err: errIsDir}
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: errNotRegular}
	}
	return f, nil
}

// ReadAt implements io.ReaderAt.
func (f *hostFile) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: fs.ErrInvalid}
	}
	n := 0
	for n < len(b) {
		m, err := unix.Pread(f.fd, b[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, &fs.PathError{Op: "read", Path: f.name, Err: err}
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

// Read implements io.Reader.
func (f *hostFile) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		n, err := unix.Pread(f.fd, b, f.off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
		}
		if n == 0 {
			return 0, io.EOF
		}
		f.off += int64(n)
		return n, nil
	}
}

// Close implements io.Closer.
func (f *hostFile) Close() error {
	if f.fd < 0 {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	err := unix.Close(f.fd)
	f.fd = -1
	if err != nil {
		return &fs.PathError{Op: "close", Path: f.name, Err: err}
	}
	return nil
}

// Stat returns what the fstat of Open found.
func (f *hostFile) Stat() (fs.FileInfo, error) {
	return &hostInfo{name: path.Base(f.name), st: &f.st}, nil
}

// hostInfo is an fs.FileInfo from a stat buffer, as os.Stat gives it.
type hostInfo struct {
	name string
	st   *syscall.Stat_t
}

func (i *hostInfo) Name() string       { return i.name }
func (i *hostInfo) Size() int64        { return i.st.Size }
func (i *hostInfo) IsDir() bool        { return i.Mode().IsDir() }
func (i *hostInfo) ModTime() time.Time { return time.Unix(i.st.Mtim.Unix()) }
func (i *hostInfo) Sys() any           { return i.st }

func (i *hostInfo) Mode() fs.FileMode {
	m := PermFromUnix(int64(i.st.Mode))
	switch i.st.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	}
	return m
}

// OpenNoFollow opens name, a physical path of fsys (its directories are not
// symbolic links), if fsys is the host root and name is a regular file there
// and not a symbolic link: one open and one fstat where [Resolve] then Open
// make an lstat, an open and an fstat. ok is false when it cannot: fsys is
// another root, or name is missing, a symbolic link, not a regular file or
// not openable; then the caller takes the general way, which decides what
// the answer is and reports the errors.
func OpenNoFollow(fsys FS, name string) (f File, ok bool) {
	if c, isCached := fsys.(*cachedFS); isCached {
		fsys = c.FS
	}
	d, isDir := fsys.(*dirFS)
	if !isDir || d.root != nil || !isClean(name) || name == "/" {
		return nil, false
	}
	var fd int
	var err error
	for {
		fd, err = unix.Open(name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, false
	}
	h := &hostFile{fd: fd, name: name}
	if err := syscall.Fstat(fd, &h.st); err != nil || h.st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, false
	}
	return h, true
}
