package rootfs

import "io/fs"

// PermFromUnix is the fs.FileMode of the permission bits of a Unix mode
// (stat's, a tar header's): rwx, and setuid, setgid and sticky as
// fs.ModeSetuid, fs.ModeSetgid and fs.ModeSticky. The file type bits are
// left out.
func PermFromUnix(bits int64) fs.FileMode {
	m := fs.FileMode(bits & 0o777)
	if bits&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if bits&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if bits&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// UnixPerm is the inverse of [PermFromUnix]: m's permission bits as Unix
// (a tar header) spells them.
func UnixPerm(m fs.FileMode) int64 {
	bits := int64(m.Perm()) | int64(m&0o7000)
	if m&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	return bits
}
