package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/gobuild"
	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/program"
	"github.com/fromscratch/fromscratch/rootfs"
	"github.com/fromscratch/fromscratch/sbom"
)

// Result is what Build made.
type Result struct {
	// Tag is Options.Tag, or the program's name with ":latest".
	Tag string
	// Images are the images built, one per platform, in the order of
	// Options.Platforms.
	Images []v1.Image
	// Index combines Images when there are several; it is nil for one.
	Index v1.ImageIndex
	// Summaries describe Images, one each.
	Summaries []Summary
	// SBOMs list each image's files and packages (Options.SBOM), one
	// per image.
	SBOMs []*sbom.Document
	// Warnings are for the user, in words: a link kept dangling, a base
	// file the root lacks, the problems of an image built with NoCheck.
	Warnings []string
	// Missing are what AllowMissing left out of the images.
	Missing []Missing
	// Traces are the runs of Options.Traces, in order.
	Traces []Trace
	// Notes tell the user where things went: a relative PROGRAM or FILE
	// under AppDir.
	Notes []string

	tempDir string // the Go binaries, read when the images are written
}

// Close removes the temporary files the images are read from (the Go
// binaries). Call it once the images are written, not before.
func (r *Result) Close() error {
	if r == nil || r.tempDir == "" {
		return nil
	}
	dir := r.tempDir
	r.tempDir = ""
	return os.RemoveAll(dir)
}

// Missing is a library, or a listed path, the root lacks, left out of an
// image because AllowMissing is set.
type Missing struct {
	// Name is the path, or the library as "NAME (needed by FILE)".
	Name string
	// Listed: a path of Files or of a trace, not a library.
	Listed bool
	// Root is the root that lacks it, as Roots spells it, when there
	// are several.
	Root string
}

// Summary describes one image for the user.
type Summary struct {
	Layers   int
	Files    int
	Bytes    int64  // of the files, uncompressed
	Platform string // os/arch[/variant]
	// Excluded are the paths --exclude left out.
	Excluded []string
	// Packages are the packages Options.Packages and PackageNames added.
	Packages []AddedPackage
	// Missing are the libraries the root lacks, left out (AllowMissing):
	// "NAME (needed by FILE)".
	Missing []string
}

// String is "3 layers, 12 files, 4.2 MB (linux/amd64)", then ";
// excluded 2 paths: /a, /b" when paths were excluded.
func (s Summary) String() string {
	return fmt.Sprintf("%d layers, %d files, %.1f MB (%s)", s.Layers, s.Files, float64(s.Bytes)/1e6, s.Platform) + closure.ExcludedString(s.Excluded)
}

// job is one image to build: a program's inputs and the platform.
type job struct {
	arg       string // PROGRAM or PKG, for messages
	program   string // the entrypoint, a path in the image
	inputs    []closure.Input
	platform  *v1.Platform // for --go: the platform built for
	goImport  string       // for --go: the package's import path
	wantImage string       // the image root the platform asked for comes from, when not Platforms
	// accounts: a run read /etc/passwd or /etc/group, which get the root's
	// system accounts.
	accounts bool
}

// Build builds the image of o.Program, or of o.GoPackage for each
// platform. The layers are read when the images are written: call
// Result.Close after writing them. Build may run `go build`; it prints
// nothing.
func Build(ctx context.Context, o Options) (res *Result, err error) {
	if len(o.Roots) > 1 {
		return buildRoots(ctx, o)
	}
	if o.GoPackage == "" && o.Program == "" {
		return nil, ErrNoProgram
	}
	if o.GoPackage != "" && (o.Program != "" || len(o.Files) > 0) {
		return nil, &OptionError{Option: "GoPackage", Value: o.GoPackage, Err: ErrGoArgs}
	}
	if o.GoPackage != "" && len(o.Traces) > 0 {
		return nil, &OptionError{Option: "GoPackage", Value: o.GoPackage, Err: ErrGoTraces}
	}
	platforms := SplitPlatforms(o.Platforms)
	if o.GoPackage == "" && len(platforms) > 1 {
		return nil, &OptionError{Option: "Platforms", Value: strings.Join(platforms, ","), Err: ErrPlatforms}
	}
	r, err := o.theRoot()
	if err != nil {
		return nil, err
	}
	if len(o.Traces) > 0 && r.IsImage() {
		return nil, &OptionError{Option: "Traces", Value: r.Name, Err: ErrImageRootTrace}
	}
	root, fsys, hostRoot := r.Name, r.FS, r.Dir == "/"
	host, err := rootfs.Dir("/")
	if err != nil {
		return nil, err
	}
	common, err := commonSpec(&o, host)
	if err != nil {
		return nil, err
	}
	baseWarnings, err := checkBase(fsys, root, common)
	if err != nil {
		return nil, err
	}
	// Libraries are looked for as the image will hold them: the --add files
	// at their destinations ($ORIGIN of an added program is its DST's).
	var mounts []rootfs.Mount
	for _, a := range common.adds {
		mounts = append(mounts, rootfs.Mount{Dst: a.Path, FS: a.FS, Src: a.SourcePath})
	}
	// A relative PROGRAM or FILE of the host goes under AppDir, at its path
	// from the current directory: the image does not depend on where the
	// checkout is, and $ORIGIN layouts under it still hold.
	var place *placement
	if o.GoPackage == "" && hostRoot {
		if place = relativePlacement(o.Program, o.Files); place != nil {
			mounts = append(mounts, rootfs.Mount{Dst: AppDir, FS: host, Src: place.base})
		}
	}
	if len(mounts) > 0 {
		fsys = rootfs.Overlay(fsys, mounts)
	}

	res = &Result{Warnings: baseWarnings}
	defer func() {
		if err != nil {
			res.Close()
			res = nil
		}
	}()
	var jobs []job
	tagName := ""
	if o.GoPackage != "" {
		var plats []v1.Platform
		for _, s := range platforms {
			p, err := gobuild.ParsePlatform(s)
			if err != nil {
				return nil, &OptionError{Option: "Platforms", Err: err}
			}
			plats = append(plats, p)
		}
		if len(plats) == 0 {
			plats = []v1.Platform{{OS: "linux", Architecture: runtime.GOARCH}}
		}
		gres, err := gobuild.Build(ctx, o.GoPackage, plats, gobuild.Options{LDFlags: o.LDFlags})
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return nil, err
			}
			return nil, &GoBuildError{Package: o.GoPackage, Err: err}
		}
		res.tempDir = gres.OutDir
		program := GoBinDir + "/" + gres.Name
		tagName = gres.Name
		for _, b := range gres.Binaries {
			in := closure.Input{Path: program, FS: host, SourcePath: b.Path, Layer: closure.LayerApp}
			jobs = append(jobs, job{arg: o.GoPackage, program: program, platform: &b.Platform, goImport: gres.ImportPath,
				inputs: append([]closure.Input{in}, common.adds...)})
		}
	} else {
		arg := o.Program
		prog := arg
		if p, ok := place.image(arg); ok {
			prog = p
			res.Notes = append(res.Notes, fmt.Sprintf("%s is %s in the image (a relative path goes under %s)", arg, p, AppDir))
		} else if hostRoot {
			if abs, err := filepath.Abs(prog); err == nil {
				prog = abs
			}
		}
		// A bare name that is no file here is looked up in the root's PATH,
		// as `docker run IMAGE curl` would find it: build curl means
		// /usr/bin/curl, while ./app built in the current directory stays.
		if !strings.Contains(arg, "/") {
			if _, err := fsys.Lstat(prog); err != nil {
				p, err := program.LookPath(fsys, arg, common.env)
				if err != nil {
					return nil, badInputErr(err, "%s: no such file, nor in PATH %s", arg, program.PathOf(common.env))
				}
				prog = p
			}
		}
		if err := checkProgram(fsys, prog, common.env, arg); err != nil {
			return nil, err
		}
		inputs := []closure.Input{{Path: prog, Layer: closure.LayerApp}}
		for _, a := range o.Files {
			p := a
			if q, ok := place.image(a); ok {
				p = q
				res.Notes = append(res.Notes, fmt.Sprintf("%s is %s in the image", a, q))
			} else if hostRoot {
				if abs, err := filepath.Abs(a); err == nil {
					p = abs
				}
			}
			if _, err := rootfs.Realpath(fsys, p); err != nil {
				return nil, &FileError{Path: a, Err: err}
			}
			inputs = append(inputs, closure.Input{Path: p, Layer: closure.LayerApp})
		}
		tagName = path.Base(prog)
		// A listed path of a relative PROGRAM's tree is where the program is.
		var paths []string
		for _, p := range o.Paths {
			if p = place.traced(p); p != "" {
				paths = append(paths, p)
			}
		}
		if len(o.Traces) > 0 {
			entrypoint := o.Entrypoint
			if len(entrypoint) == 0 {
				entrypoint = []string{prog}
				if _, placed := place.image(arg); placed {
					// The program is under AppDir in the image only: the
					// run is of its host copy, whose tree is not a path to
					// add again.
					abs, err := filepath.Abs(arg)
					if err != nil {
						return nil, err
					}
					entrypoint = []string{abs}
				}
			}
			traced, traces, err := traceRuns(ctx, &o, fsys, place, entrypoint, traceEnv(common.env, common.cfg.User), common.cfg.WorkingDir, common.cfg.User)
			if err != nil {
				return nil, err
			}
			res.Traces = traces
			paths = append(paths, traced...)
		}
		used := pathInputs(fsys, paths)
		if len(used.missing) > 0 {
			if !o.AllowMissing {
				return nil, &MissingPathsError{Paths: used.missing}
			}
			for _, m := range used.missing {
				res.Missing = append(res.Missing, Missing{Name: m, Listed: true})
			}
		}
		res.Warnings = append(res.Warnings, used.warnings...)
		inputs = append(inputs, used.inputs...)
		j := job{arg: arg, program: prog, inputs: append(inputs, common.adds...), accounts: used.accounts}
		if len(platforms) == 0 && r.IsImage() {
			j.wantImage = r.Name
		}
		jobs = append(jobs, j)
	}

	if o.GoPackage != "" && len(o.Paths) > 0 {
		used := pathInputs(fsys, o.Paths)
		if len(used.missing) > 0 && !o.AllowMissing {
			return nil, &MissingPathsError{Paths: used.missing}
		}
		res.Warnings = append(res.Warnings, used.warnings...)
		for i := range jobs {
			jobs[i].inputs = append(jobs[i].inputs, used.inputs...)
			jobs[i].accounts = used.accounts
		}
	}
	if o.Archive != nil && len(jobs) > 1 {
		return nil, fmt.Errorf("%w, and %d are asked", ErrOneImage, len(jobs))
	}
	iopts := image.Options{Created: o.Created, Level: o.Level, Uncompressed: o.Uncompressed}
	res.Tag = withTag(o.Tag, tagName)
	want := r.Platform
	if len(platforms) == 1 {
		want = platforms[0]
	}
	common.root = r
	for _, m := range mounts {
		common.mounted = append(common.mounted, m.Dst)
	}
	dbg := &debugSource{o: &o, fsys: fsys, host: host, keep: func(paths []string) error { return r.KeepContents(ctx, paths) }}
	pk := &packages{root: r}
	for _, j := range jobs {
		img, sum, warnings, err := buildImage(ctx, &o, fsys, common, dbg, j, want, iopts)
		if err != nil {
			return nil, err
		}
		if o.PackageRecords || o.SBOM {
			var doc *sbom.Document
			var records int
			if img, doc, records, err = pk.apply(ctx, &o, img, o.Debug || len(o.DebugTools) > 0, iopts); err != nil {
				return nil, err
			}
			if o.SBOM {
				doc.Name = res.Tag
				doc.Created = o.Created
				res.SBOMs = append(res.SBOMs, doc)
			}
			sum.Layers += records
			// The image's files, the records included.
			sum.Files, sum.Bytes = doc.Totals()
		}
		res.Images = append(res.Images, img)
		res.Summaries = append(res.Summaries, sum)
		res.Warnings = append(res.Warnings, warnings...)
		for _, m := range sum.Missing {
			res.Missing = append(res.Missing, Missing{Name: m})
		}
	}
	if len(res.Images) > 1 {
		if res.Index, err = image.Index(res.Images, iopts); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// SplitPlatforms splits comma-separated platforms, trimmed, dropping empty
// ones and repeats: the --platform flag's values.
func SplitPlatforms(values []string) []string {
	var platforms []string
	for _, p := range values {
		for _, q := range strings.Split(p, ",") {
			if q = strings.TrimSpace(q); q != "" && !slices.Contains(platforms, q) {
				platforms = append(platforms, q)
			}
		}
	}
	return platforms
}

// withTag is the reference an image is named by: tag as given with the
// default ":latest" the writers add to a name without one (so "jq" reads
// "jq:latest", as docker load will list it), or NAME:latest when none is
// given.
func withTag(tag, name string) string {
	if tag == "" {
		return name + ":latest"
	}
	last := tag[strings.LastIndex(tag, "/")+1:]
	if strings.ContainsAny(last, ":@") {
		return tag
	}
	return tag + ":latest"
}
