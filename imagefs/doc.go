// Package imagefs reads an image's layers safely and merges them into one
// read-only root filesystem view ([rootfs.FS]), with per-layer accounting of
// what each layer added, changed, removed and wasted.
//
// # Merging
//
// Layers are applied bottom-up, as a container runtime extracts them, onto
// an in-memory tree of metadata (type, mode, owner, size, link target,
// which layer and which tar entry wrote it). Bottom-up with a tree, rather
// than top-down with a set of hidden paths, because the wasted-bytes
// accounting needs to know, for each overwrite or deletion, exactly which
// lower copy it hides, and because squashing needs the final writer of each
// path; the tree costs memory per live path, never per byte.
//
// The OCI image-spec rules apply: a whiteout ".wh.NAME" deletes NAME (and
// everything under it) from the lower layers, an opaque whiteout
// ".wh..wh..opq" deletes every lower child of its directory, and neither
// touches what the same layer adds. Other ".wh..wh." names (aufs
// bookkeeping) are ignored. When the same path appears twice in one layer,
// the last entry wins, as when extracting. A non-directory replacing a
// directory deletes the directory's subtree.
//
// # Content
//
// The tree holds no file contents, except these, copied while the layer
// streams into a content-addressed temporary directory (removed by
// [FS.Close]) so the loader emulation can read them with ReadAt:
//
//   - of every ELF file (sniffed by its 4 magic bytes), what the loader
//     reads: the pages elfinfo reads (headers, PT_INTERP, PT_DYNAMIC, the
//     strings and version records it points to). The file is stored while
//     it streams (its first 64 KiB, PT_INTERP, PT_DYNAMIC, and at most
//     [ELFSpool] more bytes), read, then every page not read is punched
//     out. A file that may be a loader (no PT_INTERP, no DT_NEEDED: glibc's
//     loader is scanned whole) is kept whole. Reading a part not kept
//     fails with [ErrContentNotKept];
//   - every regular file of at most 1 MiB under /etc (passwd, group,
//     ld.so.cache, ld.so.conf*, nsswitch.conf, ...), whole;
//   - the first 256 bytes of every "#!" script (in memory).
//
// Pages of zeros are never written (the files have holes), and the bytes
// kept are capped ([Options.MaxKept], [ErrKeptTooLarge]). An error of the
// temporary directory (no space left on device) is reported as such, not
// as a corrupt layer. Opening any other regular file fails with
// [ErrContentNotKept], unless [FS.KeepContents] has copied it since,
// reading the layers once more. A layer is streamed once and never held in
// memory, nor are its entries: they reach the tree in chunks, and the
// memory of a view is its tree, about 180 bytes a live path.
//
// # Hostile layers
//
// Every tar entry is checked before it touches the tree, and nothing is
// ever written outside the temporary directory (whose file names are
// content hashes, never entry names):
//
//   - Names are cleaned relative to the root: "/etc/x", "./etc/x" and
//     "../../etc/x" all name /etc/x; ".." never climbs above the root.
//   - A name whose parent is a symbolic link is resolved through it inside
//     the root, as an extractor confined to the root would (so "a -> /" then
//     "a/etc/evil" writes /etc/evil of the image). A parent that is a file
//     is an error ([ErrParentNotDir]).
//   - Hard-link targets are cleaned the same way and must name an existing
//     non-directory of the image ([ErrBadLink]).
//   - Symbolic link targets are stored as written; they are only ever
//     followed inside the root.
//   - Device nodes and FIFOs are kept as metadata (and written back by
//     squash as they were); nothing is ever created from them.
//   - Whiteouts of "", "." or ".." are errors ([ErrBadWhiteout]).
//   - Names longer than 4096 bytes, more than [Options.MaxEntries] live
//     paths, unknown entry types, a truncated or corrupt stream, and PAX
//     headers over archive/tar's 1 MiB limit are errors.
//
// Every error is a [*LayerError] naming the layer (index and digest) and
// the entry.
package imagefs
