package imagefs

import (
	"os"

	"golang.org/x/sys/unix"
)

// punchHole frees the bytes [off, off+n) of f, its size kept.
func punchHole(f *os.File, off, n int64) error {
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}
