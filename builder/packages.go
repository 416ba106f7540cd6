package builder

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/pkgdb"
	"github.com/fromscratch/fromscratch/rootfs"
	"github.com/fromscratch/fromscratch/sbom"
)

// packages is the root whose package database tells where the files of
// the images come from.
type packages struct {
	root string
}

// apply lists img's files and packages and, with o.PackageRecords, adds
// the records layer on top (into o.Archive when there is one).
func (p *packages) apply(ctx context.Context, o *Options, img v1.Image, iopts image.Options) (v1.Image, *sbom.Document, error) {
	fsys, err := rootfs.Dir(p.root)
	if err != nil {
		return nil, nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, nil, err
	}
	apply := sbom.ApplyRecords // no SBOM: the records' checksums only
	if o.SBOM {
		apply = func(ctx context.Context, open sbom.Opener, layers []v1.Layer) (*sbom.Document, *image.LayerSpec, error) {
			return sbom.Apply(ctx, open, layers, o.PackageRecords)
		}
	}
	doc, spec, err := apply(ctx, sbom.OpenFS(fsys), layers)
	var pe *pkgdb.Error
	if errors.As(err, &pe) {
		named := *pe // the file named as the user sees it
		named.File = filepath.Join(p.root, pe.File)
		return nil, nil, badInputErr(err, "%v", &named)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("build: listing the image's files: %w", err)
	}
	if spec == nil {
		return img, doc, nil
	}
	out, err := sbom.AppendLayer(ctx, o.Archive, img, *spec, iopts)
	return out, doc, err
}
