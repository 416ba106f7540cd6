package publish

import (
	"context"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/fromscratch/fromscratch/image"
)

// Archive writes a `docker load` archive file (-o FILE): a hidden temporary
// file next to it, renamed into place once complete ([image.WriteDockerArchive]).
type Archive struct {
	path   string
	stream *image.ArchiveWriter
}

// NewArchive returns the sink of the archive file path, which must be new
// or a regular file ([image.CheckOutput]): a device, a named pipe, a
// symbolic link or a directory is refused now, before any work.
func NewArchive(path string) (*Archive, error) {
	if err := image.CheckOutput(path); err != nil {
		return nil, &Error{DockerArchive, path, err}
	}
	return &Archive{path: path}, nil
}

// Stream starts the archive now ([image.CreateArchive]) and returns its
// writer, for the layers to be written into it as they are made (no
// temporary layer file, no second copy); Publish then adds the config and
// manifest and renames it into place. Close removes it unless published.
func (a *Archive) Stream() (*image.ArchiveWriter, error) {
	if a.stream == nil {
		w, err := image.CreateArchive(a.path)
		if err != nil {
			return nil, &Error{DockerArchive, a.path, err}
		}
		a.stream = w
	}
	return a.stream, nil
}

// Publish implements [Interface]. An index is refused ([ErrIndex]).
func (a *Archive) Publish(ctx context.Context, art Artifact, tag string) (Published, error) {
	fail := func(err error) (Published, error) { return Published{}, &Error{DockerArchive, a.path, err} }
	if art.Image == nil {
		return fail(ErrIndex)
	}
	var err error
	if a.stream != nil {
		err = a.stream.Commit(ctx, tag, art.Image)
	} else {
		err = image.WriteDockerArchive(ctx, a.path, tag, art.Image)
	}
	if err != nil {
		return fail(err)
	}
	d, err := art.Image.Digest()
	if err != nil {
		return fail(err)
	}
	fi, err := os.Stat(a.path)
	if err != nil {
		return fail(err)
	}
	return Published{Medium: DockerArchive, Path: a.path, Digest: d.String(), Size: fi.Size()}, nil
}

// Close implements [Interface].
func (a *Archive) Close() error {
	if a.stream == nil {
		return nil
	}
	return a.stream.Close()
}

// Writer streams a `docker load` archive to a writer (-o -: stdout, for
// `| docker load`), as [Archive] writes a file
// ([image.StreamDockerArchive]). What was written when it fails is
// incomplete.
type Writer struct{ w io.Writer }

// NewWriter returns the sink of the archive written to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w} }

// Publish implements [Interface]. An index is refused ([ErrIndex]).
func (s *Writer) Publish(ctx context.Context, art Artifact, tag string) (Published, error) {
	fail := func(err error) (Published, error) { return Published{}, &Error{Stdout, "-", err} }
	if art.Image == nil {
		return fail(ErrIndex)
	}
	if err := image.StreamDockerArchive(ctx, s.w, tag, art.Image); err != nil {
		return fail(err)
	}
	d, err := art.Image.Digest()
	if err != nil {
		return fail(err)
	}
	// What tarball.Write wrote, as it counts it.
	t, err := image.NormalizeTag(tag)
	if err != nil {
		return fail(err)
	}
	size, err := tarball.CalculateSize(map[name.Reference]v1.Image{t: art.Image})
	if err != nil {
		return fail(err)
	}
	return Published{Medium: Stdout, Path: "-", Digest: d.String(), Size: size}, nil
}

// Close implements [Interface].
func (s *Writer) Close() error { return nil }
