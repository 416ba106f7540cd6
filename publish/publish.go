// Package publish writes an image, or an index of one image per platform,
// where it goes: a `docker load` archive file, stdout, an OCI image layout, a
// registry. Each medium is one implementation of [Interface], as in ko's
// publish package; [Multi] writes to several in turn. Each returns what it
// wrote ([Published]): the path or the pushed reference with its digest, the
// digest, the size, and where a pushed SBOM went.
//
// The bytes on disk (the archive and layout formats, temporary files renamed
// into place, the flock'ed temporaries a killed run leaves for the next to
// remove, the archive layers are streamed into) are package image's; this
// package chooses among them and adds the registry.
package publish

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/fromscratch/fromscratch/image"
)

// Interface is one medium an image is published to.
type Interface interface {
	// Publish writes a (an image or an index) named tag ("app:1.0"; a bare
	// name gets ":latest"), and returns what it wrote. A failure is an
	// *Error.
	Publish(ctx context.Context, a Artifact, tag string) (Published, error)
	// Close releases what the sink holds; an output it started and did not
	// finish is removed.
	Close() error
}

// Artifact is what is published: Image, or Index (one image per platform),
// and the SBOM that describes it, if any.
type Artifact struct {
	Image v1.Image
	Index v1.ImageIndex
	// SBOM is attached where the medium can carry it (a registry: see
	// [Registry]); other media leave it to the SBOM file.
	SBOM *SBOM
}

// SBOM is an SBOM document as written to its file.
type SBOM struct {
	// MediaType is the document's: [SPDXMediaType] or [CycloneDXMediaType].
	MediaType string
	// Data is the document, byte for byte the --sbom file.
	Data []byte
}

// The media types of SBOM documents: the artifactType of the referrer
// manifest and the media type of its one layer.
const (
	SPDXMediaType      = "application/spdx+json"
	CycloneDXMediaType = "application/vnd.cyclonedx+json"
)

// Medium names a sink's medium in [Published] and [Error].
type Medium string

// The media.
const (
	DockerArchive Medium = "docker-archive" // -o FILE
	Stdout        Medium = "stdout"         // -o -
	OCILayout     Medium = "oci-layout"     // --oci-layout DIR
	Registry      Medium = "registry"       // --push REF
)

// Published is what a sink wrote.
type Published struct {
	Medium Medium `json:"medium"`
	// Path is the archive file or the layout directory written.
	Path string `json:"path,omitempty"`
	// Reference is the pushed image or index with its digest:
	// REPO:TAG@sha256:... (REPO@sha256:... when pushed by digest).
	Reference string `json:"reference,omitempty"`
	// Digest is the image's, or the index's.
	Digest string `json:"digest"`
	// Size is the bytes of what was written: the archive; for a layout or
	// a registry, the manifests, configs and layers (compressed) of the
	// image or index, whether or not some were there already.
	Size int64 `json:"size"`
	// SBOM is where the SBOM went, pushed.
	SBOM *PublishedSBOM `json:"sbom,omitempty"`
}

// PublishedSBOM is an SBOM attached to a pushed image.
type PublishedSBOM struct {
	// Reference is the SBOM's manifest, REPO@sha256:..., an OCI 1.1
	// artifact manifest whose subject is the image.
	Reference    string `json:"reference"`
	ArtifactType string `json:"artifactType"`
	// Digest is the SBOM document's (the manifest's one layer): the sha256
	// of the --sbom file.
	Digest string `json:"digest"`
	// Tags are the tags it is reachable by on a registry without the
	// referrers API: sha256-HEX, the OCI referrers tag schema's index, and
	// sha256-HEX.sbom, the tag of cosign and ko. None where the registry
	// answers the referrers API.
	Tags []string `json:"tags,omitempty"`
}

// Error is the failure of one sink.
type Error struct {
	Medium Medium
	// Target is the sink as given: the file, the directory, the reference.
	Target string
	Err    error
}

func (e *Error) Error() string { return fmt.Sprintf("%s %s: %v", e.Medium, e.Target, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// ErrIndex is the error of a medium that holds one image given an index.
var ErrIndex = errors.New("a docker load archive holds one platform, not an index")

// digest is the digest of a's image or index.
func (a Artifact) digest() (v1.Hash, error) {
	switch {
	case a.Image != nil:
		return a.Image.Digest()
	case a.Index != nil:
		return a.Index.Digest()
	}
	return v1.Hash{}, errors.New("nothing to publish")
}

// size is the bytes of a's manifests, configs and layers.
func (a Artifact) size() (int64, error) {
	if a.Image != nil {
		return imageSize(a.Image)
	}
	n, err := a.Index.Size()
	if err != nil {
		return 0, err
	}
	im, err := a.Index.IndexManifest()
	if err != nil {
		return 0, err
	}
	for _, d := range im.Manifests {
		if d.MediaType != types.DockerManifestSchema2 && d.MediaType != types.OCIManifestSchema1 {
			continue
		}
		img, err := a.Index.Image(d.Digest)
		if err != nil {
			return 0, err
		}
		s, err := imageSize(img)
		if err != nil {
			return 0, err
		}
		n += s
	}
	return n, nil
}

func imageSize(img v1.Image) (int64, error) {
	n, err := img.Size()
	if err != nil {
		return 0, err
	}
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	n += m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}

// Multi is several sinks, written in turn.
type Multi []Interface

// Publish writes a to each sink in turn, and returns what each wrote; it
// stops at the first failure (an *Error).
func (m Multi) Publish(ctx context.Context, a Artifact, tag string) ([]Published, error) {
	var out []Published
	for _, s := range m {
		p, err := s.Publish(ctx, a, tag)
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Stream returns, when the only sink is a docker archive file, its
// [image.ArchiveWriter], for layers to be written into it as they are made
// (see [Archive.Stream]); nil otherwise.
func (m Multi) Stream() (*image.ArchiveWriter, error) {
	if len(m) != 1 {
		return nil, nil
	}
	a, ok := m[0].(*Archive)
	if !ok {
		return nil, nil
	}
	return a.Stream()
}

// Close closes every sink, and returns the first error.
func (m Multi) Close() error {
	var first error
	for _, s := range m {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
