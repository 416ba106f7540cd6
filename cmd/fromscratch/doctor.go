package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fromscratch/fromscratch/doctor"
	"github.com/fromscratch/fromscratch/imagefs"
	"github.com/fromscratch/fromscratch/imagesrc"
)

type doctorOptions struct {
	platform   string
	insecure   bool
	entrypoint string
	cmd        string
	json       bool
	run        bool
	root       string
	timeout    time.Duration
	// args replace the Cmd when hasArgs (doctor IMAGE --run -- ARGS).
	args    []string
	hasArgs bool
}

func newDoctorCmd() *cobra.Command {
	o := &doctorOptions{}
	cmd := &cobra.Command{
		Use:     "doctor [flags] IMAGE",
		Short:   "Say why an image's entrypoint cannot start, and how to fix it",
		Long:    doctorLong,
		Example: doctorExample,
		Args: func(cmd *cobra.Command, args []string) error {
			n := cmd.ArgsLenAtDash()
			if n < 0 {
				n = len(args)
			}
			if n != 1 {
				return fmt.Errorf("want one IMAGE (then, with --run, -- ARGS), got %d arguments before --", n)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !o.run && len(args) > 1 {
				return usage("doctor: ARGS after -- need --run")
			}
			if o.run {
				var argv []string
				if cmd.ArgsLenAtDash() >= 0 {
					argv = args[1:]
				}
				return runDoctorRun(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o, args[0], argv, cmd.ArgsLenAtDash() >= 0)
			}
			return runDoctor(cmd.Context(), cmd.OutOrStdout(), o, args[0])
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// addFlags defines doctor's flags.
func (o *doctorOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.platform, "platform", "", "platform to pick from a multi-platform image, e.g. linux/arm64")
	f.BoolVar(&o.insecure, "insecure", false, "allow a plain-HTTP registry")
	f.StringVar(&o.entrypoint, "entrypoint", "", "check this entrypoint instead of the image's (JSON array or words; clears Cmd, as docker run does)")
	f.StringVar(&o.cmd, "cmd", "", "check these arguments instead of the image's Cmd, appended to the entrypoint as docker run IMAGE ARGS does (JSON array or words)")
	f.BoolVar(&o.json, "json", false, "print the report as JSON")
	f.BoolVar(&o.run, "run", false, "run the entrypoint in the Docker engine under the tracer and report the paths it looked for in vain")
	f.StringVar(&o.root, "root", "/", "with --run, the reference root, a directory or an image: where the paths the image lacks are looked for")
	f.DurationVar(&o.timeout, "timeout", 0, "with --run, end the program after this long (default: none)")
}

// doctorLong is doctor's --help.
const doctorLong = `doctor reads IMAGE (no Docker engine needed) and follows its entrypoint as
the kernel and the dynamic loader would: the program (looked up in PATH), its
#! interpreters, its architecture, its loader, its libraries and the symbol
versions it needs, and the user it runs as. It names the first broken link
and a fix.

IMAGE is docker-archive:PATH[:NAME:TAG], oci-layout:DIR[:TAG|@DIGEST], docker-daemon:NAME
or a registry reference. A bare name (app:1.0) is the Docker engine's image,
or else Docker Hub's; a path (/..., ./..., ../...) is never a reference.

With --run, doctor then runs the entrypoint in the Docker engine (ARGS after
-- replace the image's Cmd; doctor's standard input is the program's, its
output goes to doctor's standard error) under fromscratch's tracer, which it
bind-mounts into the container: it reports each path the program looked for
and did not find, and where the reference root (--root, default the host)
has it, with the fix. Only running the program shows what it loads at run
time: plugins and modules it dlopens, data and configuration files, programs
it runs.

Exit status: 0 healthy, 1 the entrypoint cannot start (with --run: or the
program looked for a path the reference root has), 2 bad usage, or the
image cannot be read or run.`

const doctorExample = `  # the classic: a glibc program copied into FROM scratch
  fromscratch doctor docker-daemon:myapp:latest

  # another command line than the image's: --entrypoint (its Cmd is dropped)
  fromscratch doctor --entrypoint '["/bin/sh","-c","true"]' docker-archive:app.tar

  # the image's entrypoint with other arguments: --cmd, appended to it as
  # docker run IMAGE ARGS does
  fromscratch doctor --cmd '["--port","8080"]' docker-archive:app.tar

  fromscratch doctor --json oci-layout:./out:app

  # run it (ARGS after the entrypoint /usr/bin/iconv): what does iconv
  # look for that the image lacks and the host has?
  echo hé | fromscratch doctor docker-archive:iconv.tar --run -- -f UTF-8 -t ISO-8859-1`

// diagnoseImage opens ref and checks that its entrypoint (or o's) can start.
func diagnoseImage(ctx context.Context, o *doctorOptions, ref string) (v1.Image, doctor.Config, *doctor.Report, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	img, err := openImage(ctx, ref, imagesrc.Options{Platform: o.platform, Insecure: o.insecure})
	if err != nil {
		return nil, doctor.Config{}, nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, doctor.Config{}, nil, &exitError{code: 2, msg: fmt.Sprintf("%s: reading config: %v", ref, err)}
	}
	cfg, err := o.config(cf, ref)
	if err != nil {
		return nil, doctor.Config{}, nil, err
	}
	readingImage()
	fsys, err := imagefs.Open(ctx, img, imagefs.Options{Keep: keepProgram(cfg)})
	if err != nil {
		return nil, doctor.Config{}, nil, &exitError{code: 2, msg: fmt.Sprintf("%s: %s", ref, describe(err))}
	}
	defer fsys.Close()
	rep := doctor.Diagnose(fsys, cfg)
	if p := o.platformProblem(cf); p != nil {
		// First: nothing of the image starts on that platform.
		rep.Problems = append([]doctor.Problem{*p}, rep.Problems...)
	}
	for i, p := range rep.Problems {
		rep.Problems[i].Fix = fixText(p)
	}
	return img, cfg, rep, nil
}

// config is what doctor checks: the image's configuration, with the
// entrypoint and arguments o gives instead.
func (o *doctorOptions) config(cf *v1.ConfigFile, ref string) (doctor.Config, error) {
	cfg := doctor.Config{
		Entrypoint:   cf.Config.Entrypoint,
		Cmd:          cf.Config.Cmd,
		Env:          cf.Config.Env,
		User:         cf.Config.User,
		WorkingDir:   cf.Config.WorkingDir,
		Architecture: cf.Architecture,
		Variant:      cf.Variant,
		Image:        ref,
		Binfmt:       doctor.HostBinfmt,
	}
	if wd, err := os.Getwd(); err == nil {
		cfg.HostDir = wd
	}
	var err error
	if o.entrypoint != "" {
		if cfg.Entrypoint, err = words(o.entrypoint); err != nil {
			return cfg, usage("--entrypoint: %v", err)
		}
		cfg.Cmd = nil
	}
	if o.cmd != "" {
		if cfg.Cmd, err = words(o.cmd); err != nil {
			return cfg, usage("--cmd: %v", err)
		}
	}
	if o.hasArgs {
		cfg.Cmd = o.args
	}
	return cfg, nil
}

// keepProgram keeps the entrypoint's program whole in the image's view
// (which keeps only what the loader reads of other ELF files): a fix
// compares it with host files.
func keepProgram(cfg doctor.Config) func(name string, size int64) bool {
	prog := ""
	if len(cfg.Entrypoint) > 0 {
		prog = cfg.Entrypoint[0]
	} else if len(cfg.Cmd) > 0 {
		prog = cfg.Cmd[0]
	}
	return func(name string, size int64) bool {
		return prog != "" && size <= 256<<20 && path.Base(name) == path.Base(prog)
	}
}

// platformProblem is the problem of an image not of the --platform asked.
func (o *doctorOptions) platformProblem(cf *v1.ConfigFile) *doctor.Problem {
	if o.platform == "" {
		return nil
	}
	a, _, _ := strings.Cut(strings.TrimPrefix(o.platform, "linux/"), "/")
	if cf.Architecture == "" || a == cf.Architecture {
		return nil
	}
	return &doctor.Problem{
		Check:   "architecture",
		Message: fmt.Sprintf("the image is for %s/%s, not %s: exec format error", cf.OS, cf.Architecture, o.platform),
		Fix:     "pick the image of that platform (an index, --platform at build time)",
	}
}

func runDoctor(ctx context.Context, stdout io.Writer, o *doctorOptions, ref string) error {
	_, _, rep, err := diagnoseImage(ctx, o, ref)
	if err != nil {
		return err
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		out := struct {
			Image   string `json:"image"`
			Healthy bool   `json:"healthy"`
			*doctor.Report
		}{ref, rep.Healthy(), rep}
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printReport(stdout, ref, rep)
	}
	if !rep.Healthy() {
		return &exitError{code: 1}
	}
	return nil
}

func printReport(w io.Writer, ref string, rep *doctor.Report) {
	fmt.Fprintf(w, "image:   %s\n", ref)
	fmt.Fprintf(w, "command: %s\n", quoteArgs(rep.Command))
	if len(rep.Chain) > 0 {
		kind := "dynamic, loader " + rep.Loader
		if rep.Static {
			kind = "static"
		}
		if rep.Loader == "" && !rep.Static {
			kind = "not started"
		}
		fmt.Fprintf(w, "program: %s (%s)\n", strings.Join(rep.Chain, " -> "), kind)
	}
	healthy := true
	for _, p := range rep.Problems {
		tag := "error"
		if p.Warning {
			tag = "warning"
		} else {
			healthy = false
		}
		fmt.Fprintf(w, "%s: %s\n  fix: %s\n", tag, p.Message, p.Fix)
	}
	if healthy {
		fmt.Fprintln(w, "healthy: the entrypoint can start (what the program loads at run time is checked by --run)")
	}
}

func quoteArgs(a []string) string {
	if len(a) == 0 {
		return "(none)"
	}
	b, _ := json.Marshal(a)
	return string(b)
}
