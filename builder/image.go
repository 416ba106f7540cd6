package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/debuglayer"
	"github.com/fromscratch/fromscratch/doctor"
	"github.com/fromscratch/fromscratch/gobuild"
	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/ldso"
	"github.com/fromscratch/fromscratch/program"
	"github.com/fromscratch/fromscratch/rootfs"
)

// buildImage plans the image of one job: the closure's layers, then with
// --debug the debug layer on top. want is the --platform asked for a
// PROGRAM. It returns the image, its summary and the warnings.
func buildImage(ctx context.Context, o *Options, fsys rootfs.FS, c *spec, dbg *debugSource, j job,
	want string, iopts image.Options) (v1.Image, Summary, []string, error) {
	copts := closure.Options{
		Ldso:         ldso.Options{UseConf: o.LDConfig},
		AllowMissing: o.AllowMissing,
		BaselineOnly: o.HWCapsBaseline,
		Exclude:      o.Exclude,
		Env:          c.env,
	}
	extra := c.extraFor(fsys, j)
	plan, err := closure.Compute(fsys, append(slices.Clone(j.inputs), c.base...), extra, copts)
	if err != nil {
		if errors.Is(err, closure.ErrMissing) {
			return nil, Summary{}, nil, err
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, Summary{}, nil, &FileError{Path: pe.Path, Err: err}
		}
		return nil, Summary{}, nil, &inputError{err: err}
	}
	var added []AddedPackage
	if o.Packages || len(o.PackageNames) > 0 {
		inputs, items, pk, err := packageInputs(o, fsys, plan)
		if err != nil {
			return nil, Summary{}, nil, err
		}
		first := plan
		all := append(append(slices.Clone(j.inputs), c.base...), inputs...)
		if plan, err = closure.Compute(fsys, all, append(slices.Clone(extra), items...), copts); err != nil {
			if errors.Is(err, closure.ErrMissing) {
				return nil, Summary{}, nil, err
			}
			return nil, Summary{}, nil, &OptionError{Option: "Packages", Err: err}
		}
		added = pk.brought(first, plan)
	}
	warnings := slices.Clone(plan.Warnings)

	cfg := c.cfg
	cfg.Labels = maps.Clone(c.cfg.Labels)
	cfg.Env = slices.Clone(c.env)
	if err := setPlatform(&cfg, plan, j, want); err != nil {
		return nil, Summary{}, nil, err
	}
	if cfg.Entrypoint == nil {
		cfg.Entrypoint = []string{j.program}
	}

	work := planLayers(plan, j)
	if o.Debug || len(o.DebugTools) > 0 {
		items, err := dbg.items(cfg.Architecture, plan, copts)
		if err != nil {
			return nil, Summary{}, nil, err
		}
		work = append(work, layerWork{"fromscratch build --debug: busybox and debugging tools", items})
		cfg.Env = debuglayer.ExtendPath(cfg.Env, program.DefaultPath)
	}
	var layerItems [][]closure.Item
	for _, w := range work {
		layerItems = append(layerItems, w.items)
	}
	more, err := checkStart(o, closure.Tree(layerItems...), cfg, j.arg)
	if err != nil {
		return nil, Summary{}, nil, err
	}
	warnings = append(warnings, more...)
	sum := Summary{Excluded: plan.Excluded, Packages: added, Missing: plan.Missing}
	layers := make([]v1.Layer, len(work))
	specs := make([]image.LayerSpec, len(work))
	for i, w := range work {
		specs[i] = closure.Spec(w.createdBy, w.items)
		files, bytes := closure.FileBytes(w.items)
		sum.Files += files
		sum.Bytes += bytes
	}
	if p := image.ProgressFrom(ctx); p != nil {
		p.Grow(sum.Bytes)
	}
	if err := keepContents(ctx, c, fsys, layerItems); err != nil {
		return nil, Summary{}, nil, err
	}
	if err := writeLayers(ctx, o.Archive, fsys, specs, iopts, layers); err != nil {
		return nil, Summary{}, nil, err
	}
	img, err := image.Image(layers, specs, cfg, iopts)
	if err != nil {
		return nil, Summary{}, nil, err
	}
	sum.Layers = len(layers)
	sum.Platform = cfg.OS + "/" + cfg.Architecture
	if cfg.Variant != "" {
		sum.Platform += "/" + cfg.Variant
	}
	return img, sum, warnings, nil
}

// writeLayers writes a layer of each spec into layers: into archive one
// after the other when there is one, or else into temporary files (plain tar
// layers side by side; a gzip layer already keeps every core busy).
func writeLayers(ctx context.Context, archive *image.ArchiveWriter, fsys rootfs.FS, specs []image.LayerSpec, iopts image.Options, layers []v1.Layer) error {
	if archive != nil {
		for i := range specs {
			var err error
			if layers[i], err = archive.Layer(ctx, fsys, specs[i], iopts); err != nil {
				return err
			}
		}
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	if !iopts.Uncompressed {
		g.SetLimit(1)
	}
	for i := range specs {
		g.Go(func() error {
			layer, err := image.LayerContext(gctx, fsys, specs[i], iopts)
			if err != nil {
				return err
			}
			layers[i] = layer
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		for _, l := range layers {
			if c, ok := l.(io.Closer); ok {
				c.Close() // the layers that were done: their temporary files
			}
		}
		return err
	}
	return nil
}

// setPlatform sets cfg's architecture from the program's ELF header, and
// checks it against the platform a Go program was built for or the one
// asked for (want).
func setPlatform(cfg *image.Config, plan *closure.Plan, j job, want string) error {
	if plan.Info != nil {
		arch, variant, ok := program.Platform(plan.Info)
		if !ok {
			return &FileError{Path: j.arg, Err: fmt.Errorf("no OCI platform for %s", program.Machine(plan.Info))}
		}
		cfg.Architecture, cfg.Variant = arch, variant
	}
	if goPlat := j.platform; goPlat != nil {
		if cfg.Architecture != goPlat.Architecture {
			return &PlatformError{Path: j.arg, Got: "linux/" + cfg.Architecture, Want: gobuild.PlatformString(*goPlat)}
		}
		cfg.Architecture, cfg.Variant = goPlat.Architecture, goPlat.Variant
	} else if want != "" {
		want := strings.TrimPrefix(want, "linux/")
		got := cfg.Architecture
		if cfg.Variant != "" {
			got += "/" + cfg.Variant
		}
		if cfg.Architecture != "" && want != got && want != cfg.Architecture {
			return &PlatformError{Path: j.arg, Got: "linux/" + got, Want: "linux/" + want, Image: j.wantImage}
		}
		if cfg.Architecture == "" {
			a, v, _ := strings.Cut(want, "/")
			cfg.Architecture, cfg.Variant = a, v
		}
	}
	if cfg.Architecture == "" {
		return &FileError{Path: j.arg, Err: ErrNoPlatform}
	}
	return nil
}

// checkStart diagnoses the planned image as doctor would, with its final
// configuration: an entrypoint, user or working directory that cannot work
// is an ErrWouldNotStart error naming the problem; warnings are returned.
// With AllowMissing, a missing library or loader is a warning.
func checkStart(o *Options, tree rootfs.FS, cfg image.Config, arg string) ([]string, error) {
	rep := doctor.Diagnose(tree, doctor.Config{
		Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd, Env: cfg.Env, User: cfg.User,
		WorkingDir: cfg.WorkingDir, Architecture: cfg.Architecture, Variant: cfg.Variant,
	})
	var warnings []string
	for _, p := range rep.Problems {
		if p.Warning || o.NoCheck || o.AllowMissing && (p.Check == "library" || p.Check == "loader") {
			warnings = append(warnings, p.Message)
			continue
		}
		return nil, &StartError{Program: arg, Problem: p}
	}
	return warnings, nil
}
