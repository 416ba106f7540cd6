package builder

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

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
// the records layer on top (into o.Archive when there is one).
func (p *packages) apply(ctx context.Context, o *Options, img v1.Image, iopts image.Options) (v1.Image, *sbom.Document, error) {
	fsys := p.root.FS
	layers, err := img.Layers()
	if err != nil {
		return nil, nil, err
	}
	doc, spec, err := sbom.Apply(ctx, sbom.OpenFS(fsys), layers, o.PackageRecords)
	var pe *pkgdb.Error
	if errors.As(err, &pe) {
		named := *pe // the file named as the user sees it
		named.File = o.rootPath(pe.File)
		return nil, nil, &inputError{err: &named}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listing the image's files: %w", err)
	}
	if spec == nil {
		return img, doc, nil
	}
	out, err := sbom.AppendLayer(ctx, o.Archive, img, *spec, iopts)
	return out, doc, err
}
