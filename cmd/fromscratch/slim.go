package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/imagesrc"
	"github.com/fromscratch/fromscratch/internal/progress"
	"github.com/fromscratch/fromscratch/publish"
	"github.com/fromscratch/fromscratch/slim"
)

type slimOptions struct {
	outputFlags
	platform string
	keep     []string
	tag      string

	entrypoint string
	cmd        string
	probes     []string
	probeHTTP  []string
	timeout    time.Duration

	exclude []string
	sbom    sbomFlags
}

func newSlimCmd() *cobra.Command {
	o := &slimOptions{}
	cmd := &cobra.Command{
		Use:     "slim [flags] IMAGE [--probe -- ARGS...]",
		Short:   "Cut an image down to what its entrypoint needs",
		Long:    slimLong,
		Example: slimExample,
		Args: func(cmd *cobra.Command, args []string) error {
			n := cmd.ArgsLenAtDash()
			if n < 0 {
				n = len(args)
			}
			if n != 1 {
				return fmt.Errorf("want one IMAGE, got %d arguments before -- (several probes: --probe='ARGS')", n)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var dash []string
			if cmd.ArgsLenAtDash() >= 0 {
				dash = args[1:]
				if dash == nil {
					dash = []string{}
				}
			}
			return runSlim(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o, args[0], dash)
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// addFlags defines the command's flags.
func (o *slimOptions) addFlags(f *pflag.FlagSet) {
	f.StringArrayVar(&o.keep, "keep", nil, "PATH of the image (a file or a directory) to keep too (repeatable)")
	f.StringArrayVar(&o.exclude, "exclude", nil, "GLOB of paths to leave out with what is under them, unresolved (repeatable): a name (*.a, __pycache__) or a whole path (/usr/share/doc)")
	o.outputFlags.register(f)
	f.StringVarP(&o.tag, "tag", "t", "", "NAME:TAG recorded in the tarball or layout (default: IMAGE's NAME:TAG-slim, or slim:latest)")
	f.BoolVar(&o.insecure, "insecure", false, "allow a plain-HTTP registry (IMAGE and --push)")
	f.StringVar(&o.platform, "platform", "", "platform to pick from a multi-platform image, e.g. linux/arm64 (default: the host's)")
	f.StringVar(&o.entrypoint, "entrypoint", "", "keep what this entrypoint needs and make it the slim image's (JSON array or words; clears Cmd, as docker run does)")
	f.StringVar(&o.cmd, "cmd", "", "the slim image's Cmd instead of the image's (JSON array or words)")
	f.StringArrayVar(&o.probes, "probe", nil, "run the entrypoint with the `ARGS` after -- (or --probe='ARGS', words or a JSON array; repeatable) under the tracer and keep what it uses; the slim image must do the same")
	f.Lookup("probe").NoOptDefVal = probeDash
	f.StringArrayVar(&o.probeHTTP, "probe-http", nil, "start the entrypoint, GET `PORT[/PATH]` once it answers, keep what that used; the slim image must answer the same (repeatable)")
	f.DurationVar(&o.timeout, "timeout", defaultProbeTimeout, "bound on each probe: a command's run, or the wait for its port")
	f.BoolVar(&o.json, "json", false, jsonFlagUsage)
	o.sbom.register(f)
}

// slimLong is the command's --help.
const slimLong = `slim writes IMAGE with only what its entrypoint needs: the program it runs
(looked up in the image's PATH, as doctor does), its #! interpreters, the
libraries and loader the dynamic loader would load for them, the image's
/etc/passwd, /etc/group and /etc/nsswitch.conf, the working directory, /tmp,
and the files and directories given with --keep (configuration, data,
/etc/ssl, /usr/share/zoneinfo...). Everything else goes: shells, package
managers, documentation. Owners and modes are the image's.

The configuration (entrypoint, cmd, env, user, working directory, labels,
exposed ports, volumes) is kept as it is. The new image has up to three
layers, as build makes them (loader, C library and runtime files; other
libraries; program and kept files), the package records on top, one history
entry each, and the same digest for the same IMAGE and flags (SOURCE_DATE_EPOCH sets the timestamps;
the default is the Unix epoch).

Before writing, the slim image is checked as doctor would: slim refuses to
write an image that would not start. It cannot know what the program opens
at run time besides its libraries (plugins loaded with dlopen, data files,
programs it runs): keep those with --keep, or let slim find them with probes.

Probes: --probe -- ARGS runs the image's entrypoint with ARGS as its command
(as docker run IMAGE ARGS); several probes are given as --probe='ARGS' (words,
or a JSON array), repeated, and may be mixed with the one after --.
--probe-http PORT[/PATH] starts the entrypoint with its Cmd, waits until the
container's PORT (published on 127.0.0.1 only) answers, GETs /PATH and stops
it. Each probe runs in the Docker engine, in a container of IMAGE with
fromscratch bind-mounted as the tracer (fromscratch trace): the slim image
keeps every path a probe used that IMAGE has (a directory without its
contents, a program or library with its ELF closure). Then the same probes
run on the slim image, without the tracer: they must give the same exit
status, output and error output (for HTTP, the same status and body), or
slim writes nothing and exits 1 naming the difference. --timeout bounds each
probe (a command's run, or the wait for the port; default 1m).

No Docker daemon is needed; IMAGE is read twice, layer by layer, never held
in memory. IMAGE is docker-archive:PATH[:NAME:TAG], oci-layout:DIR[:TAG|@DIGEST],
docker-daemon:NAME or a registry reference. A bare name (app:1.0) is the Docker
engine's image, or else Docker Hub's; a path (/..., ./..., ../...) is never a
reference.

Unless --no-package-records, a top layer carries the records of IMAGE's
packages the slim image holds files of (/var/lib/dpkg/status.d), so that
scanners find them; --sbom FILE writes the SBOM (see build --help).

Exit status: 0 written; 1 the entrypoint cannot start (a library not in the
image, or the image is already broken: see fromscratch doctor) or the slim
image would not, or a probe gives another result on it; 2 bad usage, an
unreadable or unsafe image, or probes that cannot run.`

// slimExample is the command's examples.
const slimExample = `  fromscratch slim -o app-slim.tar docker-daemon:app:latest
  docker load -i app-slim.tar

  # keep the CA certificates and the time zones
  fromscratch slim --keep /etc/ssl --keep /usr/share/zoneinfo --push registry.example/app:slim registry.example/app:1.0

  # keep what two jobs use, found by running them
  fromscratch slim -o py-slim.tar --probe='-c "import json, sqlite3"' docker-daemon:python:3.11 --probe -- -m json.tool --help

  # a server: what answering GET / uses
  fromscratch slim -o nginx-slim.tar --probe-http 80/index.html docker-daemon:nginx:fat`

func runSlim(ctx context.Context, stdout, stderr io.Writer, o *slimOptions, ref string, dash []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	m, err := o.sinks().open("slim", stdout)
	if err != nil {
		return err
	}
	defer m.Close()
	sopts, tag, probes, err := o.slimOptions(ref, dash)
	if err != nil {
		return err
	}
	img, err := openImage(ctx, ref, imagesrc.Options{Platform: o.platform, Insecure: o.insecure})
	if err != nil {
		return err
	}
	var eng *engine
	var want []probeResult
	if len(probes) > 0 {
		if eng, want, err = o.traceProbes(ctx, stderr, ref, img, &sopts, probes); err != nil {
			return err
		}
	}
	bar := progress.Start(stderr, "slimming")
	defer bar.Stop()
	if bar != nil {
		ctx = image.WithProgress(ctx, bar)
	}
	out, res, err := slim.Slim(ctx, img, sopts)
	if err != nil {
		return slimError(ref, err)
	}
	if len(probes) > 0 {
		bar.Stop()
		fmt.Fprintf(stderr, "fromscratch: checking the %d probe(s) on the slim image (%d traced paths kept)\n", len(probes), len(sopts.Traced))
		if err := checkSlim(ctx, eng, out, probes, want, o.timeout); err != nil {
			var d *probeDiff
			if errors.As(err, &d) {
				return &worded{msg: fmt.Sprintf("slim %s: %v: nothing written (keep what is missing with --keep, or add a probe that uses it)", ref, err), err: err}
			}
			return &exitError{code: 2, msg: fmt.Sprintf("slim %s: %v", ref, describe(err))}
		}
	}
	art := publish.Artifact{Image: out}
	if res.SBOM != nil {
		res.SBOM.Name = tag
		if art.SBOM, err = o.sbom.write(res.SBOM); err != nil {
			return err
		}
	}
	r := resultJSON{Tag: tag, Platform: platformOf(out), Layers: res.Layers, Files: res.Files, Size: res.Bytes, Excluded: res.Excluded}
	return o.sinks().publish(ctx, m, art, tag, report{stdout, stderr, bar, r, func() { slimSummary(stderr, ref, res) }})
}

// slimOptions checks the flags and turns them into slim.Options, and
// returns them with the tag and the probes.
func (o *slimOptions) slimOptions(ref string, dash []string) (sopts slim.Options, tag string, probes []probe, err error) {
	level, uncompressed, err := o.sinks().compression(o.level)
	if err != nil {
		return sopts, "", nil, err
	}
	if err := o.sbom.check("slim", 1); err != nil {
		return sopts, "", nil, err
	}
	for _, k := range o.keep {
		if !strings.HasPrefix(k, "/") {
			return sopts, "", nil, usage("--keep %q: want an absolute path of the image", k)
		}
	}
	if tag = o.tag; tag == "" {
		tag = slimTag(ref)
	}
	if _, err := image.NormalizeTag(tag); err != nil {
		return sopts, "", nil, usage("-t: %v", err)
	}
	if probes, err = parseProbes(o.probes, o.probeHTTP, dash); err != nil {
		return sopts, "", nil, usage("slim: %v", err)
	}
	if o.timeout <= 0 {
		return sopts, "", nil, usage("--timeout %v: want a positive duration", o.timeout)
	}
	sopts = slim.Options{Keep: o.keep, Created: sourceDateEpoch(), Level: level, Uncompressed: uncompressed, Name: ref, Exclude: o.exclude,
		PackageRecords: !o.sbom.noRecords, SBOM: o.sbom.file != ""}
	if o.entrypoint != "" {
		if sopts.Entrypoint, err = words(o.entrypoint); err != nil {
			return sopts, "", nil, usage("--entrypoint: %v", err)
		}
	}
	if o.cmd != "" {
		if sopts.Cmd, err = words(o.cmd); err != nil {
			return sopts, "", nil, usage("--cmd: %v", err)
		}
		if sopts.Cmd == nil {
			sopts.Cmd = []string{}
		}
	}
	return sopts, tag, probes, nil
}

// traceProbes runs the probes in a container of img under the tracer, and
// sets sopts.Traced to the paths they used; it returns the engine and what
// each probe gave, for the slim image to give the same.
func (o *slimOptions) traceProbes(ctx context.Context, stderr io.Writer, ref string, img v1.Image, sopts *slim.Options, probes []probe) (*engine, []probeResult, error) {
	eng, err := newEngine()
	if err != nil {
		return nil, nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, nil, &exitError{code: 2, msg: fmt.Sprintf("%s: reading config: %v", ref, err)}
	}
	ep, cmd := cf.Config.Entrypoint, cf.Config.Cmd
	if sopts.Entrypoint != nil {
		ep, cmd = sopts.Entrypoint, nil
	}
	if sopts.Cmd != nil {
		cmd = sopts.Cmd
	}
	name, done, err := eng.load(ctx, ref, img)
	if err != nil {
		return nil, nil, &exitError{code: 2, msg: fmt.Sprintf("%s: %s", ref, describe(err))}
	}
	defer done()
	fmt.Fprintf(stderr, "fromscratch: running %d probe(s) in %s under the tracer\n", len(probes), ref)
	want, traced, err := tracedProbes(ctx, eng, name, ep, cmd, probes, o.timeout)
	if err != nil {
		return nil, nil, &exitError{code: 2, msg: fmt.Sprintf("slim %s: %v", ref, err)}
	}
	sopts.Traced = traced
	return eng, want, nil
}

// slimSummary is slim's line on stderr.
func slimSummary(stderr io.Writer, ref string, res *slim.Result) {
	ratio := 0.0
	if res.BytesBefore > 0 {
		ratio = 100 * float64(res.BytesAfter) / float64(res.BytesBefore)
	}
	fmt.Fprintf(stderr, "fromscratch: slimmed %s: %s -> %s uncompressed (%.1f%%), %d layers, %d files, program %s%s\n",
		ref, human(res.BytesBefore), human(res.BytesAfter), ratio, res.Layers, res.Files, res.Program, closure.ExcludedString(res.Excluded))
}

// slimTag is NAME:TAG-slim for a registry or daemon reference with a tag,
// NAME:slim for one by digest, or "slim:latest".
func slimTag(ref string) string {
	if strings.HasPrefix(ref, imagesrc.DockerArchive) || strings.HasPrefix(ref, imagesrc.OCILayout) || imagesrc.LocalTransport(ref) != "" {
		return "slim:latest"
	}
	r, err := name.ParseReference(strings.TrimPrefix(ref, imagesrc.DockerDaemon))
	if err != nil {
		return "slim:latest"
	}
	if t, ok := r.(name.Tag); ok {
		return t.Context().String() + ":" + t.TagStr() + "-slim"
	}
	return r.Context().String() + ":slim"
}
