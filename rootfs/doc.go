// Package rootfs gives one read-only view of a root filesystem, whether it is
// the host ("/"), a directory such as a sysroot or a debootstrap, or (later)
// the merged layers of an image.
//
// Every path is an absolute, slash-separated path inside the root. Symbolic
// links are followed as the kernel would inside a chroot: an absolute target
// starts again at the root and ".." never climbs above it. Nothing outside the
// root is ever read on behalf of a root other than "/".
package rootfs
