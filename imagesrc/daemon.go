package imagesrc

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"
)

// pingTimeout bounds the wait for an engine to answer at all.
const pingTimeout = 5 * time.Second

// imageID matches an engine's image ID, full or short.
var imageID = regexp.MustCompile(`^(sha256:)?[0-9a-f]{1,64}$`)

// dialEngine returns a client of the Docker engine DOCKER_HOST names (the
// local socket by default), once the engine answered a ping.
func dialEngine(ctx context.Context) (*client.Client, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, err
	}
	return cli, nil
}

// fromDaemon opens NAME (a name, a name:tag, an image ID) in the engine.
func fromDaemon(ctx context.Context, ref string) (v1.Image, error) {
	if _, err := name.ParseReference(ref); err != nil && !imageID.MatchString(ref) {
		return nil, err
	}
	cli, err := dialEngine(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	return fromEngine(ctx, cli, ref)
}

// fromEngine reads the image ref names in the engine: its ID from the
// inspect API, then its bytes in one pass of the save API's stream (what
// `docker save` writes) into a temporary file, removed at once and read in
// place while the image is in use. The image is that archive's: its config
// (and history) as the engine stored it, plain tar layers named by their
// diff_ids, as inspect of a `docker save` archive shows them.
func fromEngine(ctx context.Context, cli *client.Client, ref string) (v1.Image, error) {
	ins, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		return nil, err
	}
	id, err := v1.NewHash(ins.ID)
	if err != nil {
		return nil, fmt.Errorf("the engine's image ID %q: %w", ins.ID, err)
	}
	f, err := os.CreateTemp("", "fromscratch-engine-*.tar")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // gone whatever happens; the bytes live while f is open
	keep := false
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	rc, err := cli.ImageSave(ctx, []string{ins.ID})
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(f, rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the engine's stream: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, ok, err := readPlainArchive(f, "", f, nil)
	if !ok {
		// Compressed layers (an engine with the containerd store): the
		// tarball package reads them.
		img, err = tarball.Image(func() (io.ReadCloser, error) {
			return io.NopCloser(io.NewSectionReader(f, 0, n)), nil
		}, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("the engine's stream: %w", err)
	}
	got, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("the engine's stream: %w", err)
	}
	if got != id {
		return nil, fmt.Errorf("the engine's stream holds image %s, not %s", got, id)
	}
	keep = true
	return img, nil
}
