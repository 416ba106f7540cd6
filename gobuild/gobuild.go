package gobuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/program"
)

// Options tune a build.
type Options struct {
	// Dir is where `go` runs, so where a relative package path ("./cmd/x")
	// and the module are found; "" is the current directory.
	Dir string
	// LDFlags are added after "-s -w" (and after any -ldflags in GOFLAGS).
	LDFlags string
	// Env is the environment of `go` (nil: os.Environ()). GOFLAGS in it is
	// honoured; CGO_ENABLED, GOOS, GOARCH and GOARM/GOAMD64 are set per
	// platform.
	Env []string
	// Go is the go command ("" is "go" from PATH).
	Go string
	// OutDir receives the binaries ("" is a new temporary directory, which
	// the caller removes).
	OutDir string
	// Jobs bounds the concurrent builds (0 is 2).
	Jobs int
}

// Binary is one built program.
type Binary struct {
	Platform v1.Platform
	// Path is the binary on the host.
	Path string
}

// Result is a package built for several platforms.
type Result struct {
	// ImportPath is the package's import path.
	ImportPath string
	// Name is the program's name: the last element of the import path (the
	// one before a /vN major version suffix).
	Name     string
	Binaries []Binary // in the order of the platforms asked for
	// OutDir holds the binaries.
	OutDir string
}

// BuildError is a build that failed; Output is what go printed.
type BuildError struct {
	Package  string
	Platform string
	Output   string
	Err      error
}

func (e *BuildError) Error() string {
	out := strings.TrimSpace(e.Output)
	if out == "" {
		return fmt.Sprintf("go build %s for %s: %v", e.Package, e.Platform, e.Err)
	}
	return fmt.Sprintf("go build %s for %s: %v\n%s", e.Package, e.Platform, e.Err, out)
}

func (e *BuildError) Unwrap() error { return e.Err }

// ErrCgo is returned (wrapped in a *CgoError) when the package needs cgo.
var ErrCgo = errors.New("needs cgo")

// CgoError says which packages of the build use cgo.
type CgoError struct {
	Package  string
	Packages []string // the non-standard packages with cgo files
	Build    *BuildError
}

func (e *CgoError) Error() string {
	verb := "uses"
	if len(e.Packages) > 1 {
		verb = "use"
	}
	return fmt.Sprintf("%s %v (%s %s import \"C\"; CGO_ENABLED=0 leaves such files out)",
		e.Package, ErrCgo, strings.Join(e.Packages, ", "), verb)
}

func (e *CgoError) Unwrap() error { return ErrCgo }

// ParsePlatform parses "linux/arm64", "linux/arm/v7", "arm64" (linux is
// implied). Only linux is accepted.
func ParsePlatform(s string) (v1.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) == 1 {
		parts = []string{"linux", parts[0]}
	}
	if len(parts) > 3 || parts[0] != "linux" || parts[1] == "" {
		return v1.Platform{}, fmt.Errorf("platform %q: want linux/ARCH[/VARIANT]", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	if p.Architecture == "arm" && p.Variant == "" {
		p.Variant = "v7"
	}
	if p.Architecture == "arm64" && p.Variant == "v8" {
		p.Variant = "" // the same platform, as containerd normalizes it
	}
	return p, nil
}

// PlatformString is "linux/arm/v7".
func PlatformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// platformEnv is the go environment for p.
func platformEnv(p v1.Platform) ([]string, error) {
	env := []string{"CGO_ENABLED=0", "GOOS=" + p.OS, "GOARCH=" + p.Architecture}
	switch {
	case p.Variant == "":
	case p.Architecture == "arm":
		v := strings.TrimPrefix(p.Variant, "v")
		if v != "5" && v != "6" && v != "7" {
			return nil, fmt.Errorf("platform %s: GOARM is 5, 6 or 7", PlatformString(p))
		}
		env = append(env, "GOARM="+v)
	case p.Architecture == "amd64":
		env = append(env, "GOAMD64="+p.Variant)
	case p.Architecture == "arm64":
		// v8.x variants: GOARM64 takes "v8.0".."v9.5".
		env = append(env, "GOARM64="+p.Variant)
	default:
		return nil, fmt.Errorf("platform %s: no Go setting for variant %q", PlatformString(p), p.Variant)
	}
	return env, nil
}

// goFlags returns the entries of GOFLAGS in env.
func goFlags(env []string) []string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "GOFLAGS="); ok {
			return strings.Fields(v)
		}
	}
	return nil
}

// ldflags is "-s -w", then any -ldflags of GOFLAGS (a command line -ldflags
// would replace it), then the user's.
func (o *Options) ldflags(env []string) string {
	fl := []string{"-s", "-w"}
	for _, f := range goFlags(env) {
		f = strings.TrimPrefix(f, "-")
		if v, ok := strings.CutPrefix(f, "-ldflags="); ok {
			fl = append(fl, v)
		} else if v, ok := strings.CutPrefix(f, "ldflags="); ok {
			fl = append(fl, v)
		}
	}
	if o.LDFlags != "" {
		fl = append(fl, o.LDFlags)
	}
	return strings.Join(fl, " ")
}

// Build builds the main package pkg for each platform with
//
//	go build -trimpath -buildvcs=false -ldflags "-s -w LDFLAGS" -o OUT pkg
//
// and CGO_ENABLED=0 (-buildvcs=false is left out when GOFLAGS sets
// -buildvcs). Each binary is checked to be static. A package that fails to
// build because it needs cgo gives a *CgoError (errors.Is ErrCgo); other
// failures a *BuildError with go's output.
func Build(ctx context.Context, pkg string, platforms []v1.Platform, o Options) (*Result, error) {
	if len(platforms) == 0 {
		return nil, errors.New("go build: no platform")
	}
	penvs := make([][]string, len(platforms))
	for i, p := range platforms {
		penv, err := platformEnv(p)
		if err != nil {
			return nil, err
		}
		penvs[i] = penv
	}
	env := o.Env
	if env == nil {
		env = os.Environ()
	}
	goCmd := o.Go
	if goCmd == "" {
		goCmd = "go"
	}
	res := &Result{OutDir: o.OutDir, Binaries: make([]Binary, len(platforms))}
	if res.OutDir == "" {
		d, err := os.MkdirTemp("", "fromscratch-go-*")
		if err != nil {
			return nil, err
		}
		res.OutDir = d
	}
	args := []string{"build", "-trimpath"}
	vcs := false
	for _, f := range goFlags(env) {
		if strings.HasPrefix(strings.TrimLeft(f, "-"), "buildvcs") {
			vcs = true
		}
	}
	if !vcs {
		args = append(args, "-buildvcs=false")
	}
	args = append(args, "-ldflags="+o.ldflags(env))

	jobs := o.Jobs
	if jobs <= 0 {
		jobs = 2
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs + 1)
	// The name (and that pkg is a main package) comes from go list, run
	// beside the builds.
	g.Go(func() error {
		ip, name, err := list(gctx, goCmd, o.Dir, env, platforms[0], pkg)
		if err != nil {
			return err
		}
		if name != "main" {
			return fmt.Errorf("%s: package %s, not a main package (a program)", pkg, name)
		}
		res.ImportPath, res.Name = ip, ProgramName(ip)
		return nil
	})
	for i, p := range platforms {
		penv := penvs[i]
		out := filepath.Join(res.OutDir, fmt.Sprintf("%d-%s-%s%s", i, p.OS, p.Architecture, p.Variant))
		res.Binaries[i] = Binary{Platform: p, Path: out}
		g.Go(func() error {
			cmd := exec.CommandContext(gctx, goCmd, append(args, "-o", out, pkg)...)
			cmd.Dir = o.Dir
			cmd.Env = append(append([]string{}, env...), penv...)
			var buf bytes.Buffer
			cmd.Stdout, cmd.Stderr = &buf, &buf
			if err := cmd.Run(); err != nil {
				be := &BuildError{Package: pkg, Platform: PlatformString(p), Output: buf.String(), Err: err}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if cg := cgoPackages(ctx, goCmd, o.Dir, env, p, pkg); len(cg) > 0 {
					return &CgoError{Package: pkg, Packages: cg, Build: be}
				}
				return be
			}
			// The mode goes into the image: not the umask's.
			if err := os.Chmod(out, 0o755); err != nil {
				return err
			}
			return CheckStatic(out)
		})
	}
	if err := g.Wait(); err != nil {
		if o.OutDir == "" {
			os.RemoveAll(res.OutDir)
		}
		return nil, err
	}
	return res, nil
}

// list returns pkg's import path and package name.
func list(ctx context.Context, goCmd, dir string, env []string, p v1.Platform, pkg string) (string, string, error) {
	penv, _ := platformEnv(p)
	cmd := exec.CommandContext(ctx, goCmd, "list", "-f", "{{.ImportPath}} {{.Name}}", pkg)
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, env...), penv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return "", "", ctx.Err()
		}
		// A cgo-only package fails here too; let the build say why.
		if cg := cgoPackages(ctx, goCmd, dir, env, p, pkg); len(cg) > 0 {
			be := &BuildError{Package: pkg, Platform: PlatformString(p), Output: stderr.String(), Err: err}
			return "", "", &CgoError{Package: pkg, Packages: cg, Build: be}
		}
		return "", "", &BuildError{Package: pkg, Platform: PlatformString(p), Output: stderr.String(), Err: fmt.Errorf("go list: %w", err)}
	}
	ip, name, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	return ip, name, nil
}

// cgoPackages lists the packages of pkg's build (with cgo on) that have cgo
// files, the standard library left out (net and os/user have pure Go
// fallbacks).
func cgoPackages(ctx context.Context, goCmd, dir string, env []string, p v1.Platform, pkg string) []string {
	penv, _ := platformEnv(p)
	penv[0] = "CGO_ENABLED=1"
	cmd := exec.CommandContext(ctx, goCmd, "list", "-e", "-deps",
		"-f", "{{if and .CgoFiles (not .Standard)}}{{.ImportPath}}{{end}}", pkg)
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, env...), penv...)
	out, _ := cmd.Output()
	return strings.Fields(string(out))
}

// ProgramName is the name go build gives the binary of importPath:
// "example.com/cmd/server" is "server", "example.com/tool/v2" is "tool".
func ProgramName(importPath string) string {
	base := path.Base(importPath)
	if v, ok := strings.CutPrefix(base, "v"); ok && v != "" && strings.Trim(v, "0123456789") == "" { // a major version suffix
		if d := path.Base(path.Dir(importPath)); d != "." && d != "/" {
			return d
		}
	}
	return base
}

// CheckStatic fails with [program.ErrNotStatic] when the ELF file at p, a
// binary built, has a loader (PT_INTERP) or needs libraries (DT_NEEDED):
// GOFLAGS=-linkshared, an external link...
func CheckStatic(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	info, err := elfinfo.Read(f, fi.Size())
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if err := program.CheckStatic(info); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}
