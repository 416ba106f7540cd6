package publish

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/fromscratch/fromscratch/image"
)

func testImage(t *testing.T, arch string) v1.Image {
	t.Helper()
	l, err := random.Layer(1024, "application/vnd.docker.image.rootfs.diff.tar.gzip")
	if err != nil {
		t.Fatal(err)
	}
	img, err := image.Image([]v1.Layer{l}, nil, image.Config{Architecture: arch}, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// startRegistry starts go-containerregistry's registry in the test, with or
// without the referrers API, and returns its host:port.
func startRegistry(t *testing.T, referrers bool) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(referrers)))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestRemote: a push returns REPO:TAG@DIGEST, which pulls the image; a
// malformed reference is refused by NewRemote; $FROMSCRATCH_REPO takes a
// short name.
func TestRemote(t *testing.T) {
	host := startRegistry(t, false)
	img := testImage(t, "amd64")
	want, _ := img.Digest()
	r, err := NewRemote(host+"/fromscratch/test:v1", true)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Publish(context.Background(), Artifact{Image: img}, "")
	if err != nil {
		t.Fatalf("Publish() = %v", err)
	}
	if wantRef := host + "/fromscratch/test:v1@" + want.String(); p.Reference != wantRef || p.Digest != want.String() || p.Medium != Registry {
		t.Errorf("Publish() = %+v, want reference %s", p, wantRef)
	}
	if size, _ := imageSize(img); p.Size != size || size < 1024 {
		t.Errorf("size %d, want %d", p.Size, size)
	}
	ref, err := name.ParseReference(p.Reference)
	if err != nil {
		t.Fatal(err)
	}
	back, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := back.Digest(); d != want {
		t.Errorf("pulled %s: %v", p.Reference, d)
	}
	if err := validate.Image(back); err != nil {
		t.Error(err)
	}
	var pe *Error
	if _, err := NewRemote("UPPER/case", true); !errors.As(err, &pe) || pe.Medium != Registry {
		t.Errorf("NewRemote(UPPER/case) = %v, want an *Error", err)
	}
	t.Setenv(RepoEnv, host+"/team/")
	if r, err := NewRemote("app:1", true); err != nil || r.ref.String() != host+"/team/app:1" {
		t.Errorf("NewRemote(app:1) with %s = %v, %v", RepoEnv, r, err)
	}
}

// TestSBOMReferrer pushes an image with an SBOM to a registry with the
// referrers API and to one without, and finds the SBOM back as a crane user
// would: remote.Referrers of the image, and, without the API, the tag
// sha256-HEX.sbom; its one layer is the SBOM byte for byte.
func TestSBOMReferrer(t *testing.T) {
	doc := &SBOM{MediaType: SPDXMediaType, Data: []byte(`{"spdxVersion": "SPDX-2.3"}` + "\n")}
	wantDoc, _, _ := v1.SHA256(bytes.NewReader(doc.Data))
	for _, api := range []bool{true, false} {
		name := map[bool]string{true: "referrers-api", false: "tag-fallback"}[api]
		t.Run(name, func(t *testing.T) {
			host := startRegistry(t, api)
			img := testImage(t, "amd64")
			p := publishSBOM(t, host+"/app:1", Artifact{Image: img, SBOM: doc})
			if p.SBOM == nil || p.SBOM.Digest != wantDoc.String() || p.SBOM.ArtifactType != SPDXMediaType {
				t.Fatalf("Published.SBOM = %+v, want document %s", p.SBOM, wantDoc)
			}
			d, _ := img.Digest()
			checkReferrer(t, host+"/app", d, p.SBOM, doc)
			sbomTag := host + "/app:" + strings.Replace(d.String(), ":", "-", 1) + ".sbom"
			_, err := remote.Image(mustRef(t, sbomTag))
			switch {
			case api && err == nil:
				t.Errorf("%s exists where the registry has the referrers API", sbomTag)
			case !api && err != nil:
				t.Errorf("%s: %v", sbomTag, err)
			case !api:
				checkLayer(t, sbomTag, doc)
				if len(p.SBOM.Tags) != 2 {
					t.Errorf("tags %v, want sha256-HEX and sha256-HEX.sbom", p.SBOM.Tags)
				}
			}
		})
	}
}

// TestSBOMIndex: the SBOM of a multi-platform push is attached to the
// index.
func TestSBOMIndex(t *testing.T) {
	host := startRegistry(t, false)
	idx, err := image.Index([]v1.Image{testImage(t, "amd64"), testImage(t, "arm64")}, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc := &SBOM{MediaType: CycloneDXMediaType, Data: []byte(`{"bomFormat": "CycloneDX"}`)}
	p := publishSBOM(t, host+"/multi:1", Artifact{Index: idx, SBOM: doc})
	d, _ := idx.Digest()
	if p.Digest != d.String() || !strings.HasSuffix(p.Reference, ":1@"+d.String()) {
		t.Errorf("Published = %+v, want the index %s", p, d)
	}
	checkReferrer(t, host+"/multi", d, p.SBOM, doc)
	if _, err := remote.Index(mustRef(t, p.Reference)); err != nil {
		t.Errorf("the index: %v", err)
	}
}

func publishSBOM(t *testing.T, ref string, a Artifact) Published {
	t.Helper()
	r, err := NewRemote(ref, true)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Publish(context.Background(), a, "")
	if err != nil {
		t.Fatalf("Publish() = %v", err)
	}
	return p
}

// checkReferrer finds the SBOM among the referrers of subject in repo.
func checkReferrer(t *testing.T, repo string, subject v1.Hash, got *PublishedSBOM, doc *SBOM) {
	t.Helper()
	idx, err := remote.Referrers(mustRef(t, repo+"@"+subject.String()).(name.Digest))
	if err != nil {
		t.Fatalf("remote.Referrers() = %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	// The listing's artifactType is not checked: go-containerregistry's
	// registry gives the config's media type there, not the manifest's
	// artifactType, which checkLayer checks.
	if len(im.Manifests) != 1 || !strings.HasSuffix(got.Reference, "@"+im.Manifests[0].Digest.String()) {
		t.Fatalf("referrers of %s: %+v, want %s", subject, im.Manifests, got.Reference)
	}
	checkLayer(t, got.Reference, doc)
}

// checkLayer checks that ref's one layer is doc.
func checkLayer(t *testing.T, ref string, doc *SBOM) {
	t.Helper()
	img, err := remote.Image(mustRef(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject == nil || m.ArtifactType != doc.MediaType || len(m.Layers) != 1 || string(m.Layers[0].MediaType) != doc.MediaType {
		t.Fatalf("%s: manifest %+v", ref, m)
	}
	rc, err := mustLayer(t, img).Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); !bytes.Equal(b, doc.Data) {
		t.Errorf("%s: layer %q, want %q", ref, b, doc.Data)
	}
}

func mustLayer(t *testing.T, img v1.Image) v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil || len(ls) != 1 {
		t.Fatalf("layers %v, %v", ls, err)
	}
	return ls[0]
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestFiles: the archive and layout sinks write what reads back with the
// digest they return; an archive refuses an index and a path that is not a
// regular file; Stream writes into the archive that Publish commits, and
// Close removes one not published.
func TestFiles(t *testing.T) {
	dir := t.TempDir()
	img := testImage(t, "amd64")
	want, _ := img.Digest()
	ctx := context.Background()
	a, err := NewArchive(filepath.Join(dir, "app.tar"))
	if err != nil {
		t.Fatal(err)
	}
	l := NewLayout(filepath.Join(dir, "layout"))
	var out bytes.Buffer
	pubs, err := Multi{a, l, NewWriter(&out)}.Publish(ctx, Artifact{Image: img}, "app:1")
	if err != nil || len(pubs) != 3 {
		t.Fatalf("Publish() = %+v, %v", pubs, err)
	}
	for _, p := range pubs {
		if p.Digest != want.String() || p.Size == 0 {
			t.Errorf("%+v: want digest %s and a size", p, want)
		}
	}
	if fi, _ := os.Stat(pubs[0].Path); fi == nil || fi.Size() != pubs[0].Size || pubs[2].Size != int64(out.Len()) {
		t.Errorf("sizes %d, %d; file %v, stdout %d", pubs[0].Size, pubs[2].Size, fi, out.Len())
	}
	back, err := tarball.ImageFromPath(pubs[0].Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := back.Digest(); d != want {
		t.Errorf("archive: %v, want %v", d, want)
	}
	lp, err := layout.FromPath(pubs[1].Path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lp.Image(want); err != nil {
		t.Errorf("layout: %v", err)
	}

	idx, _ := image.Index([]v1.Image{img}, image.Options{})
	var pe *Error
	if _, err := a.Publish(ctx, Artifact{Index: idx}, "app:1"); !errors.As(err, &pe) || !errors.Is(err, ErrIndex) {
		t.Errorf("archive of an index: %v", err)
	}
	if _, err := NewArchive(dir); !errors.As(err, &pe) || !errors.Is(err, image.ErrNotRegular) {
		t.Errorf("NewArchive(a directory) = %v", err)
	}
	s, _ := NewArchive(filepath.Join(dir, "streamed.tar"))
	m := Multi{s}
	if w, err := m.Stream(); err != nil || w == nil {
		t.Fatalf("Stream() = %v, %v", w, err)
	}
	if w, _ := (Multi{s, l}).Stream(); w != nil {
		t.Errorf("Stream() of two sinks is not nil")
	}
	m.Close()
	if ents, _ := filepath.Glob(filepath.Join(dir, ".streamed.tar*")); len(ents) != 0 {
		t.Errorf("closed unpublished stream left %v", ents)
	}
}
