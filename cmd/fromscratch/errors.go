package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/fromscratch/fromscratch/builder"
	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/doctor"
	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/gobuild"
	"github.com/fromscratch/fromscratch/internal/registry"
	"github.com/fromscratch/fromscratch/program"
	"github.com/fromscratch/fromscratch/rootfs"
	"github.com/fromscratch/fromscratch/slim"
	"github.com/fromscratch/fromscratch/squash"
)

// The libraries return typed errors that speak of their own options; this
// file words them for the command line (naming the flags) and decides the
// exit codes, in exitCode.

// exitError is a command's own verdict with its exit code: 2 bad usage
// (usage), 1 problems found and reported (doctor), a traced program's
// status. Its message, if any, is the line printed.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// worded is a library's error worded for the command line: msg is the
// line after "fromscratch: ", err the library's error, whose class gives
// the exit code.
type worded struct {
	msg string
	err error
}

func (e *worded) Error() string { return e.msg }

func (e *worded) Unwrap() error { return e.err }

// exitCode is the exit status of a command that returned err, the one
// place it is decided: 0 success; 1 the work was done and found a problem
// (a library or the loader not found, an image that would not start, a
// slim image that answers a probe otherwise); 2 bad usage or unusable
// input, and any other failure. A command's own verdict (doctor's
// problems, a traced program's status) comes as an exitError.
func exitCode(err error) int {
	var ee *exitError
	var start *slim.StartError
	var diff *probeDiff
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, closure.ErrMissing), errors.Is(err, builder.ErrWouldNotStart),
		errors.As(err, &start), errors.As(err, &diff):
		return 1
	}
	return 2
}

// message is the line err prints after "fromscratch: ", or "" for none.
func message(err error) string {
	var ee *exitError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ee):
		return ee.msg
	}
	// Anything else is a usage error from cobra or a worded failure.
	return withFlagHint(suggestCommand(err.Error()), err)
}

// withFlagHint is msg, the words of err, with the flag that lifts what err
// refused: --insecure for a registry spoken to over plain HTTP.
func withFlagHint(msg string, err error) string {
	var pe *registry.PlainHTTPError
	if errors.As(err, &pe) {
		msg += " (--insecure allows it)"
	}
	return msg
}

// describe is the reason part of "FILE: reason", without the path a
// PathError repeats.
func describe(err error) string {
	var fe *elfinfo.FormatError
	switch {
	case errors.As(err, &fe):
		return fe.Error()
	case errors.Is(err, elfinfo.ErrNotELF):
		return err.Error()
	case errors.Is(err, rootfs.ErrLoop):
		return "too many levels of symbolic links"
	case errors.Is(err, fs.ErrNotExist):
		return "no such file or directory"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	return unwrapPathError(err).Error()
}

// unwrapPathError returns the error inside a *fs.PathError, or err.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// buildFlags are the build flags of builder.Options' fields, for the
// errors that name one.
var buildFlags = map[string]string{
	"Add": "--add", "Env": "--env", "Platforms": "--platform", "GoPackage": "--go",
	"CACerts": "--ca-certs", "Tzdata": "--tzdata", "Debug": "--debug", "Busybox": "--busybox",
	"DebugTools": "--debug-tools", "Packages": "--packages", "PackageNames": "--package",
	"Traces": "--trace",
}

// buildSyntax says what a build flag's value should look like.
var buildSyntax = map[string]string{
	"Add": "SRC:DST with an absolute DST",
	"Env": "K=V",
}

// builderError words an error of builder.Build.
func builderError(err error) error {
	return &worded{msg: buildMessage(err), err: err}
}

func buildMessage(err error) string {
	var (
		oe *builder.OptionError
		fe *builder.FileError
		se *builder.StartError
		ge *builder.GoBuildError
		me *builder.MissingPathsError
	)
	var (
		re *builder.RootError
		sp *builder.SamePlatformError
	)
	switch {
	case errors.As(err, &sp):
		return fmt.Sprintf("--root %s and --root %s: both are %s; one root a platform", sp.First, sp.Second, sp.Platform)
	case errors.As(err, &re):
		return "--root " + re.Root + ": " + buildMessage(re.Err)
	case errors.Is(err, builder.ErrNoProgram):
		return "build: give PROGRAM, or --go PKG for a Go program"
	case errors.As(err, &me):
		return fmt.Sprintf("build: %s (listed paths the root lacks; --allow-missing builds anyway): %v",
			strings.Join(me.Paths, ", "), closure.ErrMissing)
	case errors.As(err, &se):
		fix := fixText(se.Problem)
		if se.Problem.Check == "program" || se.Problem.Check == "command" {
			fix = "point --entrypoint at a program the image holds: PROGRAM, a FILE, or one under an --add DST"
		}
		return fmt.Sprintf("build %s: the image would not start: %s (fix: %s)", se.Program, se.Problem.Message, fix)
	case errors.As(err, &ge):
		return goBuildMessage(ge)
	case errors.As(err, &oe):
		return optionMessage(oe)
	case errors.Is(err, closure.ErrMissing):
		return "build: " + err.Error() + " (--allow-missing builds anyway)"
	case errors.As(err, &fe):
		if errors.Is(fe.Err, builder.ErrNoPlatform) {
			return fe.Path + ": " + describe(fe.Err) + ": give --platform"
		}
		return fe.Path + ": " + describe(fe.Err)
	case errors.Is(err, builder.ErrBadInput):
		return err.Error()
	}
	return "build: " + err.Error()
}

// optionMessage words a build flag's value that cannot be used.
func optionMessage(e *builder.OptionError) string {
	flag := buildFlags[e.Option]
	var rf *builder.RootFileError
	var pe *fs.PathError
	reason := e.Err.Error()
	switch {
	case errors.Is(e.Err, builder.ErrGoArgs):
		return fmt.Sprintf("build --go %s: no PROGRAM or FILE arguments; add files with --add SRC:DST", e.Value)
	case errors.Is(e.Err, builder.ErrGoTraces):
		return fmt.Sprintf("build --go %s: --trace runs a PROGRAM of the root; trace the Go program with fromscratch trace and give the list with --files-from", e.Value)
	case errors.Is(e.Err, builder.ErrImageRootTrace):
		return fmt.Sprintf("--trace: the root %s is an image: the traced run needs a directory root (build without --trace, then doctor --run the image)", e.Value)
	case errors.Is(e.Err, builder.ErrRootsGo):
		return fmt.Sprintf("build --go %s: one --root (the platforms to build are --platform's); several roots are for a PROGRAM", e.Value)
	case errors.Is(e.Err, builder.ErrRootsPlatforms):
		return fmt.Sprintf("build: --platform %s with several roots: give each root's platform as --root PLATFORM=ROOT", e.Value)
	case errors.Is(e.Err, builder.ErrPlatforms):
		return "build: one --platform for PROGRAM (several are for --go): " + e.Value
	case errors.Is(e.Err, builder.ErrSyntax):
		return fmt.Sprintf("%s %q: want %s", flag, e.Value, buildSyntax[e.Option])
	case errors.As(e.Err, &rf):
		where, hint := "", "leave out "+flag
		if rf.Root != "/" {
			where = " in the root " + rf.Root
		}
		if e.Option == "Debug" {
			hint = "give --busybox PATH"
		}
		reason = fmt.Sprintf("%s%s: %s (install %s there, or %s)", rf.Path, where, describe(rf.Err), rf.Package, hint)
	case errors.Is(e.Err, builder.ErrNoBusybox):
		reason += ": give --busybox PATH (repeatable, one per architecture)"
	case errors.Is(e.Err, closure.ErrMissing):
		reason += " (--allow-missing builds anyway)"
	case errors.As(e.Err, &pe):
		reason = describe(e.Err)
	}
	if e.Value != "" {
		return flag + " " + e.Value + ": " + reason
	}
	return flag + ": " + reason
}

// goBuildMessage words a failed build --go: a package that needs cgo gets
// the dynamic route.
func goBuildMessage(e *builder.GoBuildError) string {
	var cg *gobuild.CgoError
	var be *gobuild.BuildError
	switch {
	case errors.As(e.Err, &cg):
		name := gobuild.ProgramName(strings.TrimSuffix(e.Package, "/"))
		return fmt.Sprintf("build --go: %v: it cannot be built static; take the dynamic route, where fromscratch brings its libraries and loader: go build -o %s %s && fromscratch build -o IMAGE.tar ./%s",
			cg, name, e.Package, name)
	case errors.As(e.Err, &be):
		return fmt.Sprintf("build --go: %v", be)
	case errors.Is(e.Err, program.ErrNotStatic):
		return fmt.Sprintf("build --go: %v: check GOFLAGS and --ldflags (no -linkshared, no external linking), or build it yourself and use `fromscratch build ./BINARY`", e.Err)
	}
	return fmt.Sprintf("build --go: %v", e.Err)
}

// squashError words an error of squash.Squash for the image ref.
func squashError(ref string, err error) error {
	var le *squash.LayersError
	if errors.As(err, &le) {
		return &worded{msg: fmt.Sprintf("%s: --from %d: the image has %d layers", ref, le.From, le.Layers), err: err}
	}
	return &worded{msg: fmt.Sprintf("%s: %v", ref, err), err: err}
}

// slimError words an error of slim.Slim for the image ref.
func slimError(ref string, err error) error {
	var se *slim.StartError
	var ke *slim.KeepError
	msg := fmt.Sprintf("slim %s: %s", ref, describe(err))
	switch {
	case errors.As(err, &se):
		msg = fmt.Sprintf("slim %s: %v (see fromscratch doctor %s)", ref, err, ref)
	case errors.Is(err, closure.ErrMissing):
		msg = fmt.Sprintf("slim %s: %v: the image lacks what its entrypoint needs (see fromscratch doctor %s)", ref, err, ref)
	case errors.As(err, &ke):
		msg = fmt.Sprintf("slim %s: --keep %s: %v", ref, ke.Path, ke.Err)
	}
	return &worded{msg: msg, err: err}
}

// missingWarning words what build --allow-missing left out.
func missingWarning(m builder.Missing) string {
	w := m.Name + " not found (--allow-missing)"
	if m.Listed {
		w = m.Name + " (listed) not found (--allow-missing)"
	}
	if m.Root != "" {
		w = m.Root + ": " + w
	}
	return w
}

// fixText words a doctor problem's fix for the command line, naming the
// flags that make it: doctor's own words (Fix) where its Remedy says no
// more.
func fixText(p doctor.Problem) string {
	r := p.Remedy
	switch r.Kind {
	case doctor.CreateWorkdir:
		return "create it in the image (--add) if the program expects files there"
	case doctor.FixWorkdir:
		return "fix --workdir"
	case doctor.SetEntrypoint:
		return "set --entrypoint (fromscratch build sets it to PROGRAM)"
	case doctor.SetPlatform:
		return fmt.Sprintf("set the image's platform to the program's (--platform linux/%s), or build the program for %s", r.Got, r.Want)
	case doctor.BuildFor:
		return fmt.Sprintf("build the program for %s (GOARCH=%s, a cross compiler, or --platform)", r.Want, r.Want)
	case doctor.AddUserFile:
		return fmt.Sprintf("use a numeric --user, or add %s (fromscratch build writes one with root and nonroot)", r.File)
	case doctor.AddUser:
		return fmt.Sprintf("add %s to %s, or use a numeric --user", r.Name, r.File)
	case doctor.RebuildLoader:
		if r.Rebuild.Musl {
			return "this is a musl program: rebuild the image with its loader and libraries: `" + rebuildCommand(r.Rebuild) + "`, or use a musl image (Alpine), or link with -static"
		}
		return "rebuild the image with the loader and libraries: `" + rebuildCommand(r.Rebuild) + "`, or link the program with -static"
	case doctor.RebuildLibraries:
		return "rebuild the image with the program's libraries: `" + rebuildCommand(r.Rebuild) + "`"
	}
	return p.Fix
}

// rebuildCommand is the sh command of a rebuild doctor suggests: fromscratch
// build from the program's copy on the host, or from one docker cp takes
// out of the image.
func rebuildCommand(r *doctor.Rebuild) string {
	args := []string{"fromscratch", "build", "-o", "fixed.tar"}
	if r.Entrypoint != nil {
		args = append(args, "--entrypoint", quoteArgs(r.Entrypoint))
	}
	if r.Cmd != nil {
		args = append(args, "--cmd", quoteArgs(r.Cmd))
	}
	switch {
	case r.Host == r.Program:
		return shellJoin(append(args, r.Program))
	case r.Host != "":
		return shellJoin(append(args, "--add", r.Host+":"+r.Program, r.Program))
	}
	// Out of the engine: the image as the engine names it.
	name := path.Base(r.Program)
	ref := "IMAGE"
	switch img := r.Image; {
	case strings.HasPrefix(img, "docker-archive:"):
		file, _, _ := strings.Cut(strings.TrimPrefix(img, "docker-archive:"), ":")
		ref = "\"$(docker load -qi " + shellQuote(file) + " | sed -n 's/^Loaded image[^:]*: //p' | head -n1)\""
	case strings.HasPrefix(img, "oci-layout:"), img == "":
	default:
		ref = shellQuote(strings.TrimPrefix(img, "docker-daemon:"))
	}
	return "id=$(docker create " + ref + ") && docker cp \"$id:" + r.Program + "\" ./" + name +
		" && docker rm \"$id\" && " + shellJoin(append(args, "--add", "./"+name+":"+r.Program, r.Program))
}
