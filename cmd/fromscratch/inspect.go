package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fromscratch/fromscratch/imagefs"
	"github.com/fromscratch/fromscratch/imagesrc"
	"github.com/fromscratch/fromscratch/inspect"
	"github.com/fromscratch/fromscratch/internal/progress"
)

type inspectOptions struct {
	platform      string
	insecure      bool
	json          bool
	top           int
	maxWaste      string
	minEfficiency float64
}

func newInspectCmd() *cobra.Command {
	o := &inspectOptions{}
	cmd := &cobra.Command{
		Use:   "inspect [flags] IMAGE",
		Short: "Show where an image's bytes go: layers, wasted bytes, largest files, entrypoint",
		Long: `inspect reads every layer of IMAGE once and reports, per layer, its digest,
the command that made it, its compressed and uncompressed sizes, the files it
added, changed and removed, and its wasted bytes; then the image's wasted
bytes and efficiency, the wasted files (path, copies, bytes), its largest
files (hard-linked names as one), whether its entrypoint is a static or
dynamic ELF program or a script, and its config (entrypoint, cmd, env,
user, workdir, exposed ports).

Wasted bytes are the content bytes of regular files that are not in the final
filesystem: a copy of a path overwritten by a later (or the same) layer, and
files deleted by a later layer's whiteout. A content hard linked under a name
that survives is not wasted. Efficiency is 1 - wasted / total, where total is
the content bytes of regular files over all layers (1 for an image without
files). File counts are of non-directories.

IMAGE is docker-archive:PATH[:NAME:TAG], oci-layout:DIR[:TAG|@DIGEST],
docker-daemon:NAME or a registry reference. A bare name (app:1.0) is the Docker
engine's image, or else Docker Hub's; a path (/..., ./..., ../...) is never a
reference.

Exit status: 0 fine; 1 a --max-waste or --min-efficiency gate was crossed;
2 bad usage or an unreadable image.`,
		Example: `  fromscratch inspect docker-archive:app.tar
  fromscratch inspect app:latest     # the Docker engine's, or else Docker Hub's
  fromscratch inspect --json oci-layout:./out:app | jq .efficiency
  # a CI gate
  fromscratch inspect --max-waste 5% --min-efficiency 0.95 registry.example/app:1.0`,
		Args: wantArgs(1, 1, "one IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(cmd.Context(), cmd.OutOrStdout(), o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.platform, "platform", "", "platform to pick from a multi-platform image, e.g. linux/arm64 (default: the host's)")
	f.BoolVar(&o.insecure, "insecure", false, "allow a plain-HTTP registry")
	f.BoolVar(&o.json, "json", false, "print one JSON object")
	f.IntVar(&o.top, "top", 10, "how many of the largest and of the wasted files to list")
	f.StringVar(&o.maxWaste, "max-waste", "", "exit 1 if wasted bytes exceed BYTES (e.g. 10MB, 1048576) or PCT of the total (e.g. 5%)")
	f.Float64Var(&o.minEfficiency, "min-efficiency", 0, "exit 1 if the efficiency is below this (0 to 1)")
	return cmd
}

// inspectJSON is the JSON report: the library's, with the gates crossed
// in words.
type inspectJSON struct {
	inspect.Report
	Problems []string `json:"problems,omitempty"`
}

func runInspect(ctx context.Context, stdout io.Writer, o *inspectOptions, ref string) error {
	opts := inspect.Options{Name: ref, Top: o.top, Gates: inspect.Gates{MinEfficiency: o.minEfficiency}}
	if o.minEfficiency < 0 || o.minEfficiency > 1 {
		return usage("--min-efficiency %v: want a number from 0 to 1", o.minEfficiency)
	}
	if o.maxWaste != "" {
		limit, err := inspect.ParseWasteLimit(o.maxWaste)
		if err != nil {
			return usage("--max-waste %q: %v", o.maxWaste, err)
		}
		opts.Gates.MaxWaste = &limit
	}
	img, err := openImage(ctx, ref, imagesrc.Options{Platform: o.platform, Insecure: o.insecure})
	if err != nil {
		return err
	}
	readingImage()
	rep, err := inspect.Read(ctx, img, opts)
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("%s: %v", ref, err)}
	}
	r := inspectJSON{Report: *rep, Problems: problems(rep, o, opts.Gates)}
	w := bufio.NewWriter(stdout)
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		printInspect(w, &r)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(r.Problems) > 0 {
		return &exitError{code: 1, msg: "inspect: " + strings.Join(r.Problems, "; ")}
	}
	return nil
}

// problems words the gates r crossed.
func problems(r *inspect.Report, o *inspectOptions, g inspect.Gates) []string {
	var out []string
	for _, c := range r.Crossed {
		switch {
		case c == inspect.GateMaxWaste && g.MaxWaste.Percent:
			out = append(out, fmt.Sprintf("wasted %.2f%% of the bytes, more than --max-waste %s", r.WastedPercent, o.maxWaste))
		case c == inspect.GateMaxWaste:
			out = append(out, fmt.Sprintf("wasted %s, more than --max-waste %s", g.MaxWaste.Format(r.WastedBytes), g.MaxWaste.Format(int64(g.MaxWaste.Value))))
		case c == inspect.GateMinEfficiency:
			out = append(out, fmt.Sprintf("efficiency %.4f, below --min-efficiency %v", r.Efficiency, o.minEfficiency))
		}
	}
	return out
}

func printInspect(w io.Writer, r *inspectJSON) {
	if r.Size == r.Uncompressed { // plain tar layers, as docker save writes them
		fmt.Fprintf(w, "Image:       %s (%s), %s, %s (plain tar layers)\n",
			r.Image, r.Platform, plural(len(r.Layers), "layer"), human(r.Uncompressed))
	} else {
		fmt.Fprintf(w, "Image:       %s (%s), %s, %s compressed, %s uncompressed\n",
			r.Image, r.Platform, plural(len(r.Layers), "layer"), human(r.Size), human(r.Uncompressed))
	}
	printEntrypoint(w, r.Entrypoint)
	printConfig(w, r.Config)
	fmt.Fprintln(w)
	printLayers(w, r.Layers)
	fmt.Fprintf(w, "\nWasted:      %s of %s of file content (%.2f%%)\n", human(r.WastedBytes), human(r.TotalBytes), r.WastedPercent)
	fmt.Fprintf(w, "Efficiency:  %.4f\n", r.Efficiency)
	if len(r.WastedFiles) > 0 {
		fmt.Fprintln(w, "\nWasted files (overwritten or deleted by a layer):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "COUNT\tWASTED\t\tPATH")
		for _, f := range r.WastedFiles {
			fmt.Fprintf(tw, "%d\t%s\t\t%s\n", f.Count, human(f.Bytes), f.Path)
		}
		tw.Flush()
	}
	printPackages(w, r)
	if len(r.Largest) > 0 {
		fmt.Fprintln(w, "\nLargest files:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		for _, f := range r.Largest {
			links := ""
			if len(f.Links) > 0 {
				links = " (hard links: " + strings.Join(f.Links, ", ") + ")"
			}
			fmt.Fprintf(tw, "%s\tlayer %d\t\t%s%s\n", human(f.Size), f.Layer, f.Path, links)
		}
		tw.Flush()
	}
}

// printEntrypoint prints the Entrypoint line: the command and what it runs.
func printEntrypoint(w io.Writer, ep inspect.Entrypoint) {
	fmt.Fprintf(w, "Entrypoint:  %s", strings.Join(ep.Command, " "))
	switch {
	case ep.Kind == "dynamic":
		fmt.Fprintf(w, " (%s: dynamic ELF, loader %s)\n", ep.Path, ep.Interpreter)
	case ep.Kind == "static":
		fmt.Fprintf(w, " (%s: static ELF)\n", ep.Path)
	case ep.Kind == "script":
		fmt.Fprintf(w, " (%s: script, #!%s)\n", ep.Path, ep.Interpreter)
	case ep.Error != "":
		fmt.Fprintf(w, " (%s: %s)\n", ep.Kind, ep.Error)
	default:
		fmt.Fprintf(w, " (%s)\n", ep.Kind)
	}
}

// printConfig prints the Config lines.
func printConfig(w io.Writer, c inspect.Config) {
	fmt.Fprintf(w, "Config:      entrypoint %s, cmd %s\n", quoteArgs(c.Entrypoint), quoteArgs(c.Cmd))
	user, wd := c.User, c.WorkingDir
	if user == "" {
		user = "(root)"
	}
	if wd == "" {
		wd = "/"
	}
	fmt.Fprintf(w, "             user %s, workdir %s", user, wd)
	if len(c.ExposedPorts) > 0 {
		fmt.Fprintf(w, ", ports %s", strings.Join(c.ExposedPorts, " "))
	}
	fmt.Fprintln(w)
	for _, e := range c.Env {
		fmt.Fprintf(w, "             env %s\n", e)
	}
}

// printLayers prints the table of layers.
func printLayers(w io.Writer, layers []imagefs.LayerStats) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "#\tDIGEST\tSIZE\tUNCOMPRESSED\tADDED\tCHANGED\tREMOVED\tWASTED\t\tCREATED BY")
	for _, l := range layers {
		d := strings.TrimPrefix(l.Digest, "sha256:")
		if len(d) > 12 {
			d = d[:12]
		}
		cb := strings.Join(strings.Fields(l.CreatedBy), " ")
		if len(cb) > 60 {
			cb = cb[:57] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t\t%s\n", l.Index, d, human(l.Size), human(l.UncompressedSize), l.Added, l.Changed, l.Removed, human(l.WastedBytes), cb)
	}
	tw.Flush()
}

// human prints a byte count with a decimal unit.
func human(n int64) string { return progress.Bytes(n) }

// plural is "1 file", "2 files".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
