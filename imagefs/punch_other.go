//go:build !linux

package imagefs

import (
	"errors"
	"os"
)

// punchHole is Linux's: elsewhere the pages stay (and count as kept).
func punchHole(f *os.File, off, n int64) error { return errors.ErrUnsupported }
