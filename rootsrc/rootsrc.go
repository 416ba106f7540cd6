// Package rootsrc opens the root filesystem a command takes programs and
// libraries from: a host directory, or an image named by any reference
// package imagesrc reads (docker-archive:PATH, oci-layout:DIR,
// docker-daemon:NAME, a registry reference, a bare name looked for in the
// Docker engine first). An image is not extracted: its layers are merged
// into an [imagefs.FS] view that keeps what the loader emulation reads (ELF
// headers, /etc, script heads); [Root.KeepContents] reads the layers once
// more for the whole contents of the files a command copies.
//
// Every command with --root opens it here (build, ldd, doctor --run's
// reference root), so they all accept the same values.
package rootsrc

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/imagefs"
	"github.com/fromscratch/fromscratch/imagesrc"
	"github.com/fromscratch/fromscratch/rootfs"
)

// Options tune [Open].
type Options struct {
	// Platform picks one image of a multi-platform index (see
	// imagesrc.Options.Platform); a PLATFORM=ROOT value's platform wins.
	Platform string
	// Insecure allows plain HTTP for a registry reference.
	Insecure bool
	// Keep names more files of an image whose whole content the view keeps
	// from the start (see imagefs.Options.Keep), e.g. a package database.
	Keep func(name string, size int64) bool
	// TempDir is where an image view keeps contents ("" is os.TempDir()).
	TempDir string
}

// Root is an opened root filesystem.
type Root struct {
	// FS is the root's files.
	FS rootfs.FS
	// Name is the root as given (without a PLATFORM= prefix): the
	// directory or the image reference, for messages.
	Name string
	// Dir is the host directory the root is, made absolute; "" for an
	// image.
	Dir string
	// Platform is the platform of the root's programs: the PLATFORM of a
	// PLATFORM=ROOT value, else an image's (os/arch[/variant]); "" for a
	// directory given without one.
	Platform string

	view   *imagefs.FS
	layers []v1.Layer
}

// Split splits "PLATFORM=ROOT" (linux/arm64=/srv/arm64) into the platform
// and the root; a value without such a prefix is all root.
func Split(value string) (platform, root string) {
	plat, root, ok := strings.Cut(value, "=")
	if !ok || root == "" || !isPlatform(plat) {
		return "", value
	}
	return plat, root
}

// isPlatform says whether s is os/arch[/variant]: [a-z0-9]+, then
// [a-z0-9_]+, then an optional [a-z0-9]+.
func isPlatform(s string) bool {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return false
	}
	for i, p := range parts {
		allowed := "abcdefghijklmnopqrstuvwxyz0123456789"
		if i == 1 {
			allowed += "_"
		}
		if p == "" || strings.Trim(p, allowed) != "" {
			return false
		}
	}
	return true
}

// IsImage reports whether the --root value (after any PLATFORM= prefix)
// names an image rather than a directory: see imagesrc.LooksLikeImage (a
// directory is the default reading).
func IsImage(value string) bool {
	_, root := Split(value)
	return imagesrc.LooksLikeImage(root)
}

// Dir opens the host directory dir as a root.
func Dir(dir string) (*Root, error) {
	fsys, err := rootfs.Dir(dir)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return &Root{FS: fsys, Name: dir, Dir: abs}, nil
}

// Open opens the root a --root value names: "PLATFORM=ROOT" or ROOT, ROOT
// a directory or an image reference (see [IsImage]). An image is read
// once, layer by layer, into a view (its tree in memory, the contents it
// keeps in a temporary directory); reading stops when ctx is done. The
// caller must Close the root. Errors: those of rootfs.Dir for a directory,
// of imagesrc.Open for a reference (a *fs.PathError naming it when it
// names no image), and of imagefs.Open (wrapped) for the layers.
func Open(ctx context.Context, value string, opts Options) (*Root, error) {
	plat, name := Split(value)
	if !imagesrc.LooksLikeImage(name) {
		r, err := Dir(name)
		if err != nil {
			return nil, err
		}
		r.Platform = plat
		return r, nil
	}
	if plat != "" {
		opts.Platform = plat
	}
	img, err := imagesrc.Open(ctx, name, imagesrc.Options{Platform: opts.Platform, Insecure: opts.Insecure})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("opening image %q: reading config: %w", name, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("opening image %q: reading layers: %w", name, err)
	}
	view, err := imagefs.Open(ctx, img, imagefs.Options{Name: name, Keep: opts.Keep, TempDir: opts.TempDir})
	if err != nil {
		return nil, fmt.Errorf("reading image %q: %w", name, err)
	}
	if plat == "" && cf.Architecture != "" {
		plat = cf.OS + "/" + cf.Architecture
		if cf.Variant != "" {
			plat += "/" + cf.Variant
		}
	}
	return &Root{FS: view, Name: name, Platform: plat, view: view, layers: layers}, nil
}

// IsImage reports whether r is an image's view (no host directory).
func (r *Root) IsImage() bool { return r.view != nil }

// String is the root's name.
func (r *Root) String() string { return r.Name }

// View is the image's merged view, nil for a directory.
func (r *Root) View() *imagefs.FS { return r.view }

// KeepContents makes the whole contents of the regular files at paths
// readable through r.FS: for an image, the layers holding them are read
// once more (see imagefs.FS.KeepContents); a directory has them already.
func (r *Root) KeepContents(ctx context.Context, paths []string) error {
	if r.view == nil || len(paths) == 0 {
		return nil
	}
	if err := r.view.KeepContents(ctx, r.layers, paths); err != nil {
		return fmt.Errorf("reading image %q: %w", r.Name, err)
	}
	return nil
}

// Close removes an image view's temporary files. A directory has none.
func (r *Root) Close() error {
	if r == nil || r.view == nil {
		return nil
	}
	return r.view.Close()
}

// ErrImageRoot is returned by callers for a job that needs a host
// directory (running the program chrooted) given an image root.
var ErrImageRoot = errors.New("an image root: this needs a directory (the program is run chrooted into it)")
