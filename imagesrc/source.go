package imagesrc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/fromscratch/fromscratch/internal/registry"
)

// The transport prefixes of a reference.
const (
	DockerArchive = "docker-archive:"
	OCILayout     = "oci-layout:"
	DockerDaemon  = "docker-daemon:"
)

// refNameAnnotation names an image of an OCI layout's index.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// ErrNotFound is returned when a layout holds no image matching the
// reference, or an index no image for the platform.
var ErrNotFound = errors.New("no such image")

// ErrAmbiguous is returned when a reference matches several images and
// nothing (a tag, a digest, a platform) picks one.
var ErrAmbiguous = errors.New("several images match")

// Options tune how an image is opened.
type Options struct {
	// Platform ("linux/arm64", "linux/arm/v7") picks one image of a
	// multi-platform index. "" means the host's platform (linux/GOARCH),
	// and for a layout or index with one image, that image.
	Platform string
	// Insecure allows plain HTTP for a registry reference; without it
	// only HTTPS is spoken, to any registry (see package registry).
	Insecure bool

	// registryOnly is set for the registry's turn at a bare name.
	registryOnly bool
}

// HasTransport reports whether ref starts with a transport prefix this
// package knows.
func HasTransport(ref string) bool {
	for _, p := range []string{DockerArchive, OCILayout, DockerDaemon} {
		if strings.HasPrefix(ref, p) {
			return true
		}
	}
	return false
}

// IsPath reports whether ref is written as a path: it starts with "/",
// "./" or "../" (or is "." or ".."). A path is never a registry reference.
func IsPath(ref string) bool {
	return ref == "." || ref == ".." || strings.HasPrefix(ref, "/") ||
		strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "../")
}

// LooksLikeImage reports whether s should be taken as an image reference
// rather than a directory: it has a transport prefix, it is an existing file
// (a docker-archive) or OCI layout (with a ":TAG" or "@DIGEST" after a path),
// or it is not a path (see [IsPath]), not an existing file and parses as a
// registry reference.
func LooksLikeImage(s string) bool {
	if HasTransport(s) || LocalTransport(s) != "" {
		return true
	}
	if IsPath(s) {
		return pathTransport(s) != ""
	}
	if _, err := os.Lstat(s); err == nil {
		return false
	}
	_, err := name.ParseReference(s)
	return err == nil && strings.ContainsAny(s, ":/@")
}

// Open returns the image ref names. Errors name ref; a path (see [IsPath])
// that names no image, and a bare name (see [IsBare]) found nowhere (a
// [NotFoundError]), are a *fs.PathError for ref.
func Open(ctx context.Context, ref string, opts Options) (v1.Image, error) {
	img, err := open(ctx, ref, opts)
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == ref {
		return nil, err // names ref already: "REF: reason"
	}
	if err != nil {
		return nil, fmt.Errorf("opening image %q: %w", ref, err)
	}
	return img, nil
}

// LocalTransport returns the transport of a reference without one that
// names an existing path: DockerArchive for a file that is a tar, or whose
// name has a "/" or ends in ".tar" (so that a stray file named like an
// image, "alpine", does not hide the registry's); OCILayout for a directory
// holding an oci-layout file; "" otherwise, e.g. for a registry reference.
func LocalTransport(ref string) string {
	fi, err := os.Stat(ref)
	switch {
	case err != nil:
		return ""
	case fi.Mode().IsRegular():
		if strings.Contains(ref, "/") || strings.HasSuffix(ref, ".tar") || isTar(ref) {
			return DockerArchive
		}
	case fi.IsDir():
		if _, err := os.Stat(filepath.Join(ref, "oci-layout")); err == nil {
			return OCILayout
		}
	}
	return ""
}

// pathTransport is the transport of a path that picks an image of an
// archive or layout: DockerArchive for FILE:NAME:TAG, OCILayout for
// DIR:TAG, DIR:NAME:TAG and DIR@DIGEST, where FILE or DIR is the first
// prefix before a ":" (or the part before the "@") that exists; "" if none.
func pathTransport(ref string) string {
	if i := strings.LastIndex(ref, "@"); i > 0 && LocalTransport(ref[:i]) == OCILayout {
		return OCILayout
	}
	for i := 0; i < len(ref); i++ {
		if ref[i] != ':' {
			continue
		}
		if _, err := os.Stat(ref[:i]); err == nil {
			return LocalTransport(ref[:i])
		}
	}
	return ""
}

// notAnImage is the error for a path that names no image: it does not
// exist, or is neither a docker archive nor an OCI layout.
func notAnImage(ref string) error {
	fi, err := os.Stat(ref)
	switch {
	case err != nil:
		return &fs.PathError{Op: "open", Path: ref, Err: reasonOf(err)}
	case fi.IsDir():
		return &fs.PathError{Op: "open", Path: ref, Err: errors.New("a directory without an oci-layout file: not an OCI image layout")}
	}
	return &fs.PathError{Op: "open", Path: ref, Err: errors.New("not a docker archive or an OCI image layout")}
}

// reasonOf is the error inside a *fs.PathError, or err.
func reasonOf(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// isTar reports whether the file p starts with a ustar header.
func isTar(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 5)
	_, err = f.ReadAt(magic, 257)
	return err == nil && string(magic) == "ustar"
}

func open(ctx context.Context, ref string, opts Options) (v1.Image, error) {
	plat, err := platform(opts.Platform)
	if err != nil {
		return nil, err
	}
	if !HasTransport(ref) {
		t := LocalTransport(ref)
		if t == "" && IsPath(ref) {
			if t = pathTransport(ref); t == "" {
				return nil, notAnImage(ref)
			}
		}
		if t == "" && !opts.registryOnly && IsBare(ref) {
			return openBare(ctx, ref, plat, opts)
		}
		ref = t + ref
	}
	switch {
	case strings.HasPrefix(ref, DockerArchive):
		return fromArchive(strings.TrimPrefix(ref, DockerArchive))
	case strings.HasPrefix(ref, OCILayout):
		return fromLayout(strings.TrimPrefix(ref, OCILayout), plat, opts.Platform != "")
	case strings.HasPrefix(ref, DockerDaemon):
		return fromDaemon(ctx, strings.TrimPrefix(ref, DockerDaemon))
	}
	r, err := registry.Reference(ref, opts.Insecure)
	if err != nil {
		return nil, err
	}
	ropts, err := registry.Options(ctx, opts.Insecure)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(r, append(ropts, remote.WithPlatform(*plat))...)
	return img, registry.Explain(err)
}

// platform parses s, or returns the host's platform.
func platform(s string) (*v1.Platform, error) {
	if s == "" {
		return &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return nil, fmt.Errorf("platform %q: %w", s, err)
	}
	if p.OS == "" {
		p.OS = "linux"
	}
	return p, nil
}

// fromLayout opens DIR, DIR:TAG or DIR@DIGEST.
func fromLayout(spec string, plat *v1.Platform, explicit bool) (v1.Image, error) {
	dir, sel := spec, ""
	if i := strings.LastIndex(spec, "@"); i > 0 {
		dir, sel = spec[:i], spec[i:]
	} else if _, err := os.Stat(spec); errors.Is(err, fs.ErrNotExist) {
		// DIR:TAG or DIR:NAME:TAG: the first colon after which DIR exists.
		for i := 0; i < len(spec); i++ {
			if spec[i] != ':' {
				continue
			}
			if fi, err := os.Stat(spec[:i]); err == nil && fi.IsDir() {
				dir, sel = spec[:i], spec[i+1:]
				break
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		return nil, fmt.Errorf("%s: not an OCI image layout: %w", dir, err)
	}
	ii, err := openLayoutIndex(dir)
	if err != nil {
		return nil, err
	}
	return pick(ii, sel, plat, explicit)
}

// pick chooses an image of index ii: by digest ("@sha256:..."), by
// ref.name annotation (a full "name:tag", the tag alone, or a name without
// a tag for "name:latest", as Docker reads it), then by platform; an index
// found on the way is searched in turn.
func pick(ii v1.ImageIndex, sel string, plat *v1.Platform, explicit bool) (v1.Image, error) {
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, err
	}
	var cands []v1.Descriptor
	for _, d := range im.Manifests {
		ann := d.Annotations[refNameAnnotation]
		switch {
		case sel == "":
			cands = append(cands, d)
		case strings.HasPrefix(sel, "@"):
			if "@"+d.Digest.String() == sel {
				cands = append(cands, d)
			}
		case ann == sel || strings.HasSuffix(ann, ":"+sel) || tagOf(ann) == sel,
			tagOf(sel) == "" && ann == sel+":latest":
			cands = append(cands, d)
		}
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, sel)
	}
	// Expand nested indexes, then filter by platform.
	var imgs []v1.Descriptor
	for _, d := range cands {
		if d.MediaType.IsIndex() {
			child, err := ii.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			cim, err := child.IndexManifest()
			if err != nil {
				return nil, err
			}
			for _, c := range cim.Manifests {
				if c.MediaType.IsImage() {
					imgs = append(imgs, c)
					if len(cands) == 1 {
						ii = child
					}
				}
			}
			continue
		}
		imgs = append(imgs, d)
	}
	if len(imgs) == 1 && (!explicit || imgs[0].Platform == nil || imgs[0].Platform.Satisfies(*plat)) {
		return ii.Image(imgs[0].Digest)
	}
	var match []v1.Descriptor
	for _, d := range imgs {
		if d.Platform != nil && d.Platform.Satisfies(*plat) {
			match = append(match, d)
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("%w for platform %s", ErrNotFound, plat)
	case 1:
		return ii.Image(match[0].Digest)
	}
	return nil, fmt.Errorf("%w (%d): give a tag or a digest", ErrAmbiguous, len(match))
}

// tagOf returns the tag of "name:tag", or "".
func tagOf(ref string) string {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ""
	}
	return ref[i+1:]
}

// fromArchive opens a docker archive: PATH, or PATH:NAME:TAG to pick one
// image of an archive that holds several (docker save a b), as Docker names
// them in its manifest.json.
func fromArchive(p string) (v1.Image, error) {
	if _, err := os.Stat(p); err == nil {
		if img, ok, err := openPlainArchive(p, nil); ok {
			return img, err
		}
		img, err := tarball.ImageFromPath(p, nil)
		if err != nil && strings.Contains(err.Error(), "only a single image") {
			return nil, fmt.Errorf("%w in this archive: name one, docker-archive:%s:NAME:TAG", ErrAmbiguous, p)
		}
		return img, err
	}
	dir, base := filepath.Split(p)
	if i := strings.IndexByte(base, ':'); i > 0 {
		file := filepath.Join(dir, base[:i])
		if _, err := os.Stat(file); err == nil {
			tag, err := name.NewTag(base[i+1:])
			if err != nil {
				return nil, err
			}
			if img, ok, err := openPlainArchive(file, &tag); ok {
				return img, err
			}
			return tarball.ImageFromPath(file, &tag)
		}
	}
	_, err := os.Stat(p)
	return nil, err
}
