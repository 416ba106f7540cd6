package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
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
	var ref string
	if tag != "" {
		t, err := NormalizeTag(tag)
		if err != nil {
			return fmt.Errorf("writing layout %q: %w", dir, err)
		}
		ref = t.String()
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = newLayoutIndex(ctx, dir, ref, idx)
	case err != nil:
	case !fi.IsDir():
		err = errors.New("not a directory")
	case isLayout(dir):
		err = appendLayoutIndex(ctx, dir, ref, idx)
	default:
		ents, rerr := os.ReadDir(dir)
		switch {
		case rerr != nil:
			err = rerr
		case len(ents) > 0:
			err = errors.New("exists and is not an OCI image layout")
		default:
			err = newLayoutIndex(ctx, dir, ref, idx)
		}
	}
	if err != nil {
		return fmt.Errorf("writing layout %q: %w", dir, err)
	}
	return nil
}

func newLayoutIndex(ctx context.Context, dir, ref string, idx v1.ImageIndex) (err error) {
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return err
	}
	var opts []layout.Option
	if ref != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{RefNameAnnotation: ref}))
	}
	if err := p.AppendIndex(idx, opts...); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := unix.Rename(tmp, dir); err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: dir, Err: err}
	}
	return nil
}

func appendLayoutIndex(ctx context.Context, dir, ref string, idx v1.ImageIndex) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		return err
	}
	if err := p.WriteIndex(idx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ii, err := p.ImageIndex()
	if err != nil {
		return err
	}
	desc, err := partial.Descriptor(idx)
	if err != nil {
		return err
	}
	if ref != "" {
		desc.Annotations = map[string]string{RefNameAnnotation: ref}
		ii = mutate.RemoveManifests(ii, match.Annotation(RefNameAnnotation, ref))
	}
	ii = mutate.AppendManifests(ii, mutate.IndexAddendum{Add: idx, Descriptor: *desc})
	im, err := ii.IndexManifest()
	if err != nil {
		return err
	}
	raw, err := json.MarshalIndent(im, "", "   ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "index.json"), raw)
}

// PushIndex pushes idx and its images to ref as [Push] pushes an image, and
// returns the index as a digest reference.
func PushIndex(ctx context.Context, ref string, idx v1.ImageIndex, insecure bool) (string, error) {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return "", fmt.Errorf("pushing to %q: %w", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return "", fmt.Errorf("pushing to %q: %w", ref, err)
	}
	if err := remote.WriteIndex(r, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return "", fmt.Errorf("pushing to %q: %w", ref, err)
	}
	return r.Context().Digest(d.String()).String(), nil
}
