// Package closure turns programs into the exact set of paths an image needs
// for them to start: each program, the loader and the libraries the loader
// would load (package ldso), and every symbolic link met on the way to each
// of them (/lib64 -> usr/lib64, the loader's absolute link), so that each
// path the loader opens resolves in the image as it does in the root.
//
// The result is checked by running the loader emulation again on the
// image's own filesystem: the image must resolve every program to the same
// files as the root does. If it does not (a library that only an ld.so.conf
// directory holds), the root's /etc/ld.so.cache is added, as the loader
// would need it, and the check is repeated.
package closure
