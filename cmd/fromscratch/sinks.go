package main

import (
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/image"
)

// sinks are the outputs of the commands that make an image (build, squash,
// slim): -o, --oci-layout, --push.
type sinks struct {
	output, ociLayout, push string
	insecure                bool
}

// write writes img to each output asked for and prints its digest, or,
// pushed, its digest reference. A failed write is exit 2 naming the output.
func (s sinks) write(ctx context.Context, stdout io.Writer, tag string, img v1.Image) error {
	if s.output != "" {
		if err := image.WriteDockerArchive(ctx, s.output, tag, img); err != nil {
			return &exitError{code: 2, msg: fmt.Sprintf("%s: %v", s.output, err)}
		}
	}
	if s.ociLayout != "" {
		if err := image.WriteOCILayout(ctx, s.ociLayout, tag, img); err != nil {
			return &exitError{code: 2, msg: fmt.Sprintf("%s: %v", s.ociLayout, err)}
		}
	}
	if s.push != "" {
		ref, err := image.Push(ctx, s.push, img, s.insecure)
		if err != nil {
			return &exitError{code: 2, msg: fmt.Sprintf("pushing %s: %v", s.push, err)}
		}
		fmt.Fprintln(stdout, ref)
		return nil
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, digest)
	return nil
}
