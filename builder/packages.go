package builder

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/pkgdb"
	"github.com/fromscratch/fromscratch/rootsrc"
	"github.com/fromscratch/fromscratch/sbom"
)

// packages is the root whose package database tells where the files of
// the images come from.
type packages struct {
	root *rootsrc.Root
}

// apply lists img's files and packages and, with o.PackageRecords, adds
// the records layer on top (into o.Archive when there is one). It returns
// the image, its document and the number of layers it added.
//
// With debug, img's top layer is the --debug layer: the records of the
// layers below go under it, so that a debug image is the plain image's
// layers, byte for byte, and more on top: the debug layer, then the
// records of the packages it brings (only those that differ from the
// records below).
func (p *packages) apply(ctx context.Context, o *Options, img v1.Image, debug bool, iopts image.Options) (v1.Image, *sbom.Document, int, error) {
	fsys := p.root.FS
	layers, err := img.Layers()
	if err != nil {
		return nil, nil, 0, err
	}
	open := sbom.OpenFS(fsys)
	if !debug || !o.PackageRecords || len(layers) < 2 {
		doc, spec, err := p.list(ctx, o, open, layers, o.PackageRecords)
		if err != nil || spec == nil {
			return img, doc, 0, err
		}
		out, err := sbom.AppendLayer(ctx, o.Archive, img, *spec, iopts)
		return out, doc, 1, err
	}
	lower, top, err := withoutTop(img)
	if err != nil {
		return nil, nil, 0, err
	}
	_, below, err := p.list(ctx, o, open, layers[:len(layers)-1], true)
	if err != nil {
		return nil, nil, 0, err
	}
	doc, all, err := p.list(ctx, o, open, layers, true)
	if err != nil {
		return nil, nil, 0, err
	}
	added := 0
	if below != nil {
		if lower, err = sbom.AppendLayer(ctx, o.Archive, lower, *below, iopts); err != nil {
			return nil, nil, 0, err
		}
		added++
	}
	out, err := mutate.Append(lower, top)
	if err != nil {
		return nil, nil, 0, err
	}
	if all == nil {
		return out, doc, added, nil
	}
	if below != nil {
		all.Entries = sbom.NewEntries(all.Entries, below.Entries)
	}
	if len(all.Entries) == 0 {
		return out, doc, added, nil
	}
	all.CreatedBy, all.Comment = sbom.RecordsCreatedBy+" --debug", "the records of the packages the --debug layer brings"
	out, err = sbom.AppendLayer(ctx, o.Archive, out, *all, iopts)
	return out, doc, added + 1, err
}

// list lists the files and packages of layers and, with records, the
// records layer to put on top of them.
func (p *packages) list(ctx context.Context, o *Options, open sbom.Opener, layers []v1.Layer, records bool) (*sbom.Document, *image.LayerSpec, error) {
	var doc *sbom.Document
	var spec *image.LayerSpec
	var err error
	if o.SBOM {
		doc, spec, err = sbom.Apply(ctx, open, layers, records)
	} else {
		doc, spec, err = sbom.ApplyRecords(ctx, open, layers) // no SBOM: the records' checksums only
	}
	var pe *pkgdb.Error
	if errors.As(err, &pe) {
		named := *pe // the file named as the user sees it
		named.File = o.rootPath(pe.File)
		return nil, nil, &inputError{err: &named}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listing the image's files: %w", err)
	}
	return doc, spec, nil
}

// withoutTop splits img into the image of its layers but the top one (the
// same configuration, history and media types) and its top layer.
func withoutTop(img v1.Image) (v1.Image, mutate.Addendum, error) {
	var top mutate.Addendum
	layers, err := img.Layers()
	if err != nil {
		return nil, top, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, top, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, top, err
	}
	if len(cf.History) != len(layers) || len(m.Layers) != len(layers) {
		return nil, top, fmt.Errorf("build: %d layers, %d history entries", len(layers), len(cf.History))
	}
	base := mutate.MediaType(empty.Image, m.MediaType)
	base = mutate.ConfigMediaType(base, m.Config.MediaType)
	c := cf.DeepCopy()
	c.RootFS.DiffIDs, c.History = []v1.Hash{}, nil
	if base, err = mutate.ConfigFile(base, c); err != nil {
		return nil, top, err
	}
	adds := make([]mutate.Addendum, len(layers))
	for i, l := range layers {
		adds[i] = mutate.Addendum{Layer: l, History: cf.History[i], MediaType: m.Layers[i].MediaType}
	}
	lower, err := mutate.Append(base, adds[:len(adds)-1]...)
	return lower, adds[len(adds)-1], err
}
