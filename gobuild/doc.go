// Package gobuild builds a Go main package into static Linux binaries with
// the host's Go toolchain, one per platform, reproducibly (CGO_ENABLED=0,
// -trimpath, -buildvcs=false, stripped), and tells a package that needs cgo
// apart from one that does not compile.
package gobuild
