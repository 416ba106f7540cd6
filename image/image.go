package image

import (
	"fmt"
	"maps"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Config is the runtime configuration of an image.
type Config struct {
	// Entrypoint and Cmd are the command run, in exec form.
	Entrypoint, Cmd []string
	// Env is the environment, "KEY=value" strings, in order. Nothing is
	// added: a runtime such as Docker supplies a default PATH when it has
	// none.
	Env []string
	// WorkingDir is the initial working directory ("" is "/").
	WorkingDir string
	// User is "user", "uid", "user:group" or "uid:gid".
	User string
	// Labels are the image's labels.
	Labels map[string]string
	// OS is the image's operating system; "" means "linux".
	OS string
	// Architecture ("amd64", "arm64", "arm", ...) and Variant ("v7", ...)
	// are the platform in OCI (GOARCH) terms; see program.Platform.
	// Architecture is required.
	Architecture, Variant string
}

// Image assembles layers, bottom first, into an image on empty.Image, with
// Docker schema 2 media types (manifest, config and layers; OCI ones with
// opts.OCIMediaTypes): runtime configuration cfg,
// created time opts.Created, rootfs diff_ids of the layers and one history
// entry per layer (created opts.Created, created_by and comment from the
// layer's spec, empty_layer false). specs must be nil or match layers one to
// one.
//
// Image copies cfg, so later changes to its slices and map do not change the
// image. The digest is computed before returning, from the layers' known
// digests.
func Image(layers []v1.Layer, specs []LayerSpec, cfg Config, opts Options) (v1.Image, error) {
	if specs != nil && len(specs) != len(layers) {
		return nil, fmt.Errorf("building image: %d layers but %d layer specs", len(layers), len(specs))
	}
	if cfg.Architecture == "" {
		return nil, fmt.Errorf("building image: no architecture")
	}
	os := cfg.OS
	if os == "" {
		os = "linux"
	}
	created := v1.Time{Time: opts.created()}

	manifestType, configType, layerType := opts.mediaTypes()
	img := mutate.MediaType(empty.Image, manifestType)
	img = mutate.ConfigMediaType(img, configType)
	img, err := mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: cfg.Architecture,
		Variant:      cfg.Variant,
		OS:           os,
		Created:      created,
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{}},
		Config: v1.Config{
			Entrypoint: slices.Clone(cfg.Entrypoint),
			Cmd:        slices.Clone(cfg.Cmd),
			Env:        slices.Clone(cfg.Env),
			WorkingDir: cfg.WorkingDir,
			User:       cfg.User,
			Labels:     maps.Clone(cfg.Labels),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("building image: %w", err)
	}
	adds := make([]mutate.Addendum, len(layers))
	for i, l := range layers {
		if l == nil {
			return nil, fmt.Errorf("building image: layer %d is nil", i)
		}
		adds[i] = mutate.Addendum{Layer: l, History: v1.History{Created: created}, MediaType: layerType}
		if specs != nil {
			adds[i].History.CreatedBy = specs[i].CreatedBy
			adds[i].History.Comment = specs[i].Comment
		}
	}
	img, err = mutate.Append(img, adds...)
	if err != nil {
		return nil, fmt.Errorf("building image: %w", err)
	}
	if _, err := img.Digest(); err != nil {
		return nil, fmt.Errorf("building image: %w", err)
	}
	return img, nil
}
