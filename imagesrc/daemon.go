package imagesrc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// pingTimeout bounds the wait for an engine to answer at all.
const pingTimeout = 5 * time.Second

// isImageID says whether s is an engine's image ID, full or short:
// [sha256:]HEX, 1 to 64 lower-case hex digits. (Not a regexp: each one
// compiled at start costs every command's start.)
func isImageID(s string) bool {
	s = strings.TrimPrefix(s, "sha256:")
	return s != "" && len(s) <= 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// dialEngine returns a client of the Docker engine DOCKER_HOST names (the
// local socket by default), once the engine answered a ping.
func dialEngine(ctx context.Context) (*engineClient, error) {
	cli, err := newEngine()
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := cli.ping(pctx); err != nil {
		cli.close()
		return nil, &noEngineError{host: cli.host, err: err}
	}
	return cli, nil
}

// noEngineError is the error when no engine answers a ping.
type noEngineError struct {
	host string
	err  error
}

func (e *noEngineError) Error() string {
	return fmt.Sprintf("no Docker engine answered at %s: %v", e.host, e.err)
}

func (e *noEngineError) Unwrap() error { return e.err }

// fromDaemon opens NAME (a name, a name:tag, an image ID) in the engine.
func fromDaemon(ctx context.Context, ref string) (v1.Image, error) {
	if _, err := name.ParseReference(ref); err != nil && !isImageID(ref) {
		return nil, err
	}
	cli, err := dialEngine(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.close()
	return fromEngine(ctx, cli, ref)
}

// fromEngine reads the image ref names in the engine: its ID and diff_ids
// from the inspect API, then its bytes in one pass of the save API's
// stream (what `docker save` writes), copied into a temporary file
// (removed at once, and read in place while the image is in use) and
// hashed on the way: the image is returned at once, and each layer can be
// read while it arrives (docker 20.10's and OCI layouts name it before
// its bytes) or once in (the stream's file that hashes to its diff_id),
// the config (the file that hashes to the image ID) once in, while the
// rest arrives (see streamImage). The image of a `docker save` archive,
// its bytes checked, without reading them again.
func fromEngine(ctx context.Context, cli *engineClient, ref string) (v1.Image, error) {
	ins, err := cli.inspect(ctx, ref)
	if errors.Is(err, errEngineNotFound) {
		return nil, fmt.Errorf("%w in the Docker engine (%s)", ErrNotFound, cli.host)
	}
	if err != nil {
		return nil, err
	}
	return fromInspected(ctx, cli, ins)
}

// fromInspected is fromEngine of an image already inspected.
func fromInspected(ctx context.Context, cli *engineClient, ins *engineImage) (v1.Image, error) {
	id, err := v1.NewHash(ins.ID)
	if err != nil {
		return nil, fmt.Errorf("the engine's image ID %q: %w", ins.ID, err)
	}
	var diffIDs []v1.Hash
	for _, l := range ins.RootFS.Layers {
		d, err := v1.NewHash(l)
		if err != nil {
			return nil, fmt.Errorf("the engine's layer %q: %w", l, err)
		}
		diffIDs = append(diffIDs, d)
	}
	f, err := os.CreateTemp("", "fromscratch-engine-*.tar")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // gone whatever happens; the bytes live while f is open
	rc, err := cli.save(ctx, ins.ID)
	if err != nil {
		f.Close()
		return nil, err
	}
	return newStreamImage(f, rc, id, diffIDs), nil
}

// IsBare reports whether ref is a bare name: a reference that names no
// registry ("app", "app:1.0", "me/app@sha256:..."), which Docker would
// complete with Docker Hub's; not a path, not a transport.
// "127.0.0.1:5000/app", "localhost/app" and "docker.io/library/app" name
// theirs.
func IsBare(ref string) bool {
	if HasTransport(ref) || IsPath(ref) {
		return false
	}
	if _, err := name.ParseReference(ref); err != nil {
		return false
	}
	first, _, found := strings.Cut(ref, "/")
	return !found || !strings.ContainsAny(first, ".:") && first != "localhost"
}

// NotFoundError is why a bare name is not open: neither the Docker engine
// nor the registry gave it. Open returns it in a *fs.PathError for the
// name.
type NotFoundError struct {
	// Engine says why the engine did not: "not in the Docker engine
	// (HOST)", "no Docker engine answered (HOST)"...
	Engine string
	// Registry names the registry tried; Err is its error.
	Registry string
	Err      error
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s; not in the registry %s: %v", e.Engine, e.Registry, e.Err)
}

func (e *NotFoundError) Unwrap() []error { return []error{ErrNotFound, e.Err} }

// openBare opens a bare name: the Docker engine's image when an engine
// answers and has it (for the platform, when one is asked for), or else
// the registry's.
func openBare(ctx context.Context, ref string, plat *v1.Platform, opts Options) (v1.Image, error) {
	var engine string
	cli, err := dialEngine(ctx)
	var ne *noEngineError
	switch {
	case errors.As(err, &ne):
		engine = "no Docker engine answered (" + ne.host + ")"
	case err != nil:
		engine = err.Error()
	default:
		defer cli.close()
		ins, err := cli.inspect(ctx, ref)
		switch {
		case errors.Is(err, errEngineNotFound):
			engine = "not in the Docker engine (" + cli.host + ")"
		case err != nil:
			return nil, err
		case opts.Platform != "" && !(&v1.Platform{OS: ins.Os, Architecture: ins.Architecture, Variant: ins.Variant}).Satisfies(*plat):
			engine = fmt.Sprintf("the Docker engine's (%s) is for %s/%s", cli.host, ins.Os, ins.Architecture)
		default:
			return fromInspected(ctx, cli, ins) // inspected once
		}
	}
	opts.registryOnly = true
	img, err := open(ctx, ref, opts)
	if err != nil {
		registry := "index.docker.io"
		if r, perr := name.ParseReference(ref); perr == nil {
			registry = r.Context().RegistryStr()
		}
		return nil, &fs.PathError{Op: "open", Path: ref, Err: &NotFoundError{Engine: engine, Registry: registry, Err: err}}
	}
	return img, nil
}
