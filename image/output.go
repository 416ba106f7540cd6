package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrNotRegular is the error of an output path that exists and is not a
// regular file.
var ErrNotRegular = errors.New("not a regular file")

// CheckOutput returns nil when path may be written (replaced) as a file: it
// does not exist, or it is a regular file. A symbolic link (even to a
// regular file), a device, a named pipe, a socket or a directory is not
// replaced: as root, `-o /dev/null` would otherwise replace the device with
// a file.
func CheckOutput(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode().IsRegular():
		return nil
	}
	var what string
	switch m := fi.Mode(); {
	case m&fs.ModeSymlink != 0:
		what = "a symbolic link"
	case m&fs.ModeDevice != 0:
		what = "a device"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m.IsDir():
		what = "a directory"
	default:
		what = "a special file"
	}
	return fmt.Errorf("%s, %w: not replaced (remove it, or name another file)", what, ErrNotRegular)
}
