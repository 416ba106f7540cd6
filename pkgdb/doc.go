// Package pkgdb reads the package databases of a root filesystem (the host,
// a directory such as a debootstrap, or an image's merged layers) and maps
// each file to the package that installed it, with its version,
// architecture, source package and licence.
//
// It reads dpkg's database (var/lib/dpkg/status with info/NAME.list and
// info/NAME.md5sums, or distroless's var/lib/dpkg/status.d/NAME with
// NAME.md5sums) and apk's (lib/apk/db/installed). Paths are listed as the
// package installed them (/lib/x86_64-linux-gnu/libc.so.6 on a merged-/usr
// Debian); they are mapped through the root's symbolic links, so that the
// physical path /usr/lib/x86_64-linux-gnu/libc.so.6 finds the same package.
//
// A database is input like any other: every file read is bounded (see the
// Max constants) and a malformed one gives an [*Error] naming the file and
// line.
package pkgdb
