package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/imagefs"
	"github.com/fromscratch/fromscratch/imagesrc"
	"github.com/fromscratch/fromscratch/internal/progress"
	"github.com/fromscratch/fromscratch/pkgdb"
	"github.com/fromscratch/fromscratch/rootfs"
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
		Args: cobra.ExactArgs(1),
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

// inspectJSON is the JSON report.
type inspectJSON struct {
	Image         string               `json:"image"`
	Platform      string               `json:"platform"`
	Layers        []imagefs.LayerStats `json:"layers"`
	Size          int64                `json:"size"`
	Uncompressed  int64                `json:"uncompressed_size"`
	TotalBytes    int64                `json:"total_bytes"`
	WastedBytes   int64                `json:"wasted_bytes"`
	WastedPercent float64              `json:"wasted_percent"`
	Efficiency    float64              `json:"efficiency"`
	WastedFiles   []imagefs.Waste      `json:"wasted_files"`
	Largest       []imagefs.File       `json:"largest"`
	Entrypoint    entrypointJSON       `json:"entrypoint"`
	Config        configJSON           `json:"config"`
	Packages      []packageJSON        `json:"packages"`
	// UnpackagedBytes are the bytes of the regular files no package owns.
	UnpackagedBytes int64    `json:"unpackaged_bytes"`
	Problems        []string `json:"problems,omitempty"`
}

// configJSON is the image's run configuration.
type configJSON struct {
	Entrypoint   []string          `json:"entrypoint"`
	Cmd          []string          `json:"cmd"`
	Env          []string          `json:"env"`
	User         string            `json:"user"`
	WorkingDir   string            `json:"workdir"`
	ExposedPorts []string          `json:"exposed_ports"`
	Labels       map[string]string `json:"labels,omitempty"`
}

type entrypointJSON struct {
	Command     []string `json:"command"`
	Path        string   `json:"path,omitempty"`
	Kind        string   `json:"kind"` // static, dynamic, script, missing, not-executable, unknown, none
	Interpreter string   `json:"interpreter,omitempty"`
	Error       string   `json:"error,omitempty"`
}

func runInspect(ctx context.Context, stdout io.Writer, o *inspectOptions, ref string) error {
	if o.minEfficiency < 0 || o.minEfficiency > 1 {
		return usage("--min-efficiency %v: want a number from 0 to 1", o.minEfficiency)
	}
	img, err := openImage(ctx, ref, imagesrc.Options{Platform: o.platform, Insecure: o.insecure})
	if err != nil {
		return err
	}
	readingImage()
	view, err := imagefs.Open(ctx, img, imagefs.Options{Name: ref, Sizes: true, Keep: pkgdb.Wanted})
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("%s: %v", ref, err)}
	}
	defer view.Close()
	cfg, err := img.ConfigFile() // after the layers: the engine's stream may send it last
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("%s: reading config: %v", ref, err)}
	}

	r := inspectJSON{Image: ref, Platform: cfg.OS + "/" + cfg.Architecture, Layers: view.Layers}
	if cfg.Variant != "" {
		r.Platform += "/" + cfg.Variant
	}
	for _, l := range view.Layers {
		r.Size += l.Size
		r.Uncompressed += l.UncompressedSize
		r.TotalBytes += l.Bytes
		r.WastedBytes += l.WastedBytes
	}
	r.Efficiency = 1
	if r.TotalBytes > 0 {
		r.WastedPercent = 100 * float64(r.WastedBytes) / float64(r.TotalBytes)
		r.Efficiency = 1 - float64(r.WastedBytes)/float64(r.TotalBytes)
	}
	r.Largest = view.Largest(o.top)
	if r.Largest == nil {
		r.Largest = []imagefs.File{}
	}
	r.WastedFiles = view.Wasted(o.top)
	c := cfg.Config
	r.Config = configJSON{Entrypoint: nonNil(c.Entrypoint), Cmd: nonNil(c.Cmd), Env: nonNil(c.Env), User: c.User,
		WorkingDir: c.WorkingDir, ExposedPorts: []string{}, Labels: c.Labels}
	for p := range c.ExposedPorts {
		r.Config.ExposedPorts = append(r.Config.ExposedPorts, p)
	}
	sort.Strings(r.Config.ExposedPorts)
	r.Entrypoint = entrypointOf(view, append(append([]string{}, cfg.Config.Entrypoint...), cfg.Config.Cmd...), cfg.Config.Env)
	if r.Packages, r.UnpackagedBytes, err = packagesOf(view); err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("%s: %v", ref, err)}
	}

	if o.maxWaste != "" {
		limit, unit, err := parseWaste(o.maxWaste)
		if err != nil {
			return usage("--max-waste %q: %v", o.maxWaste, err)
		}
		// Both sides in the unit the limit was given in.
		switch {
		case unit.suffix == "%" && r.WastedPercent > limit:
			r.Problems = append(r.Problems, fmt.Sprintf("wasted %.2f%% of the bytes, more than --max-waste %s", r.WastedPercent, o.maxWaste))
		case unit.suffix != "%" && float64(r.WastedBytes) > limit:
			r.Problems = append(r.Problems, fmt.Sprintf("wasted %s, more than --max-waste %s", unit.format(r.WastedBytes), unit.format(int64(limit))))
		}
	}
	if o.minEfficiency > 0 && r.Efficiency < o.minEfficiency {
		r.Problems = append(r.Problems, fmt.Sprintf("efficiency %.4f, below --min-efficiency %v", r.Efficiency, o.minEfficiency))
	}

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

// wasteUnit is the unit a --max-waste limit is given in.
type wasteUnit struct {
	suffix string // "%", "MB", "MiB", ...; "" for bytes
	mult   float64
}

// format writes n bytes in the unit: "10.04MB", "1048577 bytes".
func (u wasteUnit) format(n int64) string {
	if u.mult <= 1 {
		return fmt.Sprintf("%d bytes", n)
	}
	return strconv.FormatFloat(float64(n)/u.mult, 'f', -1, 64) + u.suffix
}

// parseWaste parses "5%", "1048576", "10MB", "1.5GiB": the limit (bytes,
// or a percentage) and its unit.
func parseWaste(s string) (float64, wasteUnit, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 0 {
			return 0, wasteUnit{}, fmt.Errorf("want a percentage")
		}
		return v, wasteUnit{suffix: "%"}, nil
	}
	units := []wasteUnit{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1}}
	unit := wasteUnit{mult: 1}
	for _, u := range units {
		if p, ok := strings.CutSuffix(s, u.suffix); ok {
			s, unit = p, u
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v < 0 {
		return 0, wasteUnit{}, fmt.Errorf("want BYTES (e.g. 1048576, 10MB) or PCT (e.g. 5%%)")
	}
	return v * unit.mult, unit, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// entrypointOf resolves the command's program in the image and says what
// it is.
func entrypointOf(view rootfs.FS, command, env []string) entrypointJSON {
	e := entrypointJSON{Command: command, Kind: "none"}
	if e.Command == nil {
		e.Command = []string{}
	}
	if len(command) == 0 {
		return e
	}
	prog := command[0]
	if !strings.Contains(prog, "/") {
		pathVar := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, "PATH="); ok {
				pathVar = v
			}
		}
		found := ""
		for _, d := range strings.Split(pathVar, ":") {
			p := path.Join("/", d, prog)
			if real, err := rootfs.Realpath(view, p); err == nil {
				if fi, err := view.Lstat(real); err == nil && fi.Mode().IsRegular() {
					found = p
					break
				}
			}
		}
		if found == "" {
			e.Kind, e.Error = "missing", fmt.Sprintf("%s not found in PATH %s", prog, pathVar)
			return e
		}
		prog = found
	}
	e.Path = path.Clean("/" + prog)
	real, err := rootfs.Realpath(view, e.Path)
	if err != nil {
		e.Kind, e.Error = "missing", describe(err)
		return e
	}
	fi, err := view.Lstat(real)
	if err != nil || !fi.Mode().IsRegular() {
		e.Kind, e.Error = "missing", "not a regular file"
		return e
	}
	if fi.Mode()&0o111 == 0 {
		e.Kind = "not-executable"
		return e
	}
	f, err := view.Open(real)
	if err != nil {
		e.Kind, e.Error = "unknown", describe(err)
		return e
	}
	defer f.Close()
	head := make([]byte, 256)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	switch {
	case strings.HasPrefix(string(head), "\x7fELF"):
		info, err := elfinfo.Read(f, fi.Size())
		if err != nil {
			e.Kind, e.Error = "unknown", describe(err)
			return e
		}
		if info.IsStatic() {
			e.Kind = "static"
		} else {
			e.Kind, e.Interpreter = "dynamic", info.Interp
		}
	case strings.HasPrefix(string(head), "#!"):
		line, _, _ := strings.Cut(string(head[2:]), "\n")
		e.Kind, e.Interpreter = "script", strings.TrimSpace(line)
	default:
		e.Kind, e.Error = "unknown", "neither an ELF file nor a #! script"
	}
	return e
}

func printInspect(w io.Writer, r *inspectJSON) {
	if r.Size == r.Uncompressed { // plain tar layers, as docker save writes them
		fmt.Fprintf(w, "Image:       %s (%s), %d layers, %s (plain tar layers)\n",
			r.Image, r.Platform, len(r.Layers), human(r.Uncompressed))
	} else {
		fmt.Fprintf(w, "Image:       %s (%s), %d layers, %s compressed, %s uncompressed\n",
			r.Image, r.Platform, len(r.Layers), human(r.Size), human(r.Uncompressed))
	}
	ep := r.Entrypoint
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
	c := r.Config
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
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "#\tDIGEST\tSIZE\tUNCOMPRESSED\tADDED\tCHANGED\tREMOVED\tWASTED\t\tCREATED BY")
	for _, l := range r.Layers {
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
	fmt.Fprintf(w, "\nWasted:      %s of %s of file content (%.2f%%)\n", human(r.WastedBytes), human(r.TotalBytes), r.WastedPercent)
	fmt.Fprintf(w, "Efficiency:  %.4f\n", r.Efficiency)
	if len(r.WastedFiles) > 0 {
		fmt.Fprintln(w, "\nWasted files (overwritten or deleted by a layer):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "COUNT\tWASTED\t\tPATH")
		for _, f := range r.WastedFiles {
			fmt.Fprintf(tw, "%d\t%s\t\t%s\n", f.Count, human(f.Bytes), f.Path)
		}
		tw.Flush()
	}
	printPackages(w, r)
	if len(r.Largest) > 0 {
		fmt.Fprintln(w, "\nLargest files:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
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

// human prints a byte count with a decimal unit.
func human(n int64) string { return progress.Bytes(n) }
