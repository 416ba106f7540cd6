package squash

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/imagefs"
	"github.com/fromscratch/fromscratch/pkgdb"
	"github.com/fromscratch/fromscratch/sbom"
)

// DefaultLevel is the gzip level of the squashed layer when Options.Level
// is 0.
const DefaultLevel = 6

// Options tune [Squash].
type Options struct {
	// From is how many layers, from the bottom, are kept as they are; the
	// layers above are squashed into one. 0 squashes them all.
	From int
	// Level is the gzip level of the new layer, 1 to 9; 0 is DefaultLevel.
	Level int
	// Uncompressed writes the new layer as plain tar (see
	// image.Options.Uncompressed).
	Uncompressed bool
	// TempDir holds the new layer's unlinked temporary file ("" is
	// os.TempDir()).
	TempDir string
	// Jobs is how many layers are decompressed at once when merging.
	Jobs int
	// Name describes the image in messages.
	Name string
	// CreatedBy is the history's created_by of the new layer; "" gives
	// "fromscratch squash".
	CreatedBy string
	// PackageRecords adds a top layer with the records of the image's
	// packages unless it carries its package database already (see
	// package sbom); SBOM lists its files and packages in Result.SBOM.
	PackageRecords bool
	SBOM           bool
}

// LayersError is an Options.From out of the image's layers.
type LayersError struct {
	From, Layers int
}

func (e *LayersError) Error() string {
	return fmt.Sprintf("keep %d layers: the image has %d", e.From, e.Layers)
}

// Result describes a squash.
type Result struct {
	LayersBefore, LayersAfter int
	// Files and Bytes count the regular files of the squashed image and
	// their bytes.
	Files int
	Bytes int64
	// Squashed is the new layer; it also implements io.Closer (Close
	// releases its temporary file).
	Squashed v1.Layer
	// SBOM lists the squashed image's files and packages (Options.SBOM).
	SBOM *sbom.Document
}

// Squash returns img with its layers above opts.From merged into one.
// The configuration (entrypoint, cmd, env, user, working directory,
// labels, ...) is kept; the history keeps the entries of the kept layers
// (and the empty-layer entries among them) and gets one entry for the new
// layer. Manifest and layer media types follow img's (Docker or OCI). When
// there is nothing above From, the image is returned as it is.
func Squash(ctx context.Context, img v1.Image, opts Options) (v1.Image, *Result, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, nil, fmt.Errorf("reading layers: %w", err)
	}
	if opts.From < 0 || opts.From > len(layers) {
		return nil, nil, &LayersError{From: opts.From, Layers: len(layers)}
	}
	res := &Result{LayersBefore: len(layers), LayersAfter: len(layers)}
	if opts.From == len(layers) {
		return img, res, nil
	}
	level := opts.Level
	if level == 0 {
		level = DefaultLevel
	}
	vopts := imagefs.Options{TempDir: opts.TempDir, Jobs: opts.Jobs, SnapshotAfter: opts.From, Name: opts.Name, NoContent: true}
	if opts.PackageRecords || opts.SBOM {
		vopts.Keep = pkgdb.Wanted
	}
	view, err := imagefs.Open(ctx, img, vopts)
	if err != nil {
		return nil, nil, err
	}
	defer view.Close()
	for _, f := range view.Files() {
		if f.Mode.IsRegular() {
			res.Files++
			res.Bytes += f.Size
		}
	}

	mt, err := img.MediaType()
	if err != nil {
		return nil, nil, err
	}
	layerType := types.DockerLayer
	if mt == types.OCIManifestSchema1 {
		layerType = types.OCILayer
	}
	l, err := image.StreamLayer(ctx, image.Options{Level: level, Uncompressed: opts.Uncompressed, TempDir: opts.TempDir, OCIMediaTypes: layerType == types.OCILayer},
		func(tw *tar.Writer) error { return view.WriteSquashed(ctx, tw, layers, opts.From) })
	if err != nil {
		return nil, nil, err
	}
	// Kept layers read from a `docker save` archive are plain tar: gzip
	// them too unless the output is plain.
	kept := slices.Clone(layers[:opts.From])
	for i, k := range kept {
		if kept[i], err = image.Recompress(ctx, k, image.Options{Level: level, Uncompressed: opts.Uncompressed, TempDir: opts.TempDir, OCIMediaTypes: layerType == types.OCILayer}); err != nil {
			l.(io.Closer).Close()
			return nil, nil, fmt.Errorf("compressing layer %d: %w", i, err)
		}
	}
	out, err := assemble(img, mt, kept, l, opts)
	if err != nil {
		l.(io.Closer).Close()
		return nil, nil, err
	}
	res.LayersAfter = opts.From + 1
	res.Squashed = l
	if opts.PackageRecords || opts.SBOM {
		if out, err = packages(ctx, view, out, res, opts, layerType == types.OCILayer); err != nil {
			l.(io.Closer).Close()
			return nil, nil, err
		}
	}
	return out, res, nil
}

// assemble builds the new image: the kept layers, then l.
func assemble(img v1.Image, mt types.MediaType, kept []v1.Layer, l v1.Layer, opts Options) (v1.Image, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cfg = cfg.DeepCopy()
	// History: the entries up to the last kept layer's, then the new one.
	var hist []v1.History
	seen := 0
	for _, h := range cfg.History {
		if seen == len(kept) {
			break
		}
		hist = append(hist, h)
		if !h.EmptyLayer {
			seen++
		}
	}
	createdBy := opts.CreatedBy
	if createdBy == "" {
		createdBy = "fromscratch squash"
	}
	hist = append(hist, v1.History{Created: cfg.Created, CreatedBy: createdBy,
		Comment: fmt.Sprintf("layers %d to %d of the original image squashed into one", len(kept), len(cfg.RootFS.DiffIDs)-1)})
	cfg.History = hist
	diffID, err := l.DiffID()
	if err != nil {
		return nil, err
	}
	cfg.RootFS.DiffIDs = append(slices.Clone(cfg.RootFS.DiffIDs[:len(kept)]), diffID)

	base := mutate.MediaType(empty.Image, mt)
	if mt == types.OCIManifestSchema1 {
		base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	}
	adds := make([]mutate.Addendum, 0, len(kept)+1)
	for _, k := range kept {
		kmt, err := k.MediaType()
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: k, MediaType: kmt})
	}
	lmt, _ := l.MediaType()
	adds = append(adds, mutate.Addendum{Layer: l, MediaType: lmt})
	out, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, err
	}
	out, err = mutate.ConfigFile(out, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := out.Digest(); err != nil {
		return nil, err
	}
	return out, nil
}

// packages lists the squashed image's files and packages (the packages of
// the original image, read from view) and, with opts.PackageRecords, adds
// the records layer unless the image carries its package database already.
func packages(ctx context.Context, view *imagefs.FS, img v1.Image, res *Result, opts Options, oci bool) (v1.Image, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	doc, spec, err := sbom.Apply(ctx, sbom.OpenFS(view), layers, opts.PackageRecords)
	if err != nil {
		return nil, fmt.Errorf("listing the squashed image's files: %w", err)
	}
	if opts.SBOM {
		if cf, err := img.ConfigFile(); err == nil {
			doc.Created = cf.Created.Time
		}
		res.SBOM = doc
	}
	if spec == nil {
		return img, nil
	}
	level := opts.Level
	if level == 0 {
		level = DefaultLevel
	}
	res.LayersAfter++
	return sbom.AppendLayer(ctx, nil, img, *spec, image.Options{Level: level, Uncompressed: opts.Uncompressed, TempDir: opts.TempDir, OCIMediaTypes: oci})
}
