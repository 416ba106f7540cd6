// Package builder builds the smallest image that runs a program: the
// program (or a Go package built static for each platform), its files, the
// libraries and loader it needs (package closure), the runtime files of a
// nonroot image and, with Options.Debug, a busybox layer on top. It holds
// the build logic of the `fromscratch build` command; the command only
// turns flags into Options, writes the images and prints.
//
// Build never prints and never exits: warnings come back in the Result.
// Errors that come from unusable input match ErrBadInput; a library or the
// loader that is not found matches closure.ErrMissing; an image that would
// not start matches ErrWouldNotStart. They are typed (OptionError names the
// Options field at fault, FileError the file, StartError doctor's problem)
// and speak of Options, not of a command's flags: the command words them.
package builder
