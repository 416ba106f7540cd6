// Package inspect computes what `fromscratch inspect` shows of an image:
// its layers (what each made, added, changed, removed and wasted), its
// totals and efficiency, the wasted files, the largest files (hard-linked
// names as one), its run configuration, what its entrypoint is, the
// packages its records name, and whether it passes size gates. The CLI
// only words the [Report]: its JSON form is the report of `inspect --json`.
//
// Wasted bytes are the content bytes of regular files that are not in the
// final filesystem: a copy of a path overwritten by a later (or the same)
// layer, and files deleted by a later layer's whiteout, the files under a
// deleted directory included. A content hard linked under a name that
// survives is not wasted, and hard links add no bytes. Efficiency is
// 1 - wasted / total, where total is the content bytes of regular files
// over all layers (1 for an image without files).
package inspect

import (
	"context"
	"fmt"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/imagefs"
	"github.com/fromscratch/fromscratch/pkgdb"
)

// Options tune [Read].
type Options struct {
	// Name is the image's reference, in Report.Image and in messages.
	Name string
	// Top is how many of the largest files (none for Top <= 0) and of the
	// wasted files (every one for Top < 0) the report lists.
	Top int
	// Gates are the limits the image is checked against
	// (Report.Crossed).
	Gates Gates
	// TempDir is where the view keeps contents it reads ("" means
	// os.TempDir()).
	TempDir string
}

// Report is what inspect shows of an image. Its JSON form is the stable
// shape of `fromscratch inspect --json` (see DESIGN.md), which adds the
// crossed gates in words ("problems").
type Report struct {
	Image         string               `json:"image"`
	Platform      string               `json:"platform"` // os/arch[/variant] of the config
	Layers        []imagefs.LayerStats `json:"layers"`
	Size          int64                `json:"size"`              // compressed bytes of the layers
	Uncompressed  int64                `json:"uncompressed_size"` // tar bytes of the layers
	TotalBytes    int64                `json:"total_bytes"`       // regular files' content over all layers
	WastedBytes   int64                `json:"wasted_bytes"`
	WastedPercent float64              `json:"wasted_percent"`
	Efficiency    float64              `json:"efficiency"`
	WastedFiles   []imagefs.Waste      `json:"wasted_files"`
	Largest       []imagefs.File       `json:"largest"`
	Entrypoint    Entrypoint           `json:"entrypoint"`
	Config        Config               `json:"config"`
	Packages      []Package            `json:"packages"` // largest first
	// UnpackagedBytes are the bytes of the regular files no package owns.
	UnpackagedBytes int64 `json:"unpackaged_bytes"`
	// Crossed are the gates of Options.Gates the image does not pass.
	Crossed []Gate `json:"-"`
}

// Config is the image's run configuration.
type Config struct {
	Entrypoint   []string          `json:"entrypoint"`
	Cmd          []string          `json:"cmd"`
	Env          []string          `json:"env"`
	User         string            `json:"user"`
	WorkingDir   string            `json:"workdir"`
	ExposedPorts []string          `json:"exposed_ports"` // sorted
	Labels       map[string]string `json:"labels,omitempty"`
}

// Read reads every layer of img once and returns its report. An error
// reading the config is wrapped in "reading config: "; a layer's is an
// [*imagefs.LayerError].
func Read(ctx context.Context, img v1.Image, opts Options) (*Report, error) {
	view, err := imagefs.Open(ctx, img, imagefs.Options{Name: opts.Name, Sizes: true, Keep: pkgdb.Wanted, TempDir: opts.TempDir})
	if err != nil {
		return nil, err
	}
	defer view.Close()
	// The config after the layers: the engine's save stream may send it
	// last (see imagesrc).
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}

	r := &Report{Image: opts.Name, Platform: cfg.OS + "/" + cfg.Architecture, Layers: view.Layers}
	if cfg.Variant != "" {
		r.Platform += "/" + cfg.Variant
	}
	r.total()
	if r.Largest = view.Largest(opts.Top); r.Largest == nil {
		r.Largest = []imagefs.File{}
	}
	r.WastedFiles = view.Wasted(opts.Top)
	r.Config = configOf(cfg.Config)
	r.Entrypoint = entrypointOf(view, append(append([]string{}, cfg.Config.Entrypoint...), cfg.Config.Cmd...), cfg.Config.Env)
	if r.Packages, r.UnpackagedBytes, err = packagesOf(view); err != nil {
		return nil, err
	}
	r.Crossed = r.Check(opts.Gates)
	return r, nil
}

// total sums the layers' sizes and computes the efficiency.
func (r *Report) total() {
	for _, l := range r.Layers {
		r.Size += l.Size
		r.Uncompressed += l.UncompressedSize
		r.TotalBytes += l.Bytes
		r.WastedBytes += l.WastedBytes
	}
	r.Efficiency = 1
	if r.TotalBytes > 0 {
		r.WastedPercent = 100 * float64(r.WastedBytes) / float64(r.TotalBytes)
		r.Efficiency = 1 - float64(r.WastedBytes)/float64(r.TotalBytes)
	}
}

// configOf is c for the report: lists never nil, ports sorted.
func configOf(c v1.Config) Config {
	cfg := Config{Entrypoint: nonNil(c.Entrypoint), Cmd: nonNil(c.Cmd), Env: nonNil(c.Env), User: c.User,
		WorkingDir: c.WorkingDir, ExposedPorts: []string{}, Labels: c.Labels}
	for p := range c.ExposedPorts {
		cfg.ExposedPorts = append(cfg.ExposedPorts, p)
	}
	sort.Strings(cfg.ExposedPorts)
	return cfg
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
