package main

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/image"
)

// sinks are the outputs of the commands that make an image (build, squash,
// slim): -o, --oci-layout, --push.
type sinks struct {
	output, ociLayout, push string
	insecure                bool
}

// levelFlagUsage is the help of --level, for every command that writes layers.
const levelFlagUsage = "layer compression: gzip level 1 (fastest) to 9, or 0 for none (plain tar, as docker save writes); default: none when -o is the only output (docker load undoes it at once), 6 otherwise; part of the digest"

// compression turns --level (-1 when not given) into the gzip level and
// whether layers are left uncompressed. A `docker load` archive is loaded
// where it is made, as docker save's are: by default its layers are plain
// tar, which is what docker's own store holds; layouts and pushes travel and
// are gzipped.
func (s sinks) compression(level int) (gzipLevel int, uncompressed bool, err error) {
	switch {
	case level == -1 && s.output != "" && s.ociLayout == "" && s.push == "":
		return 0, true, nil
	case level == -1:
		return 0, false, nil
	case level == 0:
		return 0, true, nil
	case level >= 1 && level <= 9:
		return level, false, nil
	}
	return 0, false, usage("--level %d: want 0 (none) or 1 to 9", level)
}

// write writes img to each output asked for and returns the line to print:
// its digest, or, pushed, its digest reference. A failed write is exit 2
// naming the output.
func (s sinks) write(ctx context.Context, tag string, img v1.Image) (string, error) {
	if s.output != "" {
		if err := image.WriteDockerArchive(ctx, s.output, tag, img); err != nil {
			return "", &exitError{code: 2, msg: fmt.Sprintf("%s: %v", s.output, err)}
		}
	}
	if s.ociLayout != "" {
		if err := image.WriteOCILayout(ctx, s.ociLayout, tag, img); err != nil {
			return "", &exitError{code: 2, msg: fmt.Sprintf("%s: %v", s.ociLayout, err)}
		}
	}
	if s.push != "" {
		ref, err := image.Push(ctx, s.push, img, s.insecure)
		if err != nil {
			return "", &exitError{code: 2, msg: fmt.Sprintf("pushing %s: %v", s.push, err)}
		}
		return ref, nil
	}
	digest, err := img.Digest()
	if err != nil {
		return "", err
	}
	return digest.String(), nil
}
