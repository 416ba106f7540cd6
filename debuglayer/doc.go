// Package debuglayer plans the top layer of a debug image: a static busybox
// at /busybox/busybox with its applets linked next to it, and debugging
// tools (strace, gdb, ...) with the libraries they need that the image
// below does not already hold. The layers under it are left as they are, so
// they keep their digests.
package debuglayer
