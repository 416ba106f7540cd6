package builder

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/pkgdb"
	"github.com/fromscratch/fromscratch/rootfs"
	"github.com/fromscratch/fromscratch/sbom"
)

// packages is the package database of the root, read once for all the
// images of a build.
type packages struct {
	root string
	db   *pkgdb.DB
}

// apply lists img's files and packages and, with o.PackageRecords, adds
// the records layer on top (into o.Archive when there is one).
func (p *packages) apply(ctx context.Context, o *Options, img v1.Image, iopts image.Options) (v1.Image, *sbom.Document, error) {
	if p.db == nil {
		fsys, err := rootfs.Dir(p.root)
		if err != nil {
			return nil, nil, err
		}
		if p.db, err = pkgdb.Open(fsys); err != nil {
			return nil, nil, badInputErr(err, "%s: %v", p.root, err)
		}
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, nil, err
	}
	doc, spec, err := sbom.Apply(ctx, p.db, layers, o.PackageRecords)
	if err != nil {
		return nil, nil, fmt.Errorf("build: listing the image's files: %w", err)
	}
	if spec == nil {
		return img, doc, nil
	}
	out, err := sbom.AppendLayer(ctx, o.Archive, img, *spec, iopts)
	return out, doc, err
}
