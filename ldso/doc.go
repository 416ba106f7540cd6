// Package ldso emulates the dynamic loaders of glibc and musl: given an ELF
// file inside a root filesystem, it finds exactly the objects the loader
// would load, in its breadth-first order, by reading files, never running
// them.
//
// # glibc
//
// For each DT_NEEDED name of object L (elf/dl-load.c, _dl_map_object):
// a name already loaded (as a name or a DT_SONAME) is reused; a name with a
// slash is opened as it is; otherwise the search goes through DT_RPATH of L
// and of the objects that loaded it up to the program (only when L has no
// DT_RUNPATH), LD_LIBRARY_PATH (Options.LibraryPath), L's own DT_RUNPATH,
// ROOT/etc/ld.so.cache and the loader's default directories (both skipped
// for DF_1_NODEFLIB). The default directories and $LIB are read out of the
// root's own loader, so they are right for Debian's multiarch layout,
// Fedora's lib64 or anything else. In each directory, glibc-hwcaps
// subdirectories are tried first (see [Options.HWCaps] for the policy); a
// candidate of the wrong class, byte order or machine is skipped.
// $ORIGIN is the directory of the object: for the program, of its real path
// (as the kernel runs it; glibc's ldd uses the path it is given instead);
// for a library, of the path it was found at. $LIB is the loader's first
// default directory without its slashes ("lib/x86_64-linux-gnu" on Debian).
// $PLATFORM is the architecture's AT_PLATFORM, except that glibc 2.26 to
// 2.36 on an Intel x86-64 CPU with AVX2 and friends says "haswell" (or
// "xeon_phi"), when the root's loader is such a glibc and the file is of
// the host's architecture (Options.Platform overrides).
//
// # musl
//
// LD_LIBRARY_PATH, then DT_RPATH/DT_RUNPATH of L and up its chain ($ORIGIN
// only), then /etc/ld-musl-ARCH.path or /lib:/usr/local/lib:/usr/lib. The
// names libc, libpthread, librt, libm, libdl, libutil and libxnet are the
// loader itself.
//
// # Not emulated
//
// The legacy hwcap subdirectories of glibc before 2.37 (tls, haswell,
// avx512_1, x86_64 under each search directory; ld.so.cache entries for them
// are honoured as glibc 2.36 does), a kernel too old for a library's ABI
// note, and secure (setuid) mode.
package ldso
