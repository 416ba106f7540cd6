package image

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Index combines images, one per platform, into an image index: a Docker
// manifest list (types.DockerManifestList), or an OCI index with
// opts.OCIMediaTypes. Each manifest's descriptor carries the platform of
// its image's config (os, architecture, variant), in the order given. Two
// images of one platform are an error.
func Index(imgs []v1.Image, opts Options) (v1.ImageIndex, error) {
	if len(imgs) == 0 {
		return nil, errors.New("building index: no image")
	}
	mt := types.DockerManifestList
	if opts.OCIMediaTypes {
		mt = types.OCIImageIndex
	}
	idx := mutate.IndexMediaType(empty.Index, mt)
	seen := map[string]bool{}
	adds := make([]mutate.IndexAddendum, len(imgs))
	for i, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("building index: image %d: %w", i, err)
		}
		p := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
		if seen[p.String()] {
			return nil, fmt.Errorf("building index: two images for %s", p.String())
		}
		seen[p.String()] = true
		desc, err := partial.Descriptor(img)
		if err != nil {
			return nil, fmt.Errorf("building index: image %d: %w", i, err)
		}
		desc.Platform = &p
		adds[i] = mutate.IndexAddendum{Add: img, Descriptor: *desc}
	}
	idx = mutate.AppendManifests(idx, adds...)
	if _, err := idx.Digest(); err != nil {
		return nil, fmt.Errorf("building index: %w", err)
	}
	return idx, nil
}

// WriteOCILayoutIndex writes idx into the OCI image layout at dir, as
// [WriteOCILayout] writes an image: index.json names it by tag (normalized
// as by [NormalizeTag]; "" for no name) and points at it, the index
// whose manifests are the images; a new layout is staged and renamed into
// place, an existing one gets the blobs and an atomically replaced
// index.json (any entry of the same name is replaced).
func WriteOCILayoutIndex(ctx context.Context, dir, tag string, idx v1.ImageIndex) error {
	return writeLayout(ctx, dir, tag, artifact{
		Appendable: idx,
		appendTo:   func(p layout.Path, o ...layout.Option) error { return p.AppendIndex(idx, o...) },
		writeTo:    func(p layout.Path) error { return p.WriteIndex(idx) },
	})
}
