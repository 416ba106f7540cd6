package imagesrc

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// pingTimeout bounds the wait for an engine to answer at all.
const pingTimeout = 5 * time.Second

// imageID matches an engine's image ID, full or short.
var imageID = regexp.MustCompile(`^(sha256:)?[0-9a-f]{1,64}$`)

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
	if _, err := name.ParseReference(ref); err != nil && !imageID.MatchString(ref) {
		return nil, err
	}
	cli, err := dialEngine(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.close()
	return fromEngine(ctx, cli, ref)
}

// fromEngine reads the image ref names in the engine: its ID from the
// inspect API, then its bytes in one pass of the save API's stream (what
// `docker save` writes), copied into a temporary file (removed at once, and
// read in place while the image is in use) and hashed on the way. The
// config is the file of the stream that hashes to the image ID, each layer
// the one that hashes to its diff_id: the image of a `docker save`
// archive, its bytes checked, without reading them again. A stream whose
// layers are compressed (an engine with the containerd store) is read as
// an archive is.
func fromEngine(ctx context.Context, cli *engineClient, ref string) (v1.Image, error) {
	ins, err := cli.inspect(ctx, ref)
	if errors.Is(err, errEngineNotFound) {
		return nil, fmt.Errorf("%w in the Docker engine (%s)", ErrNotFound, cli.host)
	}
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
	rc, err := cli.save(ctx, ins.ID)
	if err != nil {
		return nil, err
	}
	files, n, err := copyHashed(f, rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the engine's stream: %w", err)
	}
	img, err := imageOfStream(f, n, files, id)
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

// copyHashed copies the tar stream r into f and returns where each regular
// file's bytes are in f, by the SHA-256 of those bytes (the first file of
// each hash), and the bytes copied.
func copyHashed(f *os.File, r io.Reader) (map[v1.Hash]archiveEntry, int64, error) {
	w := bufio.NewWriterSize(f, 1<<20)
	cr := &countingReader{r: io.TeeReader(r, w)}
	files := map[v1.Hash]archiveEntry{}
	tr := tar.NewReader(cr)
	buf := make([]byte, 1<<20)
	h := sha256.New()
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		if hdr.Typeflag != tar.TypeReg || sparse(hdr) {
			continue // a layer stored as a link is another's bytes
		}
		off := cr.n // tar reads a header and no further
		h.Reset()
		if _, err := io.CopyBuffer(h, tr, buf); err != nil {
			return nil, 0, err
		}
		sum := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
		if _, dup := files[sum]; !dup {
			files[sum] = archiveEntry{off: off, size: hdr.Size}
		}
	}
	if _, err := io.CopyBuffer(io.Discard, cr, buf); err != nil { // the rest, as docker save writes it
		return nil, 0, err
	}
	if err := w.Flush(); err != nil {
		return nil, 0, err
	}
	return files, cr.n, nil
}

// imageOfStream is the image of the archive copied into f (n bytes), its
// regular files by hash: config id and plain layers, or else whatever
// the archive readers make of it.
func imageOfStream(f *os.File, n int64, files map[v1.Hash]archiveEntry, id v1.Hash) (v1.Image, error) {
	if e, ok := files[id]; ok && e.size <= maxJSON {
		cfgRaw := make([]byte, e.size)
		if _, err := f.ReadAt(cfgRaw, e.off); err != nil {
			return nil, err
		}
		cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
		if err != nil {
			return nil, fmt.Errorf("the config %s: %w", id, err)
		}
		layers := make([]*archiveLayer, 0, len(cfg.RootFS.DiffIDs))
		for _, d := range cfg.RootFS.DiffIDs {
			e, ok := files[d]
			if !ok {
				break // a compressed layer
			}
			layers = append(layers, &archiveLayer{file: f, entry: e, mt: types.DockerUncompressedLayer, plain: true, diffID: d})
		}
		if len(layers) == len(cfg.RootFS.DiffIDs) {
			return plainImage(cfgRaw, layers)
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if img, ok, err := readPlainArchive(f, "", f, nil); ok {
		return img, err
	}
	return tarball.Image(func() (io.ReadCloser, error) {
		return io.NopCloser(io.NewSectionReader(f, 0, n)), nil
	}, nil)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
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
			return fromEngine(ctx, cli, ins.ID)
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
