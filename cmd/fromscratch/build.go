package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fromscratch/fromscratch/builder"
	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/internal/progress"
	"github.com/fromscratch/fromscratch/pkgdb"
	"github.com/fromscratch/fromscratch/publish"
	"github.com/fromscratch/fromscratch/rootsrc"
)

type buildOptions struct {
	outputFlags
	roots        []string
	tag          string
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
	filesFrom    []string
	traces       []string
	traceTimeout time.Duration
	exclude      []string
	noCACerts    bool
	noTzdata     bool
	noCheck      bool
	sbom         sbomFlags
	pkgs         packageFlags
}

func newBuildCmd() *cobra.Command {
	o := &buildOptions{}
	cmd := &cobra.Command{
		Use:     "build [flags] PROGRAM [FILE...] | build --go PKG [flags]",
		Short:   "Build the smallest image that runs PROGRAM: it, its libraries and the loader",
		Long:    buildLong,
		Example: buildExample,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o, args)
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// addFlags defines the command's flags.
func (o *buildOptions) addFlags(f *pflag.FlagSet) {
	o.outputFlags.register(f)
	f.StringVarP(&o.tag, "tag", "t", "", "NAME:TAG recorded in the tarball or layout (default: PROGRAM's name:latest)")
	f.BoolVar(&o.insecure, "insecure", false, "allow a plain-HTTP registry for --push and an image --root")
	f.StringArrayVar(&o.roots, "root", nil, "root filesystem to take PROGRAM, FILEs and libraries from: a directory or an image (docker-archive:PATH, oci-layout:DIR, docker-daemon:NAME, a registry reference; a bare name is looked for in the Docker engine first), read without extracting it (default /); repeat as --root PLATFORM=ROOT for a multi-platform image, one image per root")
	f.StringSliceVar(&o.platform, "platform", nil, "expected platform, e.g. linux/arm64 (default: PROGRAM's, or an image root's), which picks one image of an image root's index; with --go, the platforms to build (comma-separated or repeated; default: the host's)")
	f.StringVar(&o.entrypoint, "entrypoint", "", `entrypoint, a JSON array or words (default: PROGRAM)`)
	f.StringVar(&o.cmd, "cmd", "", "default arguments, a JSON array or words")
	f.StringArrayVar(&o.env, "env", nil, "K=V environment variable (repeatable); PATH has a default")
	f.StringVar(&o.workdir, "workdir", "/", "working directory")
	f.StringVar(&o.user, "user", "65532:65532", "user[:group] the image runs as (0 for root)")
	f.StringArrayVar(&o.labels, "label", nil, "K=V image label (repeatable)")
	f.StringArrayVar(&o.add, "add", nil, "SRC:DST host file or directory to add at DST, with its ELF dependencies (repeatable)")
	f.BoolVar(&o.allowMissing, "allow-missing", false, "build even if a library or the loader is not found")
	f.BoolVar(&o.caCerts, "ca-certs", false, "add the root's CA bundle (/etc/ssl/certs/ca-certificates.crt) and set SSL_CERT_FILE (the default with --go)")
	f.BoolVar(&o.tzdata, "tzdata", false, "add the root's /usr/share/zoneinfo (the default with --go)")
	f.BoolVar(&o.baseline, "hwcaps-baseline", false, "leave out glibc-hwcaps variants of libraries (by default all present are added)")
	f.StringVar(&o.goPkg, "go", "", "build the Go main package PKG (go build, CGO_ENABLED=0) and make the image of it, at "+builder.GoBinDir+"/NAME")
	f.StringVar(&o.ldflags, "ldflags", "", `with --go, linker flags added after "-s -w"`)
	f.BoolVar(&o.debug, "debug", false, "add a top layer with a static busybox in /busybox (PATH extended); the layers below are unchanged")
	f.StringArrayVar(&o.busybox, "busybox", nil, "with --debug, the static busybox to use (default: the root's /bin/busybox); repeatable, one per architecture")
	f.StringSliceVar(&o.debugTools, "debug-tools", nil, "programs of the root to add to the debug layer with their libraries, e.g. strace,gdb (implies --debug)")
	f.StringArrayVar(&o.filesFrom, "files-from", nil, "add the paths listed in `FILE` (- for stdin; as fromscratch trace writes it: a path a line, # comments), directories without their contents (DIR/*: with its direct entries), files with their libraries (repeatable)")
	f.StringArrayVar(&o.traces, "trace", nil, "run the entrypoint with `ARGS` (a JSON array, or words quoted as in a shell) under the tracer first and add every path the run used (repeatable; the runs' output goes to stderr)")
	f.DurationVar(&o.traceTimeout, "trace-timeout", time.Minute, "end a --trace run after this long, keeping what it used (0: no limit)")
	f.BoolVar(&o.json, "json", false, jsonFlagUsage)
	f.BoolVar(&o.noCACerts, "no-ca-certs", false, "with --go, leave out the CA bundle a Go image has by default")
	f.BoolVar(&o.noTzdata, "no-tzdata", false, "with --go, leave out the time zones a Go image has by default")
	f.BoolVar(&o.noCheck, "no-check", false, "write the image even if it would not start (doctor's problems become warnings): a broken image on purpose")
	f.StringArrayVar(&o.exclude, "exclude", nil, "GLOB of paths to leave out with what is under them, unresolved (repeatable): a name (llvmjit*.so, __pycache__) or a whole path (/usr/share/doc)")
	f.BoolVar(&o.useConf, "ldconfig", false, "for a root without /etc/ld.so.cache, search its ld.so.conf directories as if ldconfig had run")
	o.sbom.register(f)
	o.pkgs.register(f)
}

// buildLong is the command's --help.
const buildLong = `build makes an image holding exactly PROGRAM, the extra FILEs, the libraries
the dynamic loader would load for them, the loader, and every symbolic link on
the way, at the same paths as in the root filesystem. No Docker daemon is
needed. A PROGRAM or FILE given by a relative path goes under /app at its
path from the current directory (./build/bin/app is /app/build/bin/app, its
$ORIGIN/../lib /app/build/lib): the image does not depend on where the
checkout is. The image runs as the user nonroot (65532) unless --user says
otherwise; it has /etc/passwd and /etc/group (root and nonroot), /tmp and
/etc/nsswitch.conf.

--root is a directory or an image (any reference inspect takes), read
without extracting it. Repeated as --root PLATFORM=ROOT, it builds PROGRAM
from each root, one image each, combined in an index (--oci-layout, --push);
each root's programs must be of its PLATFORM.

Layers, lowest first: the loader, the C library and the runtime files; the
other libraries; the program and its files; the package records (below).
Images built from one root share their lower layers. The same inputs give
the same image digest (SOURCE_DATE_EPOCH sets the timestamps; the default
is the Unix epoch).

With --go PKG, the Go main package PKG is built with the host's toolchain
(CGO_ENABLED=0, -trimpath, -buildvcs=false, -ldflags "-s -w" then --ldflags;
GOFLAGS is honoured) for each --platform, checked to be static, and put at
/usr/local/bin/NAME (NAME as go build names it), the entrypoint. The image
has the root's CA bundle (SSL_CERT_FILE set) and time zones, as ko's have:
--no-ca-certs and --no-tzdata leave them out. Several
platforms give one image each, combined in an image index (--oci-layout,
--push; a -o tarball takes one platform). A package that needs cgo cannot be
built this way: build it yourself and give the binary as PROGRAM.

With --debug, one more layer goes on top: a static busybox at
/busybox/busybox with a link per applet (the list is read from the binary,
which is never run), PATH ending in :/busybox, and the --debug-tools with the
libraries they need that the image lacks. The layers under it are those of
the image without --debug, byte for byte.

Before anything is written, the image is checked as doctor would check it,
with its final configuration: an --entrypoint the image does not hold, a
--user or group its /etc/passwd or /etc/group lacks, a --workdir that is a
file stop the build (exit 1, the problem named).

Unless --no-package-records, a top layer carries the records of the root's
packages the image holds files of (/var/lib/dpkg/status.d/NAME and
NAME.md5sums, their copyright files, os-release) so that scanners find
them. --sbom FILE writes the SBOM: every package with its files, every file
with its SHA-256, the files no package owns listed as such (SPDX 2.3 JSON,
or CycloneDX 1.5 JSON with --sbom-format cyclonedx).

--packages adds every file of the packages that own the image's files
(their data, modules and configuration: glibc's gconv modules, Tcl's
init.tcl), --package NAME a package with its dependencies; documentation
stays out unless --package-docs.

Exit status: 0 built; 1 a library or the loader was not found (see
--allow-missing), or the image would not start; 2 bad usage or unusable
input (a Go build that fails).`

// buildExample is the command's examples.
const buildExample = `  # a docker load tarball
  fromscratch build -o curl.tar -t curl:latest /usr/bin/curl
  docker load -i curl.tar && docker run --rm curl:latest --version

  # straight into Docker; a bare name is looked up in PATH
  fromscratch build -o - jq | docker load

  # a program with its own tree ($ORIGIN/../lib) added at /opt/app
  fromscratch build -o app.tar --add ./app:/opt/app /opt/app/bin/server

  # from another root filesystem, to an OCI layout
  fromscratch build --root /srv/arm64-root --oci-layout ./out -t jq /usr/bin/jq

  # from an image, never extracted (a registry, docker-archive:, oci-layout:, docker-daemon:)
  fromscratch build --root registry.example.com/debian:12 -o curl.tar /usr/bin/curl

  # one image per root, for two platforms, in one index
  fromscratch build --root linux/amd64=/ --root linux/arm64=/srv/arm64-root --push registry.example.com/tools/curl:8 curl

  # push (credentials from ~/.docker/config.json), the SBOM attached; prints REPO:TAG@sha256:...
  fromscratch build --push registry.example.com/tools/jq:1.6 --sbom jq.spdx.json /usr/bin/jq

  # a script: its interpreter comes with it
  fromscratch build -o app.tar --add ./app.sh:/app.sh --entrypoint /app.sh /bin/sh

  # with an SBOM (CycloneDX), for scanners and licence audits
  fromscratch build -o curl.tar --sbom curl.cdx.json --sbom-format cyclonedx curl

  # iconv with glibc's gconv modules, from the packages that own its files
  fromscratch build -o iconv.tar --packages iconv

  # a Go program for two platforms, an image index in an OCI layout
  fromscratch build --go ./cmd/server --platform linux/amd64,linux/arm64 --oci-layout ./out

  # with a shell and strace for debugging: docker run --entrypoint /busybox/sh ...
  fromscratch build --go ./cmd/server -o server.tar --debug --debug-tools strace`

func usage(format string, a ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, a...)}
}

func runBuild(ctx context.Context, stdout, stderr io.Writer, o *buildOptions, args []string) error {
	m, err := o.sinks().open("build", stdout)
	if err != nil {
		return err
	}
	defer m.Close() // removes an archive not published
	platforms, err := o.checkArgs(args)
	if err != nil {
		return err
	}
	bo, err := o.builderOptions(args, platforms)
	if err != nil {
		return err
	}
	if bo.Roots, err = o.openRoots(ctx, platforms); err != nil {
		return err
	}
	defer closeRoots(bo.Roots)
	// A file archive as the only output gets the layers as they are made.
	if bo.Archive, err = m.Stream(); err != nil {
		return sinkError(err)
	}
	// Progress on a terminal only; it is gone before the last lines.
	bar := progress.Start(stderr, "building")
	defer bar.Stop()
	if bar != nil {
		ctx = image.WithProgress(ctx, bar)
	}
	if o.goPkg != "" && bar == nil { // a terminal has the progress line
		fmt.Fprintf(stderr, "fromscratch: compiling %s with go build (%s)\n", o.goPkg, goPlatforms(platforms))
	}
	res, err := builder.Build(ctx, bo)
	if err != nil {
		return builderError(err)
	}
	defer res.Close()
	buildNotes(bar, stderr, res)
	art := publish.Artifact{Index: res.Index}
	if res.Index == nil {
		art.Image = res.Images[0]
	}
	if len(res.SBOMs) > 0 {
		if art.SBOM, err = o.sbom.write(res.SBOMs[0]); err != nil {
			return err
		}
	}
	// The summaries go out once the outputs are written: a failed write
	// leaves one line, its error.
	return o.sinks().publish(ctx, m, art, res.Tag, report{stdout, stderr, bar, buildResult(res), func() { o.summarize(stderr, res) }})
}

// buildNotes prints what a build tells beside its outputs: the traced
// runs, the warnings, where things went.
func buildNotes(bar *progress.Bar, stderr io.Writer, res *builder.Result) {
	for _, t := range res.Traces {
		bar.Printf(stderr, "fromscratch: traced %s\n", t)
	}
	for _, m := range res.Missing {
		bar.Printf(stderr, "fromscratch: warning: %s\n", missingWarning(m))
	}
	for _, w := range res.Warnings {
		bar.Printf(stderr, "fromscratch: warning: %s\n", w)
	}
	for _, n := range res.Notes {
		bar.Printf(stderr, "fromscratch: %s\n", n)
	}
}

// checkArgs checks the arguments and the flags that go with them, and
// returns the platforms asked for.
func (o *buildOptions) checkArgs(args []string) ([]string, error) {
	if o.goPkg == "" && len(args) == 0 {
		return nil, usage("build: give PROGRAM, or --go PKG for a Go program")
	}
	if o.goPkg != "" && len(args) > 0 {
		return nil, usage("build --go %s: no PROGRAM or FILE arguments (%s); add files with --add SRC:DST", o.goPkg, strings.Join(args, " "))
	}
	platforms := builder.SplitPlatforms(o.platform)
	if o.goPkg == "" && len(platforms) > 1 {
		return nil, usage("build: one --platform for PROGRAM (several are for --go): %s", strings.Join(platforms, ","))
	}
	if o.output != "" && len(platforms) > 1 {
		return nil, usage("-o %s: a docker load tarball holds one platform, and %d are asked (%s): give one --platform, or write an index with --oci-layout or --push",
			o.output, len(platforms), strings.Join(platforms, ","))
	}
	if o.output != "" && len(o.roots) > 1 {
		return nil, usage("-o %s: a docker load tarball holds one platform, and %d roots make one each: write an index with --oci-layout or --push", o.output, len(o.roots))
	}
	if err := o.sbom.check("build", max(len(platforms), len(o.roots))); err != nil {
		return nil, err
	}
	return platforms, nil
}

// summarize prints what build made, on stderr: the SBOM written, the
// packages added, a line per image.
func (o *buildOptions) summarize(stderr io.Writer, res *builder.Result) {
	if len(res.SBOMs) > 0 {
		fmt.Fprintf(stderr, "fromscratch: wrote %s: %s\n", o.sbom.file, sbomSummary(res.SBOMs[0]))
	}
	for _, sum := range res.Summaries {
		for _, p := range sum.Packages {
			fmt.Fprintf(stderr, "fromscratch: added package %s %s: %s, %s\n", p.Name, p.Version, plural(p.Files, "file"), human(p.Bytes))
		}
		fmt.Fprintf(stderr, "fromscratch: built %s: %s\n", res.Tag, sum)
	}
}

// builderOptions turns the flags and arguments into builder.Options,
// parsing the flags whose syntax is the command's.
func (o *buildOptions) builderOptions(args, platforms []string) (builder.Options, error) {
	bo := builder.Options{
		GoPackage:      o.goPkg,
		LDFlags:        o.ldflags,
		Platforms:      platforms,
		CACerts:        o.caCerts,
		Tzdata:         o.tzdata,
		Env:            o.env,
		WorkingDir:     o.workdir,
		User:           o.user,
		Labels:         map[string]string{},
		AllowMissing:   o.allowMissing,
		HWCapsBaseline: o.baseline,
		LDConfig:       o.useConf,
		Debug:          o.debug || len(o.debugTools) > 0,
		Busybox:        o.busybox,
		DebugTools:     o.debugTools,
		Exclude:        o.exclude,
		NoCACerts:      o.noCACerts,
		NoTzdata:       o.noTzdata,
		NoCheck:        o.noCheck,
		Tag:            o.tag,
		Created:        sourceDateEpoch(),
		PackageRecords: !o.sbom.noRecords,
		SBOM:           o.sbom.file != "",
		Packages:       o.pkgs.all,
		PackageNames:   o.pkgs.names,
		PackageDocs:    o.pkgs.docs,
	}
	var err error
	if bo.Level, bo.Uncompressed, err = o.sinks().compression(o.level); err != nil {
		return bo, err
	}
	if len(args) > 0 {
		bo.Program, bo.Files = args[0], args[1:]
	}
	for _, a := range o.add {
		src, dst, ok := strings.Cut(a, ":")
		if !ok {
			return bo, usage("--add %q: want SRC:DST with an absolute DST", a)
		}
		bo.Add = append(bo.Add, builder.AddFile{Src: src, Dst: dst})
	}
	for _, l := range o.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return bo, usage("--label %q: want K=V", l)
		}
		bo.Labels[k] = v
	}
	return bo, o.runtimeOptions(&bo)
}

// runtimeOptions sets what the image runs (--entrypoint, --cmd) and what
// the build runs or reads to find its run-time files (--files-from,
// --trace).
func (o *buildOptions) runtimeOptions(bo *builder.Options) error {
	var err error
	if o.entrypoint != "" {
		if bo.Entrypoint, err = words(o.entrypoint); err != nil {
			return usage("--entrypoint: %v", err)
		}
	}
	if o.cmd != "" {
		if bo.Cmd, err = words(o.cmd); err != nil {
			return usage("--cmd: %v", err)
		}
	}
	stdinTaken := false
	for _, name := range o.filesFrom {
		paths, err := readPathList(name)
		if err != nil {
			return err
		}
		stdinTaken = stdinTaken || name == "-"
		bo.Paths = append(bo.Paths, paths...)
	}
	for _, t := range o.traces {
		args, err := words(t)
		if err != nil {
			return usage("--trace %q: %v", t, err)
		}
		bo.Traces = append(bo.Traces, args)
	}
	bo.TraceTimeout = o.traceTimeout
	if !stdinTaken {
		bo.TraceStdin = os.Stdin
	}
	bo.TraceOutput = os.Stderr
	return nil
}

// openRoots opens the --root values (none: the host's /).
func (o *buildOptions) openRoots(ctx context.Context, platforms []string) ([]*rootsrc.Root, error) {
	opts := rootsrc.Options{Insecure: o.insecure, Keep: pkgdb.Wanted}
	if len(platforms) == 1 {
		opts.Platform = platforms[0]
	}
	var roots []*rootsrc.Root
	for _, v := range o.roots {
		r, err := openRoot(ctx, v, opts)
		if err != nil {
			closeRoots(roots)
			return nil, err
		}
		roots = append(roots, r)
	}
	return roots, nil
}

// closeRoots closes roots (an image's view has temporary files).
func closeRoots(roots []*rootsrc.Root) {
	for _, r := range roots {
		r.Close()
	}
}

// readPathList reads a --files-from list (- is stdin).
func readPathList(name string) ([]string, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, usage("--files-from %s: %s", name, describe(err))
		}
		defer f.Close()
		r = f
	}
	paths, err := builder.ReadPathList(r)
	if err != nil {
		return nil, usage("--files-from %s: %v", name, err)
	}
	return paths, nil
}

// words parses a JSON array of strings, or splits words as a shell does
// (quotes and backslashes, no expansion).
func words(s string) ([]string, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "[") {
		var w []string
		if err := json.Unmarshal([]byte(s), &w); err != nil {
			return nil, err
		}
		return w, nil
	}
	return shellWords(s)
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
