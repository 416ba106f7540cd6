package slim

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/doctor"
	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/imagefs"
	"github.com/fromscratch/fromscratch/pkgdb"
	"github.com/fromscratch/fromscratch/rootfs"
	"github.com/fromscratch/fromscratch/sbom"
)

// Options tune [Slim].
type Options struct {
	// Keep are paths of the image (files or directories, followed inside
	// the image) to keep besides what the entrypoint needs.
	Keep []string
	// Created is the time written everywhere (see [image.Options]).
	Created time.Time
	// Level is the gzip level of the new layers (0: the default).
	Level int
	// Uncompressed writes the new layers as plain tar (see
	// image.Options.Uncompressed).
	Uncompressed bool
	// TempDir is where kept contents and layers are staged.
	TempDir string
	// Name describes the image in messages.
	Name string
	// Entrypoint, when not nil, replaces the image's entrypoint (and
	// clears its Cmd, as docker run --entrypoint does); Cmd, when not nil,
	// replaces its Cmd. The slim image keeps what they need and runs them.
	Entrypoint, Cmd []string
	// Traced are paths of the image a run of the program used (see
	// package tracer): each is kept, with its ELF closure and the symbolic
	// links on the way; a directory without its contents ("DIR/*": with
	// its direct entries, see closure.EntryInputs).
	Traced []string
	// Exclude are globs of paths to leave out (see
	// closure.Options.Exclude).
	Exclude []string
	// PackageRecords adds a top layer with the records of the image's
	// packages that the slim image holds files of (see package sbom);
	// SBOM lists its files and packages in Result.SBOM.
	PackageRecords bool
	SBOM           bool
}

// Result describes a slimmed image.
type Result struct {
	// Program is the file the entrypoint executes; Chain the #!
	// interpreters followed, then the ELF file.
	Program string
	Chain   []string
	// BytesBefore and BytesAfter are the images' uncompressed layer bytes.
	BytesBefore, BytesAfter int64
	// Files is how many regular files the slim image holds; Layers its
	// layers.
	Files, Layers int
	// Bytes is the regular files' bytes.
	Bytes int64
	// Excluded are the paths Options.Exclude left out.
	Excluded []string
	// SBOM lists the slim image's files and packages (Options.SBOM).
	SBOM *sbom.Document
}

// Errors callers branch on.
var (
	// ErrBadKeep is returned (in a *KeepError) when a path to keep is not
	// in the image.
	ErrBadKeep = errors.New("not in the image")
	// ErrKeepRelative is returned (in a *KeepError) when a path to keep
	// is not absolute.
	ErrKeepRelative = errors.New("want an absolute path of the image")
)

// KeepError is a path of Options.Keep that cannot be kept; Err is
// ErrBadKeep or ErrKeepRelative.
type KeepError struct {
	Path string
	Err  error
}

func (e *KeepError) Error() string { return fmt.Sprintf("keep %q: %v", e.Path, e.Err) }

func (e *KeepError) Unwrap() error { return e.Err }

// StartError says that an entrypoint cannot start: the original image's
// (Original), or the slim image's while the original's can.
type StartError struct {
	Original bool
	Report   *doctor.Report
}

func (e *StartError) Error() string {
	msg := "the entrypoint cannot start"
	for _, p := range e.Report.Problems {
		if !p.Warning {
			msg = p.Message
			break
		}
	}
	if e.Original {
		return "the image's entrypoint cannot start already: " + msg
	}
	return "the slim image would not start (" + msg + ") while the original would"
}

// Slim returns img cut down to what its entrypoint needs, with img's
// configuration (entrypoint, cmd, env, user, working directory, labels,
// exposed ports, volumes...) and at most three layers, split as build
// splits them: the loader, the C library and the runtime files; the other
// libraries; the program and the kept files. It keeps the program the
// entrypoint runs (looked up in the image's PATH, as doctor does), its #!
// interpreters, the libraries and loader they need, the image's
// /etc/passwd, /etc/group and /etc/nsswitch.conf, the working directory,
// /tmp, and opts.Keep. Owners and modes are the image's; times are
// opts.Created.
//
// img is read twice, layer by layer: once for the merged view, once more
// for the contents of the kept files the view does not hold (see
// [imagefs.FS.KeepContents]). Errors: a [*StartError] when the original
// image cannot start or the slim one would not; [closure.ErrMissing]
// (wrapped) when a library is not in the image; a [*KeepError] for a
// path of Options.Keep.
func Slim(ctx context.Context, img v1.Image, opts Options) (v1.Image, *Result, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, nil, fmt.Errorf("reading config: %w", err)
	}
	if opts.Entrypoint != nil || opts.Cmd != nil {
		cf = cf.DeepCopy()
		if opts.Entrypoint != nil {
			cf.Config.Entrypoint, cf.Config.Cmd = opts.Entrypoint, nil
		}
		if opts.Cmd != nil {
			cf.Config.Cmd = opts.Cmd
		}
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, nil, fmt.Errorf("reading layers: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, nil, fmt.Errorf("reading manifest: %w", err)
	}
	vopts := imagefs.Options{TempDir: opts.TempDir, Name: opts.Name}
	if opts.PackageRecords || opts.SBOM {
		vopts.Keep = pkgdb.Wanted
	}
	view, err := imagefs.Open(ctx, img, vopts)
	if err != nil {
		return nil, nil, err
	}
	defer view.Close()
	res := &Result{}
	for _, s := range view.Layers {
		res.BytesBefore += s.UncompressedSize
	}

	dcfg := doctor.Config{
		Entrypoint: cf.Config.Entrypoint, Cmd: cf.Config.Cmd, Env: cf.Config.Env,
		User: cf.Config.User, WorkingDir: cf.Config.WorkingDir,
		Architecture: cf.Architecture, Variant: cf.Variant,
	}
	orig := doctor.Diagnose(view, dcfg)
	if !orig.Healthy() || orig.Program == "" {
		return nil, nil, &StartError{Original: true, Report: orig}
	}
	res.Program, res.Chain = orig.Program, orig.Chain

	plan, err := compute(view, orig.Program, cf.Config.WorkingDir, cf.Config.Env, opts.Keep, opts.Traced, opts.Exclude)
	if err != nil {
		return nil, nil, err
	}
	res.Excluded = plan.Excluded
	tree := rootfs.NewTree()
	var contents []string
	for l := range plan.Layers {
		for i := range plan.Layers[l] {
			it := &plan.Layers[l][i]
			if uid, gid, ok := view.Owner(it.Path); ok {
				it.UID, it.GID = uid, gid
			}
			switch it.Kind {
			case closure.Dir:
				tree.AddDir(it.Path, it.Mode)
			case closure.Symlink:
				tree.AddSymlink(it.Path, it.Target)
			case closure.File:
				if it.SourceFS != nil {
					tree.AddFile(it.Path, it.Mode, it.SourceFS, it.SourcePath, it.Size)
					contents = append(contents, it.SourcePath)
				} else {
					tree.AddData(it.Path, it.Mode, it.Data)
				}
				res.Files++
				res.Bytes += it.Size
			}
		}
	}
	if rep := doctor.Diagnose(tree, dcfg); !rep.Healthy() {
		return nil, nil, &StartError{Report: rep}
	}
	if err := view.KeepContents(ctx, layers, contents); err != nil {
		return nil, nil, err
	}

	iopts := image.Options{Created: opts.Created, Level: opts.Level, Uncompressed: opts.Uncompressed, TempDir: opts.TempDir, OCIMediaTypes: mt == types.OCIManifestSchema1}
	var out []v1.Layer
	var specs []image.LayerSpec
	if p := image.ProgressFrom(ctx); p != nil {
		for _, items := range plan.Layers {
			_, n := closure.FileBytes(items)
			p.Grow(n)
		}
	}
	for l, items := range plan.Layers {
		if len(items) == 0 {
			continue
		}
		spec := closure.Spec("fromscratch slim: "+closure.LayerNames[l], items)
		layer, err := image.LayerContext(ctx, view, spec, iopts)
		if err != nil {
			return nil, nil, fmt.Errorf("writing layer %d: %w", len(out), err)
		}
		if u, ok := layer.(interface{ UncompressedSize() (int64, error) }); ok {
			n, _ := u.UncompressedSize()
			res.BytesAfter += n
		}
		out = append(out, layer)
		specs = append(specs, spec)
	}
	if opts.PackageRecords || opts.SBOM {
		doc, spec, err := sbom.Apply(ctx, sbom.OpenFS(view), out, opts.PackageRecords)
		if err != nil {
			return nil, nil, fmt.Errorf("listing the slim image's files: %w", err)
		}
		if spec != nil {
			layer, err := image.LayerContext(ctx, rootfs.NewTree(), *spec, iopts)
			if err != nil {
				return nil, nil, fmt.Errorf("writing the package records: %w", err)
			}
			out = append(out, layer)
			specs = append(specs, *spec)
		}
		res.Files, res.Bytes = doc.Totals()
		if opts.SBOM {
			doc.Created = opts.Created
			res.SBOM = doc
		}
	}
	res.Layers = len(out)
	slim, err := assemble(cf, out, specs, iopts)
	if err != nil {
		return nil, nil, err
	}
	return slim, res, nil
}

// compute plans the slim image over the view; env is the image's, whose
// PATH finds what a #! line's env runs, as doctor finds it.
func compute(view rootfs.FS, program, workdir string, env, keep, traced, exclude []string) (*closure.Plan, error) {
	inputs := []closure.Input{{Path: program, Layer: closure.LayerApp}}
	for _, k := range keep {
		if !strings.HasPrefix(k, "/") {
			return nil, &KeepError{Path: k, Err: ErrKeepRelative}
		}
		if _, err := rootfs.Realpath(view, k); err != nil {
			return nil, &KeepError{Path: k, Err: ErrBadKeep}
		}
		inputs = append(inputs, closure.Input{Path: rootfs.Clean(k), Layer: closure.LayerApp})
	}
	for _, p := range traced {
		// The root is there anyway; a path gone since (removed by the
		// run) is not kept. A directory listed for its names ("DIR/*")
		// comes with its direct entries, up to closure.MaxWhole bytes of
		// them (the probes' check on the slim image shows whether a
		// bigger one was needed: --keep).
		whole := strings.HasSuffix(p, closure.WholeSuffix)
		if p = rootfs.Clean(strings.TrimSuffix(p, closure.WholeSuffix)); p == "/" {
			continue
		}
		if _, err := rootfs.Realpath(view, p); err == nil {
			inputs = append(inputs, closure.Input{Path: p, Layer: closure.LayerApp, Shallow: true})
		}
		if !whole {
			continue
		}
		if entries, size := closure.EntryInputs(view, p, closure.LayerApp, nil); size <= closure.MaxWhole {
			inputs = append(inputs, entries...)
		}
	}
	for _, p := range []string{"/etc/passwd", "/etc/group", "/etc/nsswitch.conf"} {
		if real, err := rootfs.Realpath(view, p); err == nil {
			if fi, err := view.Lstat(real); err == nil && fi.Mode().IsRegular() {
				inputs = append(inputs, closure.Input{Path: p, Layer: closure.LayerBase})
			}
		}
	}
	var extra []closure.Item
	dirMode := func(p string, def fs.FileMode) fs.FileMode {
		if fi, err := view.Lstat(p); err == nil && fi.IsDir() {
			return fi.Mode() & (fs.ModePerm | fs.ModeSticky | fs.ModeSetgid | fs.ModeSetuid)
		}
		return def
	}
	extra = append(extra, closure.Item{Path: "/tmp", Kind: closure.Dir, Mode: dirMode("/tmp", 0o777|fs.ModeSticky)})
	if wd := rootfs.Clean(workdir); workdir != "" && wd != "/" && wd != "/tmp" {
		// The directory itself (Docker would make it 0755 root); its
		// files only with --keep.
		if real, err := rootfs.Realpath(view, wd); err == nil && real == wd {
			if fi, err := view.Lstat(wd); err == nil && fi.IsDir() {
				extra = append(extra, closure.Item{Path: wd, Kind: closure.Dir, Mode: dirMode(wd, 0o755)})
			}
		}
	}
	plan, err := closure.Compute(view, inputs, extra, closure.Options{Exclude: exclude, Env: env})
	if err != nil {
		return nil, err
	}
	return plan, nil
}

// assemble puts the layers together under the original configuration: the
// runtime config as it was, the platform, a history entry per new layer.
func assemble(orig *v1.ConfigFile, layers []v1.Layer, specs []image.LayerSpec, iopts image.Options) (v1.Image, error) {
	img, err := image.Image(layers, specs, image.Config{OS: orig.OS, Architecture: orig.Architecture, Variant: orig.Variant}, iopts)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	o := orig.DeepCopy()
	cf.Config = o.Config
	cf.Author = o.Author
	cf.OSVersion, cf.OSFeatures = o.OSVersion, o.OSFeatures
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("building image: %w", err)
	}
	if _, err := img.Digest(); err != nil {
		return nil, fmt.Errorf("building image: %w", err)
	}
	return img, nil
}
