// Package reason words an error as the reason part of the commands' one
// stderr line, "fromscratch: FILE: reason".
package reason

import (
	"errors"
	"io/fs"

	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/rootfs"
)

// Of returns the reason err gives, without the path a PathError repeats.
func Of(err error) string {
	var fe *elfinfo.FormatError
	switch {
	case errors.As(err, &fe):
		return fe.Error()
	case errors.Is(err, elfinfo.ErrNotELF):
		return err.Error()
	case errors.Is(err, rootfs.ErrLoop):
		return "too many levels of symbolic links"
	case errors.Is(err, fs.ErrNotExist):
		return "no such file or directory"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	return Unwrap(err).Error()
}

// Unwrap returns the error inside a *fs.PathError, or err.
func Unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
