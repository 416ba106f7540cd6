package builder

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/rootfs"
	"github.com/fromscratch/fromscratch/tracer"
)

// Trace is one traced run of the entrypoint (Options.Traces).
type Trace struct {
	Argv     []string
	ExitCode int
	TimedOut bool
	// Paths is how many paths the run used that the image gets.
	Paths int
}

// generated are the paths every image has of its own: a run's use of the
// root's copy does not bring it.
var generated = map[string]bool{"/etc/passwd": true, "/etc/group": true, "/etc/nsswitch.conf": true, "/tmp": true}

// skipPath says whether a used path stays out of the image.
func skipPath(p string) bool {
	return p == "/" || generated[p] || strings.HasPrefix(p, "/tmp/") ||
		p == "/home/nonroot" || strings.HasPrefix(p, "/home/nonroot/")
}

// pathInputs turns used paths into closure inputs; the paths the root lacks
// are returned apart.
func pathInputs(fsys rootfs.FS, paths []string) (inputs []closure.Input, missing []string) {
	for _, p := range paths {
		p = path.Clean(p)
		if !path.IsAbs(p) || skipPath(p) {
			continue
		}
		if _, err := rootfs.Realpath(fsys, p); err != nil {
			missing = append(missing, p)
			continue
		}
		inputs = append(inputs, closure.Input{Path: p, Layer: closure.LayerApp, Shallow: true})
	}
	return inputs, missing
}

// traceRuns runs the entrypoint under the tracer once per o.Traces entry
// and returns the paths the runs used, each once, in the order met.
func traceRuns(ctx context.Context, o *Options, entrypoint []string, env []string, workdir string) ([]string, []Trace, error) {
	var paths []string
	var traces []Trace
	seen := map[string]bool{}
	root := ""
	if o.root() != "/" {
		root = o.root()
	}
	for _, args := range o.Traces {
		argv := append(append([]string{}, entrypoint...), args...)
		res, err := tracer.Run(ctx, tracer.Options{
			Argv: argv, Env: env, Dir: workdir, Root: root,
			Stdin: o.TraceStdin, Stdout: o.TraceOutput, Stderr: o.TraceOutput,
			Timeout: o.TraceTimeout,
		})
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return nil, nil, err
			}
			return nil, nil, badInputErr(err, "--trace %s: %v", strings.Join(argv, " "), err)
		}
		t := Trace{Argv: argv, ExitCode: res.ExitCode, TimedOut: res.TimedOut}
		for _, a := range res.Accesses {
			if !a.Found || skipPath(a.Path) {
				continue
			}
			if !seen[a.Path] {
				seen[a.Path] = true
				paths = append(paths, a.Path)
				t.Paths++
			}
		}
		traces = append(traces, t)
	}
	return paths, traces, nil
}

// traceEnv is the environment a traced run gets: the image's, with the
// HOME Docker would give its user.
func traceEnv(env []string, user string) []string {
	home := "/home/nonroot"
	if u, _, _ := strings.Cut(user, ":"); u == "0" || u == "root" {
		home = "/root"
	}
	out := append([]string{}, env...)
	for _, e := range out {
		if strings.HasPrefix(e, "HOME=") {
			return out
		}
	}
	return append(out, "HOME="+home)
}

// String is "ARGV: exit N, M paths".
func (t Trace) String() string {
	s := fmt.Sprintf("%s: exit %d, %d paths", strings.Join(t.Argv, " "), t.ExitCode, t.Paths)
	if t.TimedOut {
		s += " (ended by the timeout)"
	}
	return s
}
