package image

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fromscratch/fromscratch/internal/registry"
)

// Push pushes img to the registry reference ref ("registry.example/app:1.0";
// a bare name gets ":latest") with credentials from the Docker config
// keychain (authn.DefaultKeychain: ~/.docker/config.json, credential
// helpers). Only insecure allows plain HTTP, to any registry (without it a
// registry on localhost or a private address is reached over HTTPS too); the
// requests are bounded and retried as package registry says. It returns the
// pushed image as a digest reference, "registry.example/app@sha256:...".
// A short name (no "/") goes under $FROMSCRATCH_REPO when it is set
// (see ExpandRef).
func Push(ctx context.Context, ref string, img v1.Image, insecure bool) (string, error) {
	return push(ctx, ref, insecure, img, func(r name.Reference, o ...remote.Option) error {
		return remote.Write(r, img, o...)
	})
}

// push writes what (an image or an index) to ref with write, and returns
// its digest reference.
func push(ctx context.Context, ref string, insecure bool, what interface{ Digest() (v1.Hash, error) },
	write func(name.Reference, ...remote.Option) error) (string, error) {
	ref = ExpandRef(ref)
	r, err := registry.Reference(ref, insecure)
	if err != nil {
		return "", fmt.Errorf("pushing to %q: %w", ref, err)
	}
	d, err := what.Digest()
	if err != nil {
		return "", fmt.Errorf("pushing to %q: %w", ref, err)
	}
	ropts, err := registry.Options(ctx, insecure)
	if err != nil {
		return "", fmt.Errorf("pushing to %q: %w", ref, err)
	}
	if p := ProgressFrom(ctx); p != nil {
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
		ropts = append(ropts, remote.WithProgress(updates))
	}
	if err := write(r, ropts...); err != nil {
		return "", fmt.Errorf("pushing to %q: %w", ref, registry.Explain(err))
	}
	return r.Context().Digest(d.String()).String(), nil
}

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
