package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime/debug"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/imagesrc"
	"github.com/fromscratch/fromscratch/rootsrc"
)

// openImage opens the image ref names, as a usage error (exit 2) naming
// ref when it cannot.
func openImage(ctx context.Context, ref string, opts imagesrc.Options) (v1.Image, error) {
	img, err := imagesrc.Open(ctx, ref, opts)
	if err != nil {
		return nil, &exitError{code: 2, msg: describeImageErr(err)}
	}
	return img, nil
}

// describeImageErr is the one-line reason for an image error: "REF:
// reason" for a path that names no image or a bare name found nowhere.
func describeImageErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Path + ": " + pe.Err.Error()
	}
	return withFlagHint(err.Error(), err)
}

// openRoot opens the root of `--root VALUE` (see rootsrc.Open: a
// directory, or an image when VALUE has a transport prefix or is not an
// existing path and parses as a reference; PLATFORM=ROOT), as a usage
// error (exit 2) naming VALUE when it cannot. Close the root when done.
// Reading an image stops when ctx is done (an interrupt).
func openRoot(ctx context.Context, value string, opts rootsrc.Options) (*rootsrc.Root, error) {
	image := rootsrc.IsImage(value)
	if image {
		readingImage()
	}
	r, err := rootsrc.Open(ctx, value, opts)
	switch {
	case err == nil:
		return r, nil
	case errors.Is(err, context.Canceled):
		return nil, err
	case image:
		return nil, &exitError{code: 2, msg: describeImageErr(err)}
	}
	return nil, &exitError{code: 2, msg: fmt.Sprintf("%s: %v", value, unwrapPathError(err))}
}

// readingImage sets the collector for reading an image's layers into a
// view: the view's tree (one node a live path) lives to the end of the
// command, so the 400% the short commands run with would let the heap grow
// to five times it (1.4 GB for a layer of 1,000,000 empty files); the
// runtime's default 100% keeps it near twice.
func readingImage() {
	debug.SetGCPercent(100)
}
