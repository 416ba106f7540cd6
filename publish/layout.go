package publish

import (
	"context"

	"github.com/fromscratch/fromscratch/image"
)

// Layout writes into an OCI image layout directory (--oci-layout DIR): a
// new one is staged next to it and renamed into place, an existing one gets
// the blobs and an atomically replaced index.json ([image.WriteOCILayout],
// [image.WriteOCILayoutIndex]).
type Layout struct{ dir string }

// NewLayout returns the sink of the layout at dir.
func NewLayout(dir string) *Layout { return &Layout{dir} }

// Publish implements [Interface]: an image, or an index and its images.
func (l *Layout) Publish(ctx context.Context, art Artifact, tag string) (Published, error) {
	fail := func(err error) (Published, error) { return Published{}, &Error{OCILayout, l.dir, err} }
	d, err := art.digest()
	if err != nil {
		return fail(err)
	}
	if art.Image != nil {
		err = image.WriteOCILayout(ctx, l.dir, tag, art.Image)
	} else {
		err = image.WriteOCILayoutIndex(ctx, l.dir, tag, art.Index)
	}
	if err != nil {
		return fail(err)
	}
	size, err := art.size()
	if err != nil {
		return fail(err)
	}
	return Published{Medium: OCILayout, Path: l.dir, Digest: d.String(), Size: size}, nil
}

// Close implements [Interface].
func (l *Layout) Close() error { return nil }
