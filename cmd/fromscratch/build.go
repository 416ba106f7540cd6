package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/fromscratch/fromscratch/closure"
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
	platform     string
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
}

func newBuildCmd() *cobra.Command {
	o := &buildOptions{}
	cmd := &cobra.Command{
		Use:   "build [flags] PROGRAM [FILE...]",
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

Exit status: 0 built; 1 a library or the loader was not found (see
--allow-missing); 2 bad usage or unusable input.`,
		Example: `  # a docker load tarball
  fromscratch build -o curl.tar -t curl:latest /usr/bin/curl
  docker load -i curl.tar && docker run --rm curl:latest --version

  # from another root filesystem, to an OCI layout
  fromscratch build --root /srv/arm64-root --oci-layout ./out -t jq /usr/bin/jq

  # push to a registry (credentials from ~/.docker/config.json)
  fromscratch build --push registry.example.com/tools/jq:1.6 /usr/bin/jq

  # a script: its interpreter comes with it
  fromscratch build -o app.tar --add ./app.sh:/app.sh --entrypoint /app.sh /bin/sh`,
		Args: cobra.MinimumNArgs(1),
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
	f.StringVar(&o.platform, "platform", "", "expected platform, e.g. linux/arm64 (default: PROGRAM's)")
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
	fsys, err := rootfs.Dir(o.root)
	if err != nil {
		return usage("%s: %v", o.root, unwrapPathError(err))
	}
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
	host, err := rootfs.Dir("/")
	if err != nil {
		return err
	}
	for _, a := range o.add {
		src, dst, ok := strings.Cut(a, ":")
		if !ok || src == "" || !path.IsAbs(dst) {
			return usage("--add %q: want SRC:DST with an absolute DST", a)
		}
		abs, err := filepath.Abs(src)
		if err != nil {
			return usage("--add %s: %v", src, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return usage("%s: %s", src, describe(err))
		}
		inputs = append(inputs, closure.Input{Path: rootfs.Clean(dst), FS: host, SourcePath: abs, Layer: closure.LayerApp})
	}

	env := []string{"PATH=" + closure.DefaultPath}
	extra := []closure.Item{
		{Path: "/etc/passwd", Kind: closure.File, Mode: 0o644, Data: []byte(passwd)},
		{Path: "/etc/group", Kind: closure.File, Mode: 0o644, Data: []byte(group)},
		{Path: "/etc/nsswitch.conf", Kind: closure.File, Mode: 0o644, Data: []byte(nsswitch)},
		{Path: "/tmp", Kind: closure.Dir, Mode: 0o777 | fs.ModeSticky},
		{Path: "/home/nonroot", Kind: closure.Dir, Mode: 0o700, UID: 65532, GID: 65532},
	}
	if o.caCerts {
		inputs = append(inputs, closure.Input{Path: caBundle, Layer: closure.LayerBase})
		env = append(env, "SSL_CERT_FILE="+caBundle)
	}
	if o.tzdata {
		inputs = append(inputs, closure.Input{Path: zoneinfo, Layer: closure.LayerBase})
	}
	for _, e := range o.env {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" {
			return usage("--env %q: want K=V", e)
		}
		env = setEnv(env, e)
	}

	plan, err := closure.Compute(fsys, inputs, extra, closure.Options{
		Ldso:         ldso.Options{UseConf: o.useConf},
		AllowMissing: o.allowMissing,
		BaselineOnly: o.baseline,
	})
	if err != nil {
		if errors.Is(err, closure.ErrMissing) {
			return &exitError{code: 1, msg: fmt.Sprintf("build: %v (--allow-missing builds anyway)", err)}
		}
		return &exitError{code: 2, msg: fmt.Sprintf("build: %v", describe(err))}
	}
	for _, m := range plan.Missing {
		fmt.Fprintf(stderr, "fromscratch: warning: %s not found (--allow-missing)\n", m)
	}

	cfg := image.Config{Env: env, WorkingDir: o.workdir, User: o.user, OS: "linux", Labels: map[string]string{}}
	if plan.Info != nil {
		arch, variant, ok := image.PlatformOf(plan.Info.Class, plan.Info.Data, plan.Info.Machine, plan.Info.EFlags)
		if !ok {
			return usage("%s: no OCI platform for %v", args[0], plan.Info.Machine)
		}
		cfg.Architecture, cfg.Variant = arch, variant
	}
	if o.platform != "" {
		want := strings.TrimPrefix(o.platform, "linux/")
		got := cfg.Architecture
		if cfg.Variant != "" {
			got += "/" + cfg.Variant
		}
		if cfg.Architecture != "" && want != got && want != cfg.Architecture {
			return usage("%s: is linux/%s, not %s", args[0], got, o.platform)
		}
		if cfg.Architecture == "" {
			a, v, _ := strings.Cut(want, "/")
			cfg.Architecture, cfg.Variant = a, v
		}
	}
	if cfg.Architecture == "" {
		return usage("%s: not an ELF program: give --platform", args[0])
	}
	cfg.Entrypoint = []string{program}
	if o.entrypoint != "" {
		if cfg.Entrypoint, err = words(o.entrypoint); err != nil {
			return usage("--entrypoint: %v", err)
		}
	}
	if o.cmd != "" {
		if cfg.Cmd, err = words(o.cmd); err != nil {
			return usage("--cmd: %v", err)
		}
	}
	for _, l := range o.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return usage("--label %q: want K=V", l)
		}
		cfg.Labels[k] = v
	}

	iopts := image.Options{Created: sourceDateEpoch()}
	names := [...]string{"loader, C library and runtime files", "libraries", "program and files"}
	var layers []v1.Layer
	var specs []image.LayerSpec
	for l, items := range plan.Layers {
		if len(items) == 0 {
			continue
		}
		spec := image.LayerSpec{CreatedBy: "fromscratch build: " + names[l]}
		for _, it := range items {
			spec.Entries = append(spec.Entries, entryOf(it))
		}
		layer, err := image.Layer(fsys, spec, iopts)
		if err != nil {
			return &exitError{code: 2, msg: fmt.Sprintf("build: %v", err)}
		}
		layers = append(layers, layer)
		specs = append(specs, spec)
	}
	img, err := image.Image(layers, specs, cfg, iopts)
	if err != nil {
		return err
	}
	tag := o.tag
	if tag == "" {
		tag = path.Base(program) + ":latest"
	}
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
	var files int
	var bytes int64
	for _, items := range plan.Layers {
		for _, it := range items {
			if it.Kind == closure.File {
				files++
				bytes += it.Size
			}
		}
	}
	fmt.Fprintf(stderr, "fromscratch: built %s: %d layers, %d files, %.1f MB (%s/%s)\n",
		tag, len(layers), files, float64(bytes)/1e6, cfg.OS, cfg.Architecture)
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
