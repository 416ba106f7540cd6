package publish

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// How an SBOM is attached to a pushed image (or index), the subject:
//
//  1. Its manifest is pushed by digest: an OCI 1.1 artifact manifest
//     (application/vnd.oci.image.manifest.v1+json) with artifactType the
//     SBOM's media type (application/spdx+json or
//     application/vnd.cyclonedx+json), the empty config
//     (application/vnd.oci.empty.v1+json, "{}"), one layer, the SBOM file
//     byte for byte, and subject the image's descriptor. A registry that
//     answers the referrers API (GET /v2/REPO/referrers/DIGEST) lists it
//     there: `oras discover`, `crane` (remote.Referrers) and cosign's OCI
//     1.1 mode find it.
//  2. On a registry without the referrers API (distribution 2.8, Debian's
//     docker-registry), go-containerregistry's remote.Write adds it to the
//     index tagged sha256-HEX (HEX the subject's digest): the referrers tag
//     schema of the OCI distribution spec 1.1, which the same clients read
//     in its place. We then also tag the manifest sha256-HEX.sbom, where
//     cosign (`cosign download sbom`) and ko put and look for an image's
//     SBOM.

// emptyConfig is the OCI empty descriptor's content.
var emptyConfig = []byte("{}")

// titleAnnotation names a layer's file.
const titleAnnotation = "org.opencontainers.image.title"

// attachSBOM pushes s to repo as a referrer of subject (above), and
// returns where it went.
func attachSBOM(repo name.Repository, subject v1.Descriptor, s *SBOM, ropts []remote.Option) (*PublishedSBOM, error) {
	art, err := sbomArtifact(subject, s)
	if err != nil {
		return nil, err
	}
	d, err := art.Digest()
	if err != nil {
		return nil, err
	}
	layers, err := art.Layers()
	if err != nil {
		return nil, err
	}
	ld, err := layers[0].Digest()
	if err != nil {
		return nil, err
	}
	if err := remote.Write(repo.Digest(d.String()), art, ropts...); err != nil {
		return nil, err
	}
	out := &PublishedSBOM{Reference: repo.Digest(d.String()).String(), ArtifactType: s.MediaType, Digest: ld.String()}
	fallback := repo.Tag(strings.Replace(subject.Digest.String(), ":", "-", 1))
	listed, err := lists(fallback, d, ropts)
	if err != nil || !listed {
		return out, err
	}
	// No referrers API: go-containerregistry kept the referrers tag.
	sbomTag := repo.Tag(fallback.TagStr() + ".sbom")
	if err := remote.Tag(sbomTag, art, ropts...); err != nil {
		return nil, err
	}
	out.Tags = []string{fallback.TagStr(), sbomTag.TagStr()}
	return out, nil
}

// lists reports whether the index tagged t lists the manifest d; false when
// there is no such tag.
func lists(t name.Tag, d v1.Hash, ropts []remote.Option) (bool, error) {
	idx, err := remote.Index(t, ropts...)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(im.Manifests, func(m v1.Descriptor) bool { return m.Digest == d }), nil
}

// sbomArtifact is the artifact manifest of s with subject.
func sbomArtifact(subject v1.Descriptor, s *SBOM) (v1.Image, error) {
	layer := static.NewLayer(s.Data, types.MediaType(s.MediaType))
	ld, err := layer.Digest()
	if err != nil {
		return nil, err
	}
	cd, _, err := v1.SHA256(bytes.NewReader(emptyConfig))
	if err != nil {
		return nil, err
	}
	title := "sbom.spdx.json"
	if s.MediaType == CycloneDXMediaType {
		title = "sbom.cdx.json"
	}
	subject = v1.Descriptor{MediaType: subject.MediaType, Size: subject.Size, Digest: subject.Digest}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  s.MediaType,
		Config: v1.Descriptor{MediaType: types.OCIEmptyJSON, Size: int64(len(emptyConfig)), Digest: cd,
			Data: emptyConfig},
		Layers: []v1.Descriptor{{MediaType: types.MediaType(s.MediaType), Size: int64(len(s.Data)), Digest: ld,
			Annotations: map[string]string{titleAnnotation: title}}},
		Subject: &subject,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(artifactCore{raw: raw, layer: layer})
}

// artifactCore is an artifact manifest with the empty config and one layer.
type artifactCore struct {
	raw   []byte
	layer v1.Layer
}

func (a artifactCore) RawConfigFile() ([]byte, error)      { return emptyConfig, nil }
func (a artifactCore) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a artifactCore) RawManifest() ([]byte, error)        { return a.raw, nil }

func (a artifactCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if d, err := a.layer.Digest(); err != nil || d != h {
		return nil, errors.New("no such layer in the SBOM artifact")
	}
	return a.layer, nil
}
