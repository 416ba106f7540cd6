// Package builder builds the smallest image that runs a program: the
// program (or a Go package built static for each platform), its files, the
// libraries and loader it needs (package closure), the runtime files of a
// nonroot image and, with Options.Debug, a busybox layer on top. It holds
// the build logic of the `fromscratch build` command; the command only
// turns flags into Options, writes the images and prints.
//
// Build never prints and never exits: warnings come back in the Result.
// Errors that come from unusable input match ErrBadInput; a library or the
// loader that is not found matches closure.ErrMissing. Messages name the
// command's flags (--add, --debug-tools, ...), as they are what users give.
package builder
