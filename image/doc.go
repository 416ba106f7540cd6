// Package image turns a list of file entries into deterministic, reproducible
// container image layers and images (Docker schema 2 or OCI media types), and
// writes them to a `docker load` tarball or an OCI image layout (package
// publish chooses among those and pushes to registries).
//
// Reproducible means byte-identical: the same entries and [Options] give the
// same layer digests and the same image digest, whatever the files' mtimes,
// atimes and owners on disk, the temporary directory, the time of day or the
// order of the entries. Every entry gets the same fixed mtime
// ([Options.Created]); names are sorted; owners come from the entries, never
// from the disk; the tar format (PAX) and the gzip level are fixed. The
// uncompressed layers (their diffIDs) depend only on the entries and the time;
// the compressed bytes, and so the digests, also depend on the gzip level and
// on the version of github.com/klauspost/compress built into the program.
// Layers can also be left uncompressed ([Options.Uncompressed]), as
// `docker save` writes them: their digest is then their diffID.
//
// Layers stream: file contents are copied from a [rootfs.FS] in 128 KiB
// chunks through gzip (or not) into an unlinked temporary file, hashed while written,
// so a file is read once and never held in memory.
package image
