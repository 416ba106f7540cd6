package publish

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/internal/registry"
)

// RepoEnv names the environment variable holding the default repository of
// pushes, as ko's KO_DOCKER_REPO: registry.example.com/team.
const RepoEnv = "FROMSCRATCH_REPO"

// ExpandRef returns ref under the repository $FROMSCRATCH_REPO when it is
// set and ref is a short name (no "/": app, app:1.0, app@sha256:...), or
// else ref as it is.
func ExpandRef(ref string) string {
	repo := strings.TrimSuffix(os.Getenv(RepoEnv), "/")
	if repo == "" || strings.Contains(ref, "/") {
		return ref
	}
	return repo + "/" + ref
}

// Remote pushes to a registry (--push REF) with credentials from the
// Docker config keychain (authn.DefaultKeychain: ~/.docker/config.json,
// credential helpers). Only insecure allows plain HTTP, to any registry
// (without it a registry on localhost or a private address is reached over
// HTTPS too); the requests are bounded and retried as package
// internal/registry says. A push tags its manifest only once every blob is
// in. An SBOM is attached to what is pushed: see [Remote.Publish].
type Remote struct {
	given    string // as the user gave it
	ref      name.Reference
	insecure bool
}

// NewRemote returns the sink of ref ("registry.example/app:1.0"; a bare
// name gets ":latest"; a short name, without "/", goes under
// $FROMSCRATCH_REPO when set: see [ExpandRef]). A malformed reference is
// refused now, before any work.
func NewRemote(ref string, insecure bool) (*Remote, error) {
	expanded := ExpandRef(ref)
	r, err := registry.Reference(expanded, insecure)
	if err != nil {
		return nil, &Error{Registry, ref, fmt.Errorf("pushing to %q: %w", expanded, err)}
	}
	return &Remote{given: ref, ref: r, insecure: insecure}, nil
}

// Publish implements [Interface]: it pushes the image, or the index and its
// images, to the reference (tag is not used: the reference names it), and
// returns it as REPO:TAG@sha256:.... With a.SBOM, the SBOM is then pushed as
// an OCI 1.1 artifact manifest whose subject is what was pushed (see
// [attachSBOM]).
func (r *Remote) Publish(ctx context.Context, a Artifact, _ string) (Published, error) {
	fail := func(err error) (Published, error) {
		return Published{}, &Error{Registry, r.given, fmt.Errorf("pushing to %q: %w", r.ref, registry.Explain(err))}
	}
	d, err := a.digest()
	if err != nil {
		return fail(err)
	}
	ropts, err := registry.Options(ctx, r.insecure)
	if err != nil {
		return fail(err)
	}
	var subject *v1.Descriptor
	if a.Image != nil {
		err = remote.Write(r.ref, a.Image, withProgress(ctx, ropts)...)
		subject, _ = partial.Descriptor(a.Image)
	} else {
		err = remote.WriteIndex(r.ref, a.Index, withProgress(ctx, ropts)...)
		subject, _ = partial.Descriptor(a.Index)
	}
	if err != nil {
		return fail(err)
	}
	size, err := a.size()
	if err != nil {
		return fail(err)
	}
	p := Published{Medium: Registry, Reference: digestRef(r.ref, d), Digest: d.String(), Size: size}
	if a.SBOM != nil && subject != nil {
		if p.SBOM, err = attachSBOM(r.ref.Context(), *subject, a.SBOM, ropts); err != nil {
			return Published{}, &Error{Registry, r.given, fmt.Errorf("attaching the SBOM to %s: %w", p.Reference, registry.Explain(err))}
		}
	}
	return p, nil
}

// Close implements [Interface].
func (r *Remote) Close() error { return nil }

// digestRef is ref with digest d: REPO:TAG@sha256:... for a tag (docker
// pull and go-containerregistry take it, and pull by the digest), or
// REPO@sha256:....
func digestRef(ref name.Reference, d v1.Hash) string {
	if t, ok := ref.(name.Tag); ok {
		return t.String() + "@" + d.String()
	}
	return ref.Context().Digest(d.String()).String()
}

// withProgress adds to ropts the reporting of the push to ctx's
// image.Progress, if any. remote closes the channel when the write is done,
// so the options returned serve one write.
func withProgress(ctx context.Context, ropts []remote.Option) []remote.Option {
	p := image.ProgressFrom(ctx)
	if p == nil {
		return ropts
	}
	updates := make(chan v1.Update, 16)
	go func() {
		var total, complete int64
		for u := range updates { // remote closes it when done (not waited for: an early error may not)
			if u.Total > total {
				p.Grow(u.Total - total)
				total = u.Total
			}
			if u.Complete > complete {
				p.Add(u.Complete - complete)
				complete = u.Complete
			}
		}
	}()
	return append(ropts[:len(ropts):len(ropts)], remote.WithProgress(updates))
}
