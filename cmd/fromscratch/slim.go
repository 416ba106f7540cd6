package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/imagesrc"
	"github.com/fromscratch/fromscratch/internal/progress"
	"github.com/fromscratch/fromscratch/slim"
)

type slimOptions struct {
	platform  string
	insecure  bool
	keep      []string
	output    string
	ociLayout string
	push      string
	tag       string
	level     levelFlag
}

func newSlimCmd() *cobra.Command {
	o := &slimOptions{}
	cmd := &cobra.Command{
		Use:   "slim [flags] IMAGE",
		Short: "Cut an image down to what its entrypoint needs",
		Long: `slim writes IMAGE with only what its entrypoint needs: the program it runs
(looked up in the image's PATH, as doctor does), its #! interpreters, the
libraries and loader the dynamic loader would load for them, the image's
/etc/passwd, /etc/group and /etc/nsswitch.conf, the working directory, /tmp,
and the files and directories given with --keep (configuration, data,
/etc/ssl, /usr/share/zoneinfo...). Everything else goes: shells, package
managers, documentation. Owners and modes are the image's.

The configuration (entrypoint, cmd, env, user, working directory, labels,
exposed ports, volumes) is kept as it is. The new image has up to three
layers, as build makes them (loader, C library and runtime files; other
libraries; program and kept files), one history entry each, and the same
digest for the same IMAGE and flags (SOURCE_DATE_EPOCH sets the timestamps;
the default is the Unix epoch).

Before writing, the slim image is checked as doctor would: slim refuses to
write an image that would not start. It cannot know what the program opens
at run time besides its libraries (plugins loaded with dlopen, data files,
programs it runs): keep those with --keep, and test the result.

No Docker daemon is needed; IMAGE is read twice, layer by layer, never held
in memory. IMAGE is docker-archive:PATH[:NAME:TAG], oci-layout:DIR[:TAG|@DIGEST],
docker-daemon:NAME or a registry reference.

Exit status: 0 written; 1 the entrypoint cannot start (a library not in the
image, or the image is already broken: see fromscratch doctor) or the slim
image would not; 2 bad usage or an unreadable or unsafe image.`,
		Example: `  fromscratch slim -o app-slim.tar docker-daemon:app:latest
  docker load -i app-slim.tar

  # keep the CA certificates and the time zones
  fromscratch slim --keep /etc/ssl --keep /usr/share/zoneinfo --push registry.example/app:slim registry.example/app:1.0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSlim(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.keep, "keep", nil, "PATH of the image (a file or a directory) to keep too (repeatable)")
	f.StringVarP(&o.output, "output", "o", "", "write a docker load tarball to `FILE`, a new or regular file (- or /dev/stdout for stdout: -o - | docker load)")
	f.StringVar(&o.ociLayout, "oci-layout", "", "write an OCI image layout to DIR")
	f.StringVar(&o.push, "push", "", "push the image to REF")
	f.StringVarP(&o.tag, "tag", "t", "", "NAME:TAG recorded in the tarball or layout (default: IMAGE's NAME:TAG-slim, or slim:latest)")
	f.BoolVar(&o.insecure, "insecure", false, "allow a plain-HTTP registry (IMAGE and --push)")
	f.StringVar(&o.platform, "platform", "", "platform to pick from a multi-platform image, e.g. linux/arm64 (default: the host's)")
	o.level = levelAuto
	f.Var(&o.level, "level", levelFlagUsage)
	return cmd
}

func runSlim(ctx context.Context, stdout, stderr io.Writer, o *slimOptions, ref string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.output == "" && o.ociLayout == "" && o.push == "" {
		return usage("slim: no output: give -o FILE, --oci-layout DIR or --push REF")
	}
	if err := o.sinks().check(stdout); err != nil {
		return err
	}
	level, uncompressed, err := o.sinks().compression(o.level)
	if err != nil {
		return err
	}
	for _, k := range o.keep {
		if !strings.HasPrefix(k, "/") {
			return usage("--keep %q: want an absolute path of the image", k)
		}
	}
	tag := o.tag
	if tag == "" {
		tag = slimTag(ref)
	}
	if _, err := image.NormalizeTag(tag); err != nil {
		return usage("-t: %v", err)
	}
	img, err := openImage(ctx, ref, imagesrc.Options{Platform: o.platform, Insecure: o.insecure})
	if err != nil {
		return err
	}
	bar := progress.Start(stderr, "slimming")
	defer bar.Stop()
	if bar != nil {
		ctx = image.WithProgress(ctx, bar)
	}
	out, res, err := slim.Slim(ctx, img, slim.Options{Keep: o.keep, Created: sourceDateEpoch(), Level: level, Uncompressed: uncompressed, Name: ref})
	if err != nil {
		var se *slim.StartError
		switch {
		case errors.As(err, &se):
			return &exitError{code: 1, msg: fmt.Sprintf("slim %s: %v (see fromscratch doctor %s)", ref, err, ref)}
		case errors.Is(err, closure.ErrMissing):
			return &exitError{code: 1, msg: fmt.Sprintf("slim %s: %v: the image lacks what its entrypoint needs (see fromscratch doctor %s)", ref, err, ref)}
		case errors.Is(err, slim.ErrBadKeep):
			return usage("slim %s: %v", ref, err)
		case errors.Is(err, context.Canceled):
			return err
		}
		return &exitError{code: 2, msg: fmt.Sprintf("slim %s: %s", ref, describe(err))}
	}
	line, err := o.sinks().write(ctx, stdout, tag, out)
	if err != nil {
		return err
	}
	bar.Stop()
	fmt.Fprintln(o.sinks().lineOut(stdout, stderr), line)
	ratio := 0.0
	if res.BytesBefore > 0 {
		ratio = 100 * float64(res.BytesAfter) / float64(res.BytesBefore)
	}
	fmt.Fprintf(stderr, "fromscratch: slimmed %s: %s -> %s uncompressed (%.1f%%), %d layers, %d files, program %s\n",
		ref, human(res.BytesBefore), human(res.BytesAfter), ratio, res.Layers, res.Files, res.Program)
	return nil
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
