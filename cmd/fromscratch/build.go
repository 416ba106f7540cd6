package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/debuglayer"
	"github.com/fromscratch/fromscratch/gobuild"
	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/ldso"
	"github.com/fromscratch/fromscratch/rootfs"
)

type buildOptions struct {
	root         string
	output       string
	ociLayout    string
	push         string
	tag          string
	insecure     bool
	platform     []string
	entrypoint   string
	cmd          string
	env          []string
	workdir      string
	user         string
	labels       []string
	add          []string
	allowMissing bool
	caCerts      bool
	tzdata       bool
	baseline     bool
	useConf      bool
	goPkg        string
	ldflags      string
	debug        bool
	busybox      []string
	debugTools   []string
}

func newBuildCmd() *cobra.Command {
	o := &buildOptions{}
	cmd := &cobra.Command{
		Use:   "build [flags] PROGRAM [FILE...] | build --go PKG [flags]",
		Short: "Build the smallest image that runs PROGRAM: it, its libraries and the loader",
		Long: `build makes an image holding exactly PROGRAM, the extra FILEs, the libraries
the dynamic loader would load for them, the loader, and every symbolic link on
the way, at the same paths as in the root filesystem. No Docker daemon is
needed. The image runs as the user nonroot (65532) unless --user says
otherwise; it has /etc/passwd and /etc/group (root and nonroot), /tmp and
/etc/nsswitch.conf.

Layers, lowest first: the loader, the C library and the runtime files; the
other libraries; the program and its files. Images built from one root share
their lower layers. The same inputs give the same image digest
(SOURCE_DATE_EPOCH sets the timestamps; the default is the Unix epoch).

With --go PKG, the Go main package PKG is built with the host's toolchain
(CGO_ENABLED=0, -trimpath, -buildvcs=false, -ldflags "-s -w" then --ldflags;
GOFLAGS is honoured) for each --platform, checked to be static, and put at
/usr/local/bin/NAME (NAME as go build names it), the entrypoint. Several
platforms give one image each, combined in an image index (--oci-layout,
--push; a -o tarball takes one platform). A package that needs cgo cannot be
built this way: build it yourself and give the binary as PROGRAM.

With --debug, one more layer goes on top: a static busybox at
/busybox/busybox with a link per applet (the list is read from the binary,
which is never run), PATH ending in :/busybox, and the --debug-tools with the
libraries they need that the image lacks. The layers under it are those of
the image without --debug, byte for byte.

Exit status: 0 built; 1 a library or the loader was not found (see
--allow-missing); 2 bad usage or unusable input (a Go build that fails).`,
		Example: `  # a docker load tarball
  fromscratch build -o curl.tar -t curl:latest /usr/bin/curl
  docker load -i curl.tar && docker run --rm curl:latest --version

  # from another root filesystem, to an OCI layout
  fromscratch build --root /srv/arm64-root --oci-layout ./out -t jq /usr/bin/jq

  # push to a registry (credentials from ~/.docker/config.json)
  fromscratch build --push registry.example.com/tools/jq:1.6 /usr/bin/jq

  # a script: its interpreter comes with it
  fromscratch build -o app.tar --add ./app.sh:/app.sh --entrypoint /app.sh /bin/sh

  # a Go program for two platforms, an image index in an OCI layout
  fromscratch build --go ./cmd/server --platform linux/amd64,linux/arm64 --oci-layout ./out

  # with a shell and strace for debugging: docker run --entrypoint /busybox/sh ...
  fromscratch build --go ./cmd/server -o server.tar --debug --debug-tools strace`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "", "write a `docker load` tarball to FILE")
	f.StringVar(&o.ociLayout, "oci-layout", "", "write an OCI image layout to DIR")
	f.StringVar(&o.push, "push", "", "push the image to REF")
	f.StringVarP(&o.tag, "tag", "t", "", "NAME:TAG recorded in the tarball or layout (default: PROGRAM's name:latest)")
	f.BoolVar(&o.insecure, "insecure", false, "allow a plain-HTTP registry for --push")
	f.StringVar(&o.root, "root", "/", "root filesystem to take PROGRAM, FILEs and libraries from")
	f.StringSliceVar(&o.platform, "platform", nil, "expected platform, e.g. linux/arm64 (default: PROGRAM's); with --go, the platforms to build (comma-separated or repeated; default: the host's)")
	f.StringVar(&o.entrypoint, "entrypoint", "", `entrypoint, a JSON array or words (default: PROGRAM)`)
	f.StringVar(&o.cmd, "cmd", "", "default arguments, a JSON array or words")
	f.StringArrayVar(&o.env, "env", nil, "K=V environment variable (repeatable); PATH has a default")
	f.StringVar(&o.workdir, "workdir", "/", "working directory")
	f.StringVar(&o.user, "user", "65532:65532", "user[:group] the image runs as (0 for root)")
	f.StringArrayVar(&o.labels, "label", nil, "K=V image label (repeatable)")
	f.StringArrayVar(&o.add, "add", nil, "SRC:DST host file or directory to add at DST, with its ELF dependencies (repeatable)")
	f.BoolVar(&o.allowMissing, "allow-missing", false, "build even if a library or the loader is not found")
	f.BoolVar(&o.caCerts, "ca-certs", false, "add the root's CA bundle (/etc/ssl/certs/ca-certificates.crt) and set SSL_CERT_FILE")
	f.BoolVar(&o.tzdata, "tzdata", false, "add the root's /usr/share/zoneinfo")
	f.BoolVar(&o.baseline, "hwcaps-baseline", false, "leave out glibc-hwcaps variants of libraries (by default all present are added)")
	f.StringVar(&o.goPkg, "go", "", "build the Go main package PKG (go build, CGO_ENABLED=0) and make the image of it, at "+goBinDir+"/NAME")
	f.StringVar(&o.ldflags, "ldflags", "", `with --go, linker flags added after "-s -w"`)
	f.BoolVar(&o.debug, "debug", false, "add a top layer with a static busybox in /busybox (PATH extended); the layers below are unchanged")
	f.StringArrayVar(&o.busybox, "busybox", nil, "with --debug, the static busybox to use (default: the root's /bin/busybox); repeatable, one per architecture")
	f.StringSliceVar(&o.debugTools, "debug-tools", nil, "programs of the root to add to the debug layer with their libraries, e.g. strace,gdb (implies --debug)")
	f.BoolVar(&o.useConf, "ldconfig", false, "for a root without /etc/ld.so.cache, search its ld.so.conf directories as if ldconfig had run")
	return cmd
}

const (
	passwd   = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group    = "root:x:0:\nnonroot:x:65532:\n"
	nsswitch = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n"
	caBundle = "/etc/ssl/certs/ca-certificates.crt"
	zoneinfo = "/usr/share/zoneinfo"
)

func usage(format string, a ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, a...)}
}

func runBuild(ctx context.Context, stdout, stderr io.Writer, o *buildOptions, args []string) error {
	if o.output == "" && o.ociLayout == "" && o.push == "" {
		return usage("build: no output: give -o FILE, --oci-layout DIR or --push REF")
	}
	if o.goPkg == "" && len(args) == 0 {
		return usage("build: give PROGRAM, or --go PKG for a Go program")
	}
	if o.goPkg != "" && len(args) > 0 {
		return usage("build --go %s: no PROGRAM or FILE arguments (%s); add files with --add SRC:DST", o.goPkg, strings.Join(args, " "))
	}
	var platforms []string
	for _, p := range o.platform {
		for _, q := range strings.Split(p, ",") {
			if q = strings.TrimSpace(q); q != "" && !slices.Contains(platforms, q) {
				platforms = append(platforms, q)
			}
		}
	}
	if o.goPkg == "" && len(platforms) > 1 {
		return usage("build: one --platform for PROGRAM (several are for --go): %s", strings.Join(platforms, ","))
	}
	if o.output != "" && len(platforms) > 1 {
		return usage("-o %s: a docker load tarball holds one platform, and %d are asked (%s): give one --platform, or write an index with --oci-layout or --push",
			o.output, len(platforms), strings.Join(platforms, ","))
	}
	if len(o.debugTools) > 0 {
		o.debug = true
	}
	fsys, err := rootfs.Dir(o.root)
	if err != nil {
		return usage("%s: %v", o.root, unwrapPathError(err))
	}
	host, err := rootfs.Dir("/")
	if err != nil {
		return err
	}
	common, err := commonSpec(o, host)
	if err != nil {
		return err
	}

	// One job per image: the program's inputs and the platform.
	type job struct {
		arg      string // PROGRAM or PKG, for messages
		program  string // the entrypoint, a path in the image
		inputs   []closure.Input
		platform *v1.Platform // for --go: the platform built for
	}
	var jobs []job
	tagName := ""
	if o.goPkg != "" {
		var plats []v1.Platform
		for _, s := range platforms {
			p, err := gobuild.ParsePlatform(s)
			if err != nil {
				return usage("--platform: %v", err)
			}
			plats = append(plats, p)
		}
		if len(plats) == 0 {
			plats = []v1.Platform{{OS: "linux", Architecture: runtime.GOARCH}}
		}
		res, err := gobuild.Build(ctx, o.goPkg, plats, gobuild.Options{LDFlags: o.ldflags})
		if err != nil {
			return goBuildError(o.goPkg, err)
		}
		defer os.RemoveAll(res.OutDir)
		program := goBinDir + "/" + res.Name
		tagName = res.Name
		for _, b := range res.Binaries {
			in := closure.Input{Path: program, FS: host, SourcePath: b.Path, Layer: closure.LayerApp}
			jobs = append(jobs, job{arg: o.goPkg, program: program, platform: &b.Platform,
				inputs: append([]closure.Input{in}, common.adds...)})
		}
	} else {
		program := args[0]
		if o.root == "/" {
			if abs, err := filepath.Abs(program); err == nil {
				program = abs
			}
		}
		if err := checkProgram(fsys, program, args[0]); err != nil {
			return err
		}
		var inputs []closure.Input
		for i, a := range args {
			p := a
			if i == 0 {
				p = program
			} else if o.root == "/" {
				if abs, err := filepath.Abs(a); err == nil {
					p = abs
				}
			}
			if _, err := rootfs.Realpath(fsys, p); err != nil {
				return usage("%s: %s", a, describe(err))
			}
			inputs = append(inputs, closure.Input{Path: p, Layer: closure.LayerApp})
		}
		tagName = path.Base(program)
		jobs = append(jobs, job{arg: args[0], program: program, inputs: append(inputs, common.adds...)})
	}

	iopts := image.Options{Created: sourceDateEpoch()}
	tag := o.tag
	if tag == "" {
		tag = tagName + ":latest"
	}
	dbg := &debugSource{o: o, fsys: fsys, host: host}
	var imgs []v1.Image
	var sums []string
	for _, j := range jobs {
		want := ""
		if len(platforms) == 1 {
			want = platforms[0]
		}
		img, sum, err := buildImage(ctx, o, fsys, common, dbg, j.arg, j.program, j.inputs, j.platform, want, iopts, stderr)
		if err != nil {
			return err
		}
		imgs = append(imgs, img)
		sums = append(sums, sum)
	}
	// The summaries go out once the outputs are written: a failed write
	// leaves one line, its error.
	summarize := func() {
		for _, sum := range sums {
			fmt.Fprintf(stderr, "fromscratch: built %s: %s\n", tag, sum)
		}
	}

	if len(imgs) == 1 {
		if err := writeImage(ctx, stdout, o, tag, imgs[0]); err != nil {
			return err
		}
		summarize()
		return nil
	}
	idx, err := image.Index(imgs, iopts)
	if err != nil {
		return err
	}
	if o.ociLayout != "" {
		if err := image.WriteOCILayoutIndex(ctx, o.ociLayout, tag, idx); err != nil {
			return &exitError{code: 2, msg: fmt.Sprintf("%s: %v", o.ociLayout, err)}
		}
	}
	if o.push != "" {
		ref, err := image.PushIndex(ctx, o.push, idx, o.insecure)
		if err != nil {
			return &exitError{code: 2, msg: fmt.Sprintf("pushing %s: %v", o.push, err)}
		}
		fmt.Fprintln(stdout, ref)
		summarize()
		return nil
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, digest)
	summarize()
	return nil
}

// goBinDir is where build --go puts the program.
const goBinDir = "/usr/local/bin"

// goBuildError turns a failed Go build into the CLI's error: a package that
// needs cgo gets the dynamic route.
func goBuildError(pkg string, err error) error {
	var cg *gobuild.CgoError
	var be *gobuild.BuildError
	switch {
	case errors.As(err, &cg):
		name := gobuild.ProgramName(strings.TrimSuffix(pkg, "/"))
		return &exitError{code: 2, msg: fmt.Sprintf("build --go: %v: it cannot be built static; take the dynamic route, where fromscratch brings its libraries and loader: go build -o %s %s && fromscratch build -o IMAGE.tar ./%s",
			cg, name, pkg, name)}
	case errors.As(err, &be):
		return &exitError{code: 2, msg: fmt.Sprintf("build --go: %v", be)}
	case errors.Is(err, gobuild.ErrNotStatic):
		return &exitError{code: 2, msg: fmt.Sprintf("build --go: %v: check GOFLAGS and --ldflags (no -linkshared, no external linking), or build it yourself and use `fromscratch build ./BINARY`", err)}
	case errors.Is(err, context.Canceled):
		return err
	}
	return &exitError{code: 2, msg: fmt.Sprintf("build --go: %v", err)}
}

// spec is what every image of one build shares.
type spec struct {
	adds  []closure.Input // --add files
	extra []closure.Item  // generated files
	base  []closure.Input // --ca-certs, --tzdata
	env   []string
	cfg   image.Config // entrypoint, cmd, labels, workdir, user
}

func commonSpec(o *buildOptions, host rootfs.FS) (*spec, error) {
	c := &spec{}
	for _, a := range o.add {
		src, dst, ok := strings.Cut(a, ":")
		if !ok || src == "" || !path.IsAbs(dst) {
			return nil, usage("--add %q: want SRC:DST with an absolute DST", a)
		}
		abs, err := filepath.Abs(src)
		if err != nil {
			return nil, usage("--add %s: %v", src, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, usage("%s: %s", src, describe(err))
		}
		c.adds = append(c.adds, closure.Input{Path: rootfs.Clean(dst), FS: host, SourcePath: abs, Layer: closure.LayerApp})
	}
	c.env = []string{"PATH=" + closure.DefaultPath}
	c.extra = []closure.Item{
		{Path: "/etc/passwd", Kind: closure.File, Mode: 0o644, Data: []byte(passwd)},
		{Path: "/etc/group", Kind: closure.File, Mode: 0o644, Data: []byte(group)},
		{Path: "/etc/nsswitch.conf", Kind: closure.File, Mode: 0o644, Data: []byte(nsswitch)},
		{Path: "/tmp", Kind: closure.Dir, Mode: 0o777 | fs.ModeSticky},
		{Path: "/home/nonroot", Kind: closure.Dir, Mode: 0o700, UID: 65532, GID: 65532},
	}
	if o.caCerts {
		c.base = append(c.base, closure.Input{Path: caBundle, Layer: closure.LayerBase})
		c.env = append(c.env, "SSL_CERT_FILE="+caBundle)
	}
	if o.tzdata {
		c.base = append(c.base, closure.Input{Path: zoneinfo, Layer: closure.LayerBase})
	}
	for _, e := range o.env {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" {
			return nil, usage("--env %q: want K=V", e)
		}
		c.env = setEnv(c.env, e)
	}
	c.cfg = image.Config{WorkingDir: o.workdir, User: o.user, OS: "linux", Labels: map[string]string{}}
	var err error
	if o.entrypoint != "" {
		if c.cfg.Entrypoint, err = words(o.entrypoint); err != nil {
			return nil, usage("--entrypoint: %v", err)
		}
	}
	if o.cmd != "" {
		if c.cfg.Cmd, err = words(o.cmd); err != nil {
			return nil, usage("--cmd: %v", err)
		}
	}
	for _, l := range o.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return nil, usage("--label %q: want K=V", l)
		}
		c.cfg.Labels[k] = v
	}
	return c, nil
}

// buildImage plans and writes the image of one program: the closure's
// layers, then with --debug the debug layer on top. goPlat is the platform
// a Go program was built for; want the --platform asked for a PROGRAM. It
// returns the image and a summary for the user.
func buildImage(ctx context.Context, o *buildOptions, fsys rootfs.FS, c *spec, dbg *debugSource, arg, program string,
	inputs []closure.Input, goPlat *v1.Platform, want string, iopts image.Options, stderr io.Writer) (v1.Image, string, error) {
	copts := closure.Options{
		Ldso:         ldso.Options{UseConf: o.useConf},
		AllowMissing: o.allowMissing,
		BaselineOnly: o.baseline,
	}
	plan, err := closure.Compute(fsys, append(slices.Clone(inputs), c.base...), c.extra, copts)
	if err != nil {
		if errors.Is(err, closure.ErrMissing) {
			return nil, "", &exitError{code: 1, msg: fmt.Sprintf("build: %v (--allow-missing builds anyway)", err)}
		}
		return nil, "", &exitError{code: 2, msg: fmt.Sprintf("build: %v", describe(err))}
	}
	for _, m := range plan.Missing {
		fmt.Fprintf(stderr, "fromscratch: warning: %s not found (--allow-missing)\n", m)
	}

	cfg := c.cfg
	cfg.Labels = maps.Clone(c.cfg.Labels)
	cfg.Env = slices.Clone(c.env)
	if plan.Info != nil {
		arch, variant, ok := image.PlatformOf(plan.Info.Class, plan.Info.Data, plan.Info.Machine, plan.Info.EFlags)
		if !ok {
			return nil, "", usage("%s: no OCI platform for %v", arg, plan.Info.Machine)
		}
		cfg.Architecture, cfg.Variant = arch, variant
	}
	if goPlat != nil {
		if cfg.Architecture != goPlat.Architecture {
			return nil, "", fmt.Errorf("build --go %s: built for %s but the binary is linux/%s", arg, gobuild.PlatformString(*goPlat), cfg.Architecture)
		}
		cfg.Architecture, cfg.Variant = goPlat.Architecture, goPlat.Variant
	} else if want != "" {
		want := strings.TrimPrefix(want, "linux/")
		got := cfg.Architecture
		if cfg.Variant != "" {
			got += "/" + cfg.Variant
		}
		if cfg.Architecture != "" && want != got && want != cfg.Architecture {
			return nil, "", usage("%s: is linux/%s, not linux/%s", arg, got, want)
		}
		if cfg.Architecture == "" {
			a, v, _ := strings.Cut(want, "/")
			cfg.Architecture, cfg.Variant = a, v
		}
	}
	if cfg.Architecture == "" {
		return nil, "", usage("%s: not an ELF program: give --platform", arg)
	}
	if cfg.Entrypoint == nil {
		cfg.Entrypoint = []string{program}
	}

	names := [...]string{"loader, C library and runtime files", "libraries", "program and files"}
	var layers []v1.Layer
	var specs []image.LayerSpec
	var files int
	var bytes int64
	addLayer := func(createdBy string, items []closure.Item) error {
		spec := image.LayerSpec{CreatedBy: createdBy}
		for _, it := range items {
			spec.Entries = append(spec.Entries, entryOf(it))
			if it.Kind == closure.File {
				files++
				bytes += it.Size
			}
		}
		layer, err := image.LayerContext(ctx, fsys, spec, iopts)
		if err != nil {
			return &exitError{code: 2, msg: fmt.Sprintf("build: %v", err)}
		}
		layers = append(layers, layer)
		specs = append(specs, spec)
		return nil
	}
	for l, items := range plan.Layers {
		if len(items) == 0 {
			continue
		}
		if err := addLayer("fromscratch build: "+names[l], items); err != nil {
			return nil, "", err
		}
	}
	if o.debug {
		items, err := dbg.items(cfg.Architecture, plan, copts)
		if err != nil {
			return nil, "", err
		}
		if err := addLayer("fromscratch build --debug: busybox and debugging tools", items); err != nil {
			return nil, "", err
		}
		cfg.Env = debuglayer.ExtendPath(cfg.Env, closure.DefaultPath)
	}
	img, err := image.Image(layers, specs, cfg, iopts)
	if err != nil {
		return nil, "", err
	}
	plat := cfg.OS + "/" + cfg.Architecture
	if cfg.Variant != "" {
		plat += "/" + cfg.Variant
	}
	return img, fmt.Sprintf("%d layers, %d files, %.1f MB (%s)", len(layers), files, float64(bytes)/1e6, plat), nil
}

// debugSource finds the busybox and tools of the debug layer.
type debugSource struct {
	o          *buildOptions
	fsys, host rootfs.FS
	busyboxes  []*debuglayer.Busybox // read once, on first use
	read       bool
}

// items are the debug layer's items for an image of architecture arch
// whose closure is base.
func (d *debugSource) items(arch string, base *closure.Plan, copts closure.Options) ([]closure.Item, error) {
	if !d.read {
		d.read = true
		if len(d.o.busybox) == 0 {
			bb, err := debuglayer.OpenBusybox(d.fsys, "/bin/busybox")
			if err != nil {
				return nil, usage("--debug: %s: %s (install busybox-static in the root, or give --busybox PATH)", path.Join(d.o.root, "bin/busybox"), describeBusybox(err))
			}
			d.busyboxes = append(d.busyboxes, bb)
		}
		for _, p := range d.o.busybox {
			abs, err := filepath.Abs(p)
			if err != nil {
				return nil, usage("--busybox %s: %v", p, err)
			}
			bb, err := debuglayer.OpenBusybox(d.host, abs)
			if err != nil {
				return nil, usage("--busybox %s: %s", p, describeBusybox(err))
			}
			d.busyboxes = append(d.busyboxes, bb)
		}
	}
	var bb *debuglayer.Busybox
	var have []string
	for _, b := range d.busyboxes {
		a, _, _ := image.PlatformOf(b.Info.Class, b.Info.Data, b.Info.Machine, b.Info.EFlags)
		if a == arch {
			bb = b
			break
		}
		have = append(have, b.Path+" is linux/"+a)
	}
	if bb == nil {
		return nil, usage("--debug: no busybox for linux/%s (%s): give --busybox PATH (repeatable, one per architecture)", arch, strings.Join(have, ", "))
	}
	var tools []closure.Item
	if len(d.o.debugTools) > 0 {
		var paths []string
		for _, t := range d.o.debugTools {
			for _, name := range strings.Split(t, ",") {
				if name = strings.TrimSpace(name); name == "" {
					continue
				}
				p, err := debuglayer.LookPath(d.fsys, name)
				if err != nil {
					return nil, usage("--debug-tools: %v", err)
				}
				paths = append(paths, p)
			}
		}
		items, plan, err := debuglayer.Tools(d.fsys, paths, base, copts)
		if err != nil {
			if errors.Is(err, closure.ErrMissing) {
				return nil, &exitError{code: 1, msg: fmt.Sprintf("build --debug-tools: %v", err)}
			}
			return nil, &exitError{code: 2, msg: fmt.Sprintf("build --debug-tools: %v", describe(err))}
		}
		if plan.Info != nil {
			if a, _, _ := image.PlatformOf(plan.Info.Class, plan.Info.Data, plan.Info.Machine, plan.Info.EFlags); a != arch {
				return nil, usage("--debug-tools: the tools of %s are linux/%s, the image linux/%s", d.o.root, a, arch)
			}
		}
		tools = items
	}
	return debuglayer.Merge(bb.Items(), tools), nil
}

func describeBusybox(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "no such file or directory"
	}
	return err.Error()
}

// writeImage writes one image to the outputs asked for and prints its
// digest (or, pushed, its digest reference).
func writeImage(ctx context.Context, stdout io.Writer, o *buildOptions, tag string, img v1.Image) error {
	if o.output != "" {
		if err := image.WriteDockerArchive(ctx, o.output, tag, img); err != nil {
			return &exitError{code: 2, msg: fmt.Sprintf("%s: %v", o.output, err)}
		}
	}
	if o.ociLayout != "" {
		if err := image.WriteOCILayout(ctx, o.ociLayout, tag, img); err != nil {
			return &exitError{code: 2, msg: fmt.Sprintf("%s: %v", o.ociLayout, err)}
		}
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	if o.push != "" {
		ref, err := image.Push(ctx, o.push, img, o.insecure)
		if err != nil {
			return &exitError{code: 2, msg: fmt.Sprintf("pushing %s: %v", o.push, err)}
		}
		fmt.Fprintln(stdout, ref)
	} else {
		fmt.Fprintln(stdout, digest)
	}
	return nil
}

// checkProgram refuses a PROGRAM that cannot be an entrypoint.
func checkProgram(fsys rootfs.FS, program, arg string) error {
	real, err := rootfs.Realpath(fsys, program)
	if err != nil {
		return usage("%s: %s", arg, describe(err))
	}
	fi, err := fsys.Lstat(real)
	if err != nil {
		return usage("%s: %s", arg, describe(err))
	}
	if !fi.Mode().IsRegular() {
		return usage("%s: not a regular file", arg)
	}
	if fi.Mode()&0o111 == 0 {
		return usage("%s: not executable (mode %v)", arg, fi.Mode().Perm())
	}
	f, err := fsys.Open(real)
	if err != nil {
		return usage("%s: %s", arg, describe(err))
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := f.ReadAt(head, 0)
	switch {
	case n >= 4 && string(head) == "\x7fELF":
	case n >= 2 && string(head[:2]) == "#!":
	default:
		return usage("%s: not an ELF program nor a #! script", arg)
	}
	return nil
}

func entryOf(it closure.Item) image.Entry {
	e := image.Entry{Path: it.Path, Mode: it.Mode, UID: it.UID, GID: it.GID}
	switch it.Kind {
	case closure.Dir:
		e.Type = tar.TypeDir
	case closure.Symlink:
		e.Type = tar.TypeSymlink
		e.Linkname = it.Target
	default:
		e.Type = tar.TypeReg
		e.Source, e.Data, e.SourceFS = it.SourcePath, it.Data, it.SourceFS
	}
	return e
}

// words parses a JSON array of strings, or splits on spaces.
func words(s string) ([]string, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "[") {
		var w []string
		if err := json.Unmarshal([]byte(s), &w); err != nil {
			return nil, err
		}
		return w, nil
	}
	return strings.Fields(s), nil
}

func setEnv(env []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}

// sourceDateEpoch is SOURCE_DATE_EPOCH, or the Unix epoch.
func sourceDateEpoch() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Unix(0, 0).UTC()
}
