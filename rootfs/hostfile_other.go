//go:build unix && !linux

package rootfs

import (
	"os"

	"golang.org/x/sys/unix"
)

const oNoFollow = unix.O_NOFOLLOW

// openHost opens the regular file name of the host, following symbolic
// links.
func openHost(name string) (*os.File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return regular(f, name)
}

// OpenNoFollow is the Linux short way of opening a host file; elsewhere
// the caller takes the general way.
func OpenNoFollow(fsys FS, name string) (f File, ok bool) { return nil, false }
