package builder

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/program"
	"github.com/fromscratch/fromscratch/rootfs"
)

// AppDir is where a PROGRAM or FILE given by a relative host path goes,
// at its path from the current directory: ./app is AppDir/app,
// ./build/bin/app is AppDir/build/bin/app (its $ORIGIN/../lib is
// AppDir/build/lib, taken from ./build/lib).
const AppDir = "/app"

// placement maps relative host paths under AppDir.
type placement struct {
	// base is the host directory put at AppDir: the current directory, or
	// the one a leading ../ climbs to.
	base string
	cwd  string
}

// relativePlacement is the placement of the relative PROGRAM and FILEs of
// the host (those that name a file here; a bare name that does not is
// looked up in PATH), nil when there are none or when they are taken from
// / (then they are in the root's tree as such).
func relativePlacement(program string, files []string) *placement {
	cwd, err := os.Getwd()
	if err != nil {
		return nil
	}
	base, any := cwd, false
	for _, a := range append([]string{program}, files...) {
		if a == "" || filepath.IsAbs(a) {
			continue
		}
		if _, err := os.Lstat(a); err != nil {
			continue
		}
		any = true
		b := cwd
		for rest := filepath.Clean(a); rest == ".." || strings.HasPrefix(rest, "../"); rest = strings.TrimPrefix(strings.TrimPrefix(rest, ".."), "/") {
			b = filepath.Dir(b)
		}
		if len(b) < len(base) {
			base = b
		}
	}
	if !any || base == "/" {
		return nil
	}
	return &placement{base: base, cwd: cwd}
}

// image returns the path in the image of the relative host path a, and
// whether a is placed under AppDir.
func (p *placement) image(a string) (string, bool) {
	if p == nil || a == "" || filepath.IsAbs(a) {
		return "", false
	}
	if _, err := os.Lstat(a); err != nil {
		return "", false
	}
	rel, err := filepath.Rel(p.base, filepath.Join(p.cwd, a))
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return path.Join(AppDir, filepath.ToSlash(rel)), true
}

// hostDir is the host directory put at AppDir, "" for none.
func (p *placement) hostDir() string {
	if p == nil {
		return ""
	}
	return p.base
}

// traced is where a path a traced run used is in the image: one under
// base (the run is of the relative PROGRAM's host copy: its own files,
// modules and data beside it) is under AppDir, as the program is; a
// directory above base is not in the image ("": the image never holds the
// checkout's path); any other is where it is.
func (p *placement) traced(q string) string {
	if p == nil {
		return q
	}
	if q == p.base {
		return AppDir
	}
	if rel, ok := strings.CutPrefix(q, p.base+"/"); ok {
		return path.Join(AppDir, rel)
	}
	if strings.HasPrefix(p.base, strings.TrimSuffix(q, "/")+"/") {
		return ""
	}
	return q
}

// checkProgram refuses a PROGRAM that cannot be an entrypoint, as the
// kernel would refuse it (program.Resolve with the image's environment
// env); arg is PROGRAM as given, for messages. What a #! script's
// interpreters lack, the closure says.
func checkProgram(fsys rootfs.FS, prog string, env []string, arg string) error {
	_, err := program.Resolve(fsys, []string{prog}, env)
	var ee *program.ExecError
	if !errors.As(err, &ee) || ee.Role != program.Command {
		return nil
	}
	switch {
	case errors.Is(err, program.ErrNotExecutable) && ee.Mode.IsRegular():
		return badInputErr(err, "%s: not executable (mode %v)", arg, ee.Mode.Perm())
	case errors.Is(err, program.ErrNotExecutable):
		return badInputErr(err, "%s: not a regular file", arg)
	case errors.Is(err, program.ErrFormat) && !errors.As(err, new(*elfinfo.FormatError)):
		return badInputErr(err, "%s: %s", arg, ee.Reason())
	}
	// A malformed program, or one the kernel refuses to run, is named as
	// ldd names it.
	return &FileError{Path: arg, Err: err}
}
