package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/fromscratch/fromscratch/internal/progress"
	"github.com/fromscratch/fromscratch/publish"

	"github.com/spf13/pflag"
)

// sinks are the outputs of the commands that make an image (build, squash,
// slim): -o, --oci-layout, --push; open makes them publish's sinks.
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

// open returns the sinks asked for, in the order they are written: -o
// (a file, or stdout), --oci-layout, --push. It refuses, before any work, a
// command without output, an archive on stdout (-o -) when stdout is a
// terminal or with --json, an -o that exists and is not a regular file (a
// device, a symbolic link: it would be replaced), a malformed --push.
func (s sinks) open(cmd string, stdout io.Writer) (publish.Multi, error) {
	switch {
	case s.output == "" && s.ociLayout == "" && s.push == "":
		return nil, usage("%s: no output: give -o FILE, --oci-layout DIR or --push REF", cmd)
	case s.output == "-" && progress.IsTerminal(stdout):
		return nil, usage("-o -: stdout is a terminal; pipe the archive (-o - | docker load) or give a file")
	case s.output == "-" && s.json:
		return nil, usage("--json: stdout carries the archive (-o -); write it to a file")
	}
	var m publish.Multi
	switch s.output {
	case "":
	case "-":
		m = append(m, publish.NewWriter(stdout))
	default:
		a, err := publish.NewArchive(s.output)
		if err != nil {
			return nil, sinkError(err)
		}
		m = append(m, a)
	}
	if s.ociLayout != "" {
		m = append(m, publish.NewLayout(s.ociLayout))
	}
	if s.push != "" {
		r, err := publish.NewRemote(s.push, s.insecure)
		if err != nil {
			return nil, sinkError(err)
		}
		m = append(m, r)
	}
	return m, nil
}

// sinkError words the failure of a sink, exit 2.
func sinkError(err error) error {
	var pe *publish.Error
	switch {
	case !errors.As(err, &pe):
		return err
	case pe.Medium == publish.Stdout:
		return &exitError{code: 2, msg: fmt.Sprintf("writing the archive to stdout: %v", pe.Err)}
	case pe.Medium == publish.Registry:
		return &exitError{code: 2, msg: withFlagHint(fmt.Sprintf("pushing %s: %v", pe.Target, pe.Err), pe.Err)}
	}
	return &exitError{code: 2, msg: fmt.Sprintf("%s: %v", pe.Target, pe.Err)}
}

// outputArg is -o's value as the sinks take it: /dev/stdout is stdout, as
// -o - is (not a file to replace).
func outputArg(s string) string {
	if s == "/dev/stdout" {
		return "-"
	}
	return s
}

// report is what a command prints once its image is published.
type report struct {
	stdout, stderr io.Writer
	bar            *progress.Bar // stopped before anything is printed
	result         resultJSON    // --json's object, less what the sinks say
	summary        func()        // the command's lines on stderr
}

// publish writes art to m, then prints the result: the digest line (the
// pushed reference, REPO:TAG@sha256:..., or the digest) or the --json
// object on stdout (on stderr when stdout carries the archive), the
// command's summary and a line per push on stderr. A failed write is one
// line, its error.
func (s sinks) publish(ctx context.Context, m publish.Multi, art publish.Artifact, tag string, r report) error {
	pubs, err := m.Publish(ctx, art, tag)
	if err != nil {
		return sinkError(err)
	}
	r.bar.Stop()
	out := r.stdout
	if s.output == "-" {
		out = r.stderr
	}
	if err := printResult(out, s.json, pubs, r.result); err != nil {
		return err
	}
	if r.summary != nil {
		r.summary()
	}
	for _, p := range pubs {
		if p.Medium != publish.Registry {
			continue
		}
		fmt.Fprintf(r.stderr, "fromscratch: pushed %s (%s)\n", p.Reference, human(p.Size))
		if p.SBOM != nil {
			fmt.Fprintf(r.stderr, "fromscratch: attached the SBOM: %s\n", sbomWhere(p.SBOM))
		}
	}
	return nil
}

// sbomWhere says where a pushed SBOM went: its manifest, and the tag
// cosign finds it by where the registry has no referrers API (the other,
// sha256-HEX, is in --json).
func sbomWhere(s *publish.PublishedSBOM) string {
	if len(s.Tags) == 0 {
		return s.Reference + " (OCI 1.1 referrer)"
	}
	return fmt.Sprintf("%s (OCI 1.1 referrer; tag %s: the registry has no referrers API)", s.Reference, s.Tags[len(s.Tags)-1])
}

// outputFlags are the flags of the commands that write an image (build,
// squash, slim): where it goes, how its layers are compressed, how the
// result is said. Each command registers --insecure and --json itself
// (their help differs).
type outputFlags struct {
	output, ociLayout, push string
	level                   levelFlag
	insecure                bool
	json                    bool
}

// register defines -o, --oci-layout, --push and --level.
func (o *outputFlags) register(f *pflag.FlagSet) {
	f.StringVarP(&o.output, "output", "o", "", "write a docker load tarball to `FILE`, a new or regular file (- or /dev/stdout for stdout: -o - | docker load)")
	f.StringVar(&o.ociLayout, "oci-layout", "", "write an OCI image layout to DIR")
	f.StringVar(&o.push, "push", "", "push the image to REF (a short name, without /, goes under $FROMSCRATCH_REPO when set)")
	o.level = levelAuto
	f.Var(&o.level, "level", levelFlagUsage)
}

// sinks returns the outputs asked for; -o /dev/stdout becomes -o - (in o
// too: build reads o.output).
func (o *outputFlags) sinks() sinks {
	o.output = outputArg(o.output)
	return sinks{o.output, o.ociLayout, o.push, o.insecure, o.json}
}

// jsonFlagUsage is the help of --json, for every command that writes an image.
const jsonFlagUsage = "print the result as JSON on stdout instead of the digest line: tag, digest, reference (pushed: REPO:TAG@DIGEST), platform, layers, files, size (the files' bytes, uncompressed), outputs (what each output wrote, where a pushed SBOM went)"
