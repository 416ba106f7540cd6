package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/imagesrc"
	"github.com/fromscratch/fromscratch/internal/progress"
	"github.com/fromscratch/fromscratch/publish"
	"github.com/fromscratch/fromscratch/squash"
)

type squashOptions struct {
	outputFlags
	platform string
	from     int
	tag      string
	sbom     sbomFlags
}

func newSquashCmd() *cobra.Command {
	o := &squashOptions{}
	cmd := &cobra.Command{
		Use:   "squash [flags] IMAGE",
		Short: "Merge an image's layers into one: same filesystem, waste dropped",
		Long: `squash writes IMAGE with its layers (or those above the first --from N)
merged into one layer that gives the same filesystem: files overwritten or
deleted by later layers are dropped, whiteouts are applied, hard links,
symbolic links, modes, owners and extended attributes are kept. With
--from N > 0 the first N layers are kept as they are, and the new layer keeps
a whiteout for each path of theirs that is gone. The configuration
(entrypoint, cmd, env, user, working directory, labels) is kept; the history
keeps the kept layers' entries and gets one for the new layer.

No Docker daemon is needed; the image is read twice, layer by layer, never
held in memory. Outputs are written atomically.

IMAGE is docker-archive:PATH[:NAME:TAG], oci-layout:DIR[:TAG|@DIGEST],
docker-daemon:NAME or a registry reference. A bare name (app:1.0) is the Docker
engine's image, or else Docker Hub's; a path (/..., ./..., ../...) is never a
reference.

--sbom FILE writes the SBOM of the squashed image, its packages read from
IMAGE's package records, which the squashed image keeps (see build --help).

Exit status: 0 squashed; 2 bad usage or an unreadable or unsafe image.`,
		Example: `  fromscratch squash -o flat.tar -t app:flat docker-archive:app.tar
  docker load -i flat.tar

  # keep the base image's 3 layers, squash the application's
  fromscratch squash --from 3 --oci-layout ./out -t app:flat oci-layout:./src:app

  fromscratch squash --push registry.example/app:flat registry.example/app:1.0`,
		Args: wantArgs(1, 1, "one IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSquash(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o, args[0])
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.from, "from", 0, "keep the first N layers as they are and squash the layers above")
	o.outputFlags.register(f)
	f.StringVarP(&o.tag, "tag", "t", "", "NAME:TAG recorded in the tarball or layout (default: IMAGE's name, or squashed:latest)")
	f.BoolVar(&o.insecure, "insecure", false, "allow a plain-HTTP registry (IMAGE and --push)")
	f.StringVar(&o.platform, "platform", "", "platform to pick from a multi-platform image, e.g. linux/arm64 (default: the host's)")
	f.BoolVar(&o.json, "json", false, jsonFlagUsage)
	o.sbom.register(f)
	return cmd
}

func runSquash(ctx context.Context, stdout, stderr io.Writer, o *squashOptions, ref string) error {
	m, err := o.sinks().open("squash", stdout)
	if err != nil {
		return err
	}
	defer m.Close()
	if o.from < 0 {
		return usage("--from %d: want a number of layers >= 0", o.from)
	}
	level, uncompressed, err := o.sinks().compression(o.level)
	if err != nil {
		return err
	}
	if err := o.sbom.check("squash", 1); err != nil {
		return err
	}
	tag := o.tag
	if tag == "" {
		tag = defaultTag(ref)
	}
	if _, err := image.NormalizeTag(tag); err != nil {
		return usage("-t: %v", err)
	}
	img, err := openImage(ctx, ref, imagesrc.Options{Platform: o.platform, Insecure: o.insecure})
	if err != nil {
		return err
	}
	bar := progress.Start(stderr, "squashing")
	defer bar.Stop()
	if bar != nil {
		ctx = image.WithProgress(ctx, bar)
	}
	out, res, err := squash.Squash(ctx, img, squash.Options{From: o.from, Level: level, Uncompressed: uncompressed, Name: ref,
		PackageRecords: !o.sbom.noRecords, SBOM: o.sbom.file != ""})
	if err != nil {
		return squashError(ref, err)
	}
	if c, ok := res.Squashed.(io.Closer); ok {
		defer c.Close()
	}
	art := publish.Artifact{Image: out}
	if res.SBOM != nil {
		res.SBOM.Name = tag
		if art.SBOM, err = o.sbom.write(res.SBOM); err != nil {
			return err
		}
	}
	r := resultJSON{Tag: tag, Platform: platformOf(out), Layers: res.LayersAfter, Files: res.Files, Size: res.Bytes}
	return o.sinks().publish(ctx, m, art, tag, report{stdout, stderr, bar, r, func() { squashSummary(stderr, ref, res, uncompressed) }})
}

// squashSummary is squash's line on stderr.
func squashSummary(stderr io.Writer, ref string, res *squash.Result, uncompressed bool) {
	size := int64(0)
	if res.Squashed != nil {
		size, _ = res.Squashed.Size()
	}
	kind := "gzip"
	if uncompressed {
		kind = "plain tar"
	}
	fmt.Fprintf(stderr, "fromscratch: squashed %s: %d layers -> %d (new layer %s, %s)\n",
		ref, res.LayersBefore, res.LayersAfter, human(size), kind)
}

// defaultTag is the repository:tag of a registry or daemon reference, or
// "squashed:latest".
func defaultTag(ref string) string {
	if strings.HasPrefix(ref, imagesrc.DockerArchive) || strings.HasPrefix(ref, imagesrc.OCILayout) || imagesrc.LocalTransport(ref) != "" {
		return "squashed:latest"
	}
	r, err := name.ParseReference(strings.TrimPrefix(ref, imagesrc.DockerDaemon))
	if err != nil {
		return "squashed:latest"
	}
	if t, ok := r.(name.Tag); ok {
		return t.String()
	}
	return r.Context().String() + ":squashed"
}
