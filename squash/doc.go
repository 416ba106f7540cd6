// Package squash merges the top layers of an image into one layer that
// gives the same filesystem: shadowed and deleted files are dropped,
// whiteouts are kept only where lower layers still hold what they delete,
// and the configuration and history stay consistent.
//
// The image is read twice, each layer streamed: once to merge the layers'
// metadata ([imagefs.Open]), once to copy the surviving files' bytes
// straight into the new layer ([imagefs.FS.WriteSquashed]), which is
// gzipped into an unlinked temporary file while it is hashed.
package squash
