package builder

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/doctor"
	"github.com/fromscratch/fromscratch/program"
)

// ErrBadInput is matched (errors.Is) by the errors of unusable input: bad
// options, a PROGRAM that cannot be an entrypoint, a file that is missing,
// a Go build that fails, a platform that does not match.
var ErrBadInput = errors.New("bad input")

// ErrWouldNotStart is matched (errors.Is) by the error of a build whose
// image would not start (doctor's verdict on the planned image and its
// final configuration: entrypoint, user, working directory).
var ErrWouldNotStart = errors.New("the image would not start")

// The conditions of unusable input. Each matches ErrBadInput; the errors
// that carry one say more (the value, the root) around it.
var (
	// ErrNoProgram: neither Program nor GoPackage is set.
	ErrNoProgram = inputSentinel("no program: set Program or GoPackage")
	// ErrGoArgs: GoPackage with Program or Files (an OptionError of
	// GoPackage).
	ErrGoArgs = inputSentinel("a Go package takes no Program or Files")
	// ErrGoTraces: GoPackage with Traces, which run a program of the root
	// (an OptionError of GoPackage).
	ErrGoTraces = inputSentinel("Traces run a program of the root, not a Go package")
	// ErrPlatforms: several Platforms for a Program (an OptionError of
	// Platforms).
	ErrPlatforms = inputSentinel("one platform for a Program (several are for a Go package)")
	// ErrSyntax: a value that does not parse (an OptionError: Add's
	// SRC:DST, Env's K=V).
	ErrSyntax = inputSentinel("malformed")
	// ErrNoPlatform: a program that is no ELF file, and no Platforms to
	// say what the image is (a FileError).
	ErrNoPlatform = inputSentinel("not an ELF program")
	// ErrNoBusybox: no busybox of the image's architecture for Debug.
	ErrNoBusybox = inputSentinel("no busybox")
	// ErrNoPackageDB: Packages or PackageNames over a root without a
	// package database.
	ErrNoPackageDB = inputSentinel("no package database")
	// ErrNotInstalled: a PackageNames package the root's database lacks.
	ErrNotInstalled = inputSentinel("not installed")
	// ErrOneImage: an Archive for several images.
	ErrOneImage = inputSentinel("an archive holds one image")
	// ErrImageRootTrace: Traces with an image root: the traced run needs
	// a directory (an OptionError of Traces, Value the root).
	ErrImageRootTrace = inputSentinel("the root is an image: a traced run needs a directory root")
	// ErrRootsGo: several Roots with a GoPackage (an OptionError of
	// GoPackage).
	ErrRootsGo = inputSentinel("several roots are for a Program, not a Go package")
	// ErrRootsPlatforms: several Roots with Platforms (an OptionError of
	// Platforms): each root says its own.
	ErrRootsPlatforms = inputSentinel("several roots say their own platforms")
)

// RootError is an error of the build from one of several Roots (as its
// value spells it: PLATFORM=ROOT or ROOT).
type RootError struct {
	Root string
	Err  error
}

func (e *RootError) Error() string { return e.Root + ": " + e.Err.Error() }

func (e *RootError) Unwrap() error { return e.Err }

// SamePlatformError is two Roots of one platform. It matches ErrBadInput.
type SamePlatformError struct {
	First, Second string // the roots as their values spell them
	Platform      string
}

func (e *SamePlatformError) Error() string {
	return fmt.Sprintf("%s and %s: both are %s", e.First, e.Second, e.Platform)
}

// Is reports ErrBadInput.
func (e *SamePlatformError) Is(target error) bool { return target == ErrBadInput }

// OptionError is an Options field whose value cannot be used. It matches
// ErrBadInput, unless Err is a library or loader not found
// (closure.ErrMissing).
type OptionError struct {
	// Option is the field of Options: "Add", "Env", "Platforms",
	// "GoPackage", "CACerts", "Tzdata", "Debug", "Busybox", "DebugTools",
	// "Packages", "PackageNames", "Traces".
	Option string
	// Value is the value at fault (one of a list, an Add's "SRC:DST"),
	// or "" when the field as a whole is.
	Value string
	// Err says why.
	Err error
}

func (e *OptionError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %v", e.Option, e.Err)
	}
	return fmt.Sprintf("%s %q: %v", e.Option, e.Value, e.Err)
}

// Is reports ErrBadInput.
func (e *OptionError) Is(target error) bool {
	return target == ErrBadInput && !errors.Is(e.Err, closure.ErrMissing)
}

func (e *OptionError) Unwrap() error { return e.Err }

// FileError is a file named in Options (Root, Program, one of Files, an
// Add's source) that cannot be used. It matches ErrBadInput.
type FileError struct {
	Path string // as given
	Err  error  // why
}

func (e *FileError) Error() string { return e.Path + ": " + unwrapPathError(e.Err).Error() }

// Is reports ErrBadInput.
func (e *FileError) Is(target error) bool { return target == ErrBadInput }

func (e *FileError) Unwrap() error { return e.Err }

// RootFileError is a file of the root that an option needs and the root
// lacks (the CA bundle, time zones, a busybox).
type RootFileError struct {
	Root    string // the root filesystem, "/" for the host
	Path    string // in Root
	Package string // the package that installs it
	Err     error
}

func (e *RootFileError) Error() string {
	where := ""
	if e.Root != "/" {
		where = " in the root " + e.Root
	}
	return fmt.Sprintf("%s%s: %v (install %s there)", e.Path, where, unwrapPathError(e.Err), e.Package)
}

func (e *RootFileError) Unwrap() error { return e.Err }

// PlatformError is a program whose platform is not the one asked (a
// Platforms value, the platform a Go package was built for, the image's).
type PlatformError struct {
	Path      string // the program (or root) as given
	Got, Want string // os/arch[/variant]
	Image     string // the image root whose platform Want is, if it is one's
}

func (e *PlatformError) Error() string {
	if e.Image != "" {
		return fmt.Sprintf("%s: is %s, not %s (the platform of the image %s)", e.Path, e.Got, e.Want, e.Image)
	}
	return fmt.Sprintf("%s: is %s, not %s", e.Path, e.Got, e.Want)
}

// Is reports ErrBadInput.
func (e *PlatformError) Is(target error) bool { return target == ErrBadInput }

// MissingPathsError is listed Paths (or traced ones) that the root lacks.
// It matches closure.ErrMissing.
type MissingPathsError struct {
	Paths []string
}

func (e *MissingPathsError) Error() string {
	return strings.Join(e.Paths, ", ") + ": listed paths the root lacks"
}

// Is reports closure.ErrMissing.
func (e *MissingPathsError) Is(target error) bool { return target == closure.ErrMissing }

// GoBuildError is a GoPackage whose build failed: Err is gobuild's error
// (a *gobuild.CgoError, a *gobuild.BuildError, gobuild.ErrNotStatic...).
// It matches ErrBadInput.
type GoBuildError struct {
	Package string
	Err     error
}

func (e *GoBuildError) Error() string { return fmt.Sprintf("go build %s: %v", e.Package, e.Err) }

// Is reports ErrBadInput.
func (e *GoBuildError) Is(target error) bool { return target == ErrBadInput }

func (e *GoBuildError) Unwrap() error { return e.Err }

// StartError says why the planned image would not start: doctor's problem
// with the image planned for Program (or GoPackage). It matches
// ErrWouldNotStart.
type StartError struct {
	Program string // as given
	Problem doctor.Problem
}

func (e *StartError) Error() string {
	return fmt.Sprintf("%s: the image would not start: %s (fix: %s)", e.Program, e.Problem.Message, e.Problem.Fix)
}

// Is reports ErrWouldNotStart.
func (e *StartError) Is(target error) bool { return target == ErrWouldNotStart }

// inputError is an error of unusable input; msg is the whole message (or
// "": err's), err the cause if there is one.
type inputError struct {
	msg string
	err error
}

func (e *inputError) Error() string {
	if e.msg == "" {
		return e.err.Error()
	}
	return e.msg
}

// Is reports ErrBadInput.
func (e *inputError) Is(target error) bool { return target == ErrBadInput }

func (e *inputError) Unwrap() error { return e.err }

// inputSentinel is a condition of unusable input, for errors.Is.
func inputSentinel(text string) error { return &inputError{err: errors.New(text)} }

// badInputErr is an ErrBadInput error with a formatted message, wrapping
// cause.
func badInputErr(cause error, format string, a ...any) error {
	return &inputError{msg: fmt.Sprintf(format, a...), err: cause}
}

// unwrapPathError is the error inside a *fs.PathError, or err: the reason
// of a file's error whose path is said already.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	var ee *program.ExecError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &ee) && ee.SearchPath == "":
		return reasonError{ee}
	}
	return err
}

// reasonError is an ExecError said without its path, for a message that
// names the path already.
type reasonError struct{ *program.ExecError }

func (e reasonError) Error() string { return e.ExecError.Err.Error() }

func (e reasonError) Unwrap() error { return e.ExecError }
