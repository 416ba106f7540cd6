package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/internal/progress"
)

// sinks are the outputs of the commands that make an image (build, squash,
// slim): -o, --oci-layout, --push.
type sinks struct {
	output, ociLayout, push string
	insecure                bool
	json                    bool // --json: the result as JSON on stdout
}

// levelFlagUsage is the help of --level, for every command that writes layers.
const levelFlagUsage = "layer compression: gzip level 1 (fastest) to 9, or 0 for none (plain tar, as docker save writes); auto: none when -o is the only output (docker load undoes it at once), 6 otherwise; part of the digest"

// levelFlag is --level: 0 to 9, or levelAuto.
type levelFlag int

const levelAuto levelFlag = -1

func (l *levelFlag) String() string {
	if *l == levelAuto {
		return "auto"
	}
	return strconv.Itoa(int(*l))
}

func (l *levelFlag) Set(s string) error {
	if s == "auto" {
		*l = levelAuto
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 9 {
		return fmt.Errorf("want 0 (none), 1 (fastest) to 9, or auto")
	}
	*l = levelFlag(n)
	return nil
}

func (l *levelFlag) Type() string { return "level" }

// compression turns --level into the gzip level and whether layers are
// left uncompressed. A `docker load` archive is loaded
// where it is made, as docker save's are: by default its layers are plain
// tar, which is what docker's own store holds; layouts and pushes travel and
// are gzipped.
func (s sinks) compression(level levelFlag) (gzipLevel int, uncompressed bool, err error) {
	switch {
	case level == levelAuto && s.output != "" && s.ociLayout == "" && s.push == "":
		return 0, true, nil
	case level == levelAuto:
		return 0, false, nil
	case level == 0:
		return 0, true, nil
	case level >= 1 && level <= 9:
		return int(level), false, nil
	}
	return 0, false, usage("--level %d: want 0 (none), 1 to 9 or auto", level)
}

// check refuses what cannot be written, before any work: an archive on
// stdout (-o -) when stdout is a terminal.
func (s sinks) check(stdout io.Writer) error {
	if s.output == "-" && progress.IsTerminal(stdout) {
		return usage("-o -: stdout is a terminal; pipe the archive (-o - | docker load) or give a file")
	}
	if s.output == "-" && s.json {
		return usage("--json: stdout carries the archive (-o -); write it to a file")
	}
	return nil
}

// lineOut is where the digest line goes: stdout, or stderr when stdout
// carries the archive (-o -).
func (s sinks) lineOut(stdout, stderr io.Writer) io.Writer {
	if s.output == "-" {
		return stderr
	}
	return stdout
}

// write writes img to each output asked for (-o - is stdout) and returns
// the line to print (to lineOut): its digest, or, pushed, its digest
// reference. A failed write is exit 2 naming the output.
func (s sinks) write(ctx context.Context, stdout io.Writer, tag string, img v1.Image) (string, error) {
	switch s.output {
	case "":
	case "-":
		if err := image.StreamDockerArchive(ctx, stdout, tag, img); err != nil {
			return "", &exitError{code: 2, msg: fmt.Sprintf("writing the archive to stdout: %v", err)}
		}
	default:
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

func (o *buildOptions) sinks() sinks { return sinks{o.output, o.ociLayout, o.push, o.insecure, o.json} }
func (o *squashOptions) sinks() sinks {
	return sinks{o.output, o.ociLayout, o.push, o.insecure, o.json}
}
func (o *slimOptions) sinks() sinks { return sinks{o.output, o.ociLayout, o.push, o.insecure, o.json} }

// jsonFlagUsage is the help of --json, for every command that writes an image.
const jsonFlagUsage = "print the result as JSON on stdout instead of the digest line: tag, digest, reference (pushed), platform, layers, files, size (the files' bytes, uncompressed)"
