package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fromscratch/fromscratch/builder"
	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/rootsrc"
	"github.com/fromscratch/fromscratch/tracer"
)

type traceOptions struct {
	root    string
	output  string
	json    bool
	timeout time.Duration
	all     bool
	tracer  string
}

func newTraceCmd() *cobra.Command {
	o := &traceOptions{}
	cmd := &cobra.Command{
		Use:   "trace [flags] -- PROGRAM [ARGS...]",
		Short: "Run a program and list the files it uses at run time",
		Long: `trace runs PROGRAM with ARGS (found in PATH as a shell would) and lists every
path its process tree opened, executed, stat'ed, read as a link, checked with
access or listed: the files a program loads at run time, which no ELF header
names (Python's standard library, gconv modules, plugins, configuration and
data files, helper programs). Its stdin, stdout and stderr are the program's.
--tracer: ebpf (root, a kernel with BTF) records the path system calls in the
kernel and never stops the program; ptrace (no privilege) stops it on them
(seccomp-bpf); auto (the default) is ebpf where it loads, else ptrace.

The list: a first line "# fromscratch trace: ARGV (exit N)", then each path
that was found, absolute, sorted, once (a directory listed for its names, no
path under it used, as "aspell dump dicts" lists /usr/lib/aspell, also as
DIR/*: build takes it with its direct entries); then the paths looked for and
not found, as "# not found: PATH" lines. Lines starting with # are comments:
the list can be edited and given to build --files-from. Paths under /proc,
/sys and /dev, and files the run itself created, are left out (--all keeps
them). Without -o the list goes to stderr once the program has exited.

--root DIR runs the program chrooted into DIR (root only); paths are then as
the program sees them, inside DIR. A root of another architecture runs under
qemu-user, through a binfmt_misc handler with the F flag: the list is the
root's files the program used, without qemu's own.

Exit status: the program's (128+N if signal N ended it); 2 bad usage, or
the program cannot be started or traced (one line on stderr). The list is
written whenever the program ran, even when it failed or timed out.`,
		Example: `  # what python3 reads to import json, in a file to edit and build from
  fromscratch trace -o python.files -- python3 -c 'import json'

  # a gconv module is dlopen'ed: the list names it; the ptrace tracer even as root
  echo hé | fromscratch trace --tracer ptrace -- iconv -f UTF-8 -t ISO-8859-1 >/dev/null

  # inside a root filesystem, as JSON (op, found, pid of each path)
  sudo fromscratch trace --root ./rootfs --json -o trace.json -- /usr/bin/env

  # an arm64 root on an x86-64 host: run under qemu-user (binfmt_misc, F flag)
  sudo fromscratch trace --root ./arm64-root -o py.files -- /usr/bin/python3 -c 'import json'

  # a server: stop it after 10 s, the trace is kept
  fromscratch trace --timeout 10s -o nginx.files -- nginx -g 'daemon off;'`,
		Args: wantArgs(1, -1, "-- PROGRAM [ARGS...]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTrace(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o, args)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // the flags after PROGRAM are its own
	f.StringVar(&o.root, "root", "", "run PROGRAM chrooted into this directory (root only); paths are listed as inside it")
	f.StringVarP(&o.output, "output", "o", "", "write the list to FILE (- for stdout; default: stderr; after the program exits)")
	f.BoolVar(&o.json, "json", false, `write JSON: {"argv", "exit_code", "timed_out", "accesses": [{"path", "op", "found", "pid"}]}`)
	f.DurationVar(&o.timeout, "timeout", 0, "kill the program and its children after this long (e.g. 30s; default: none); the trace is kept")
	f.BoolVar(&o.all, "all", false, "keep paths under /proc, /sys and /dev, and the files the run created")
	f.StringVar(&o.tracer, "tracer", "auto", "how to follow the program: auto (ebpf where it loads, else ptrace), ebpf (root) or ptrace")
	return cmd
}

// tracerMechanism is the mechanism --tracer names.
func tracerMechanism(name string) (tracer.Mechanism, error) {
	switch name {
	case "auto", "":
		return tracer.Auto, nil
	case "ptrace":
		return tracer.Ptrace, nil
	case "ebpf":
		return tracer.EBPF, nil
	}
	return "", usage("trace: --tracer %s: want auto, ebpf or ptrace", name)
}

// traceJSON is the stable JSON shape of trace --json (see DESIGN.md).
type traceJSON struct {
	Argv     []string        `json:"argv"`
	ExitCode int             `json:"exit_code"`
	TimedOut bool            `json:"timed_out"`
	Accesses []tracer.Access `json:"accesses"`
}

func runTrace(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, o *traceOptions, argv []string) error {
	if o.root != "" {
		if rootsrc.IsImage(o.root) {
			return usage("trace: --root %s: an image; trace runs the program chrooted into a directory (extract it, or build it and use doctor --run)", o.root)
		}
		if os.Geteuid() != 0 {
			return usage("trace: --root %s: needs root (it runs the program chrooted)", o.root)
		}
		if st, err := os.Stat(o.root); err != nil || !st.IsDir() {
			return usage("%s: not a directory", o.root)
		}
	}
	mech, err := tracerMechanism(o.tracer)
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := tracer.Run(ctx, tracer.Options{
		Mechanism: mech,
		Argv:      argv,
		Root:      o.root,
		Stdin:     stdin,
		Stdout:    stdout,
		Stderr:    stderr,
		Timeout:   o.timeout,
		All:       o.all,
	})
	if res == nil {
		if err == nil {
			err = errors.New("no result")
		}
		return usage("trace: %s", traceReason(err))
	}
	if werr := o.writeList(stdout, stderr, argv, res); werr != nil {
		return werr
	}
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return usage("trace: %s", traceReason(err))
	}
	if res.ExitCode != 0 {
		return &exitError{code: res.ExitCode}
	}
	return nil
}

// writeList writes the list of paths (text or JSON) where -o says.
func (o *traceOptions) writeList(stdout, stderr io.Writer, argv []string, res *tracer.Result) error {
	var buf bytes.Buffer
	if o.json {
		acc := res.Accesses
		if acc == nil {
			acc = []tracer.Access{}
		}
		raw, err := json.MarshalIndent(traceJSON{Argv: argv, ExitCode: res.ExitCode, TimedOut: res.TimedOut, Accesses: acc}, "", "  ")
		if err != nil {
			return err
		}
		buf.Write(raw)
		buf.WriteByte('\n')
	} else {
		writeTraceText(&buf, argv, res)
	}
	switch o.output {
	case "", "-":
		w := stderr
		if o.output == "-" {
			w = stdout
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
	default:
		if err := image.WriteFileAtomic(o.output, buf.Bytes()); err != nil {
			return usage("%s: %v", o.output, unwrapPathError(err))
		}
	}
	return nil
}

// traceReason is the error without the sentinel's words repeated.
func traceReason(err error) string {
	return err.Error()
}

// writeTraceText writes the list build --files-from reads: a comment line
// with the command and its exit status, the paths found (sorted, once;
// a directory listed for its names also as DIR/*), then the paths not
// found as comments.
func writeTraceText(w *bytes.Buffer, argv []string, res *tracer.Result) {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = shellQuote(a)
	}
	status := fmt.Sprintf("exit %d", res.ExitCode)
	if res.TimedOut {
		status += ", timed out"
	}
	fmt.Fprintf(w, "# fromscratch trace: %s (%s)\n", strings.Join(quoted, " "), status)
	found := map[string]bool{}
	for _, a := range res.Accesses {
		if a.Found {
			found[a.Path] = true
		}
	}
	var missing []string
	seen := map[string]bool{}
	for _, a := range res.Accesses {
		if !a.Found && !found[a.Path] && !seen[a.Path] {
			seen[a.Path] = true
			missing = append(missing, a.Path)
		}
	}
	paths := make([]string, 0, len(found))
	for p := range found {
		paths = append(paths, p)
	}
	for _, d := range builder.NamesListed(res.Accesses) {
		paths = append(paths, d+closure.WholeSuffix)
	}
	sort.Strings(paths)
	sort.Strings(missing)
	for _, p := range paths {
		w.WriteString(p)
		w.WriteByte('\n')
	}
	for _, p := range missing {
		fmt.Fprintf(w, "# not found: %s\n", p)
	}
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
