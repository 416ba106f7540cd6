package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/builder"
	"github.com/fromscratch/fromscratch/closure"
)

// defaultProbeTimeout bounds each probe: a command's run, or the wait for
// an HTTP port to answer.
const defaultProbeTimeout = time.Minute

// probeDash is --probe's value without = (--help shows it as
// --probe ARGS[=--]): the probe's ARGS are those after --. A probe of the
// one argument "--" is given as a JSON array, --probe='["--"]'.
const probeDash = "--"

// probe is one job slim runs the image with: a command line (args replace
// the Cmd) or an HTTP GET of a port of the running entrypoint.
type probe struct {
	args []string
	port int
	path string
}

func (p probe) http() bool { return p.port != 0 }

func (p probe) String() string {
	if p.http() {
		return fmt.Sprintf("--probe-http %d%s", p.port, p.path)
	}
	return "--probe " + quoteArgs(p.args)
}

// probeResult is what a probe gave: a command's exit status and output, or
// the HTTP status and body.
type probeResult struct {
	exitCode       int
	stdout, stderr []byte
	http           *httpResult
}

// parseProbes reads --probe (a value, or the ARGS after --) and
// --probe-http PORT[/PATH].
func parseProbes(values, httpValues, dashArgs []string) ([]probe, error) {
	var ps []probe
	dashUsed := false
	for _, v := range values {
		if v == probeDash {
			if dashUsed {
				continue
			}
			dashUsed = true
			ps = append(ps, probe{args: dashArgs})
			continue
		}
		w, err := words(v)
		if err != nil {
			return nil, fmt.Errorf("--probe %q: %v", v, err)
		}
		ps = append(ps, probe{args: w})
	}
	if !dashUsed && dashArgs != nil {
		return nil, fmt.Errorf("ARGS after -- are a probe's: give --probe before --")
	}
	for _, v := range httpValues {
		port, path, _ := strings.Cut(v, "/")
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("--probe-http %q: want PORT[/PATH], PORT from 1 to 65535", v)
		}
		ps = append(ps, probe{port: n, path: "/" + path})
	}
	return ps, nil
}

// tracedProbes runs each probe in the image under the tracer; it returns
// their results and the paths they used that the image has.
// The command is entrypoint then cmd, a probe's ARGS replacing cmd.
func tracedProbes(ctx context.Context, eng *engine, name string, entrypoint, cmd []string, probes []probe, timeout time.Duration) ([]probeResult, []string, error) {
	var results []probeResult
	var paths []string
	seen := map[string]bool{}
	for _, p := range probes {
		args := cmd
		if !p.http() && p.args != nil {
			args = p.args
		}
		argv := append(append([]string{}, entrypoint...), args...)
		if len(argv) == 0 {
			return nil, nil, fmt.Errorf("%s: no command to run: the image has neither entrypoint nor cmd", p)
		}
		r, tf, err := runProbe(ctx, eng, runSpec{image: name, traced: true, argv: argv, timeout: timeout}, p, timeout)
		if err != nil {
			return nil, nil, fmt.Errorf("%s in the image: %v", p, err)
		}
		if tf.TimedOut {
			return nil, nil, fmt.Errorf("%s in the image: timed out after %v (--timeout)", p, timeout)
		}
		results = append(results, *r)
		for _, a := range tf.Accesses {
			if a.Found && !seen[a.Path] && !ours(a.Path) {
				seen[a.Path] = true
				paths = append(paths, a.Path)
			}
		}
		for _, d := range builder.NamesListed(tf.Accesses) {
			if p := d + closure.WholeSuffix; !seen[p] && !ours(d) {
				seen[p] = true
				paths = append(paths, p)
			}
		}
	}
	return results, paths, nil
}

// checkProbes runs each probe in the slim image (untraced) and compares
// with want; the error names the first difference.
func checkProbes(ctx context.Context, eng *engine, name string, probes []probe, want []probeResult, timeout time.Duration) error {
	for i, p := range probes {
		spec := runSpec{image: name, timeout: timeout}
		if !p.http() {
			spec.args = p.args
		}
		got, _, err := runProbe(ctx, eng, spec, p, timeout)
		var na *notAnswering
		if errors.As(err, &na) {
			return &probeDiff{fmt.Sprintf("%s: the slim image does not answer: %v", p, err)}
		}
		if err != nil {
			return fmt.Errorf("%s in the slim image: %v", p, err)
		}
		if d := differ(&want[i], got); d != "" {
			return &probeDiff{fmt.Sprintf("%s: the slim image %s", p, d)}
		}
	}
	return nil
}

// probeDiff is a probe that gave another result on the slim image.
type probeDiff struct{ msg string }

func (d *probeDiff) Error() string { return d.msg }

// runProbe runs one probe in a container of spec.
func runProbe(ctx context.Context, eng *engine, spec runSpec, p probe, timeout time.Duration) (*probeResult, *traceFile, error) {
	if p.http() {
		spec.publish = p.port
		if spec.traced {
			spec.timeout = 0 // stopped once answered
		}
		c, err := eng.start(ctx, spec)
		if err != nil {
			return nil, nil, err
		}
		defer c.cleanup()
		h, err := c.getWhenUp(ctx, p.path, timeout)
		c.stop()
		if err != nil {
			return nil, nil, err
		}
		r := &probeResult{http: h}
		if !spec.traced {
			return r, nil, nil
		}
		tf, err := c.trace()
		return r, tf, err
	}
	var stdout, stderr bytes.Buffer
	spec.stdout, spec.stderr = &stdout, &stderr
	c, err := eng.start(ctx, spec)
	if err != nil {
		return nil, nil, err
	}
	defer c.cleanup()
	code, err := c.wait(ctx)
	if err != nil {
		return nil, nil, err
	}
	r := &probeResult{exitCode: code, stdout: stdout.Bytes(), stderr: withoutOurLines(stderr.Bytes())}
	if !spec.traced {
		if code == 125 && bytes.Contains(stderr.Bytes(), []byte("docker: ")) {
			return nil, nil, fmt.Errorf("docker run: %s", lastLine(stderr.String()))
		}
		return r, nil, nil
	}
	tf, err := c.trace()
	if err != nil {
		return nil, nil, err
	}
	r.exitCode = tf.ExitCode
	return r, tf, nil
}

// withoutOurLines drops the tracer's own lines ("fromscratch: ...") from a
// traced program's standard error.
func withoutOurLines(b []byte) []byte {
	var out []byte
	for _, l := range bytes.SplitAfter(b, []byte("\n")) {
		if !bytes.HasPrefix(l, []byte("fromscratch: ")) {
			out = append(out, l...)
		}
	}
	return out
}

// differ says how got differs from want, or "".
func differ(want, got *probeResult) string {
	if want.http != nil {
		switch {
		case got.http.Status != want.http.Status:
			return fmt.Sprintf("answers HTTP %d, the image %d", got.http.Status, want.http.Status)
		case !bytes.Equal(got.http.Body, want.http.Body):
			return fmt.Sprintf("answers another body (%d bytes, the image's %d): %s", len(got.http.Body), len(want.http.Body), firstDiff(want.http.Body, got.http.Body))
		}
		return ""
	}
	switch {
	case got.exitCode != want.exitCode:
		return fmt.Sprintf("exits %d, the image %d; its stderr: %s", got.exitCode, want.exitCode, why(string(got.stderr)))
	case !bytes.Equal(got.stdout, want.stdout):
		return fmt.Sprintf("prints another output: %s", firstDiff(want.stdout, got.stdout))
	case !bytes.Equal(got.stderr, want.stderr):
		return fmt.Sprintf("prints another error output: %s", firstDiff(want.stderr, got.stderr))
	}
	return ""
}

// why is the line of stderr that says why a run failed: docker's own
// ("docker: Error response from daemon: ... no such file"), or the last.
func why(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "docker: ") {
			return l
		}
	}
	return lastLine(stderr)
}

// firstDiff shows the first line that differs.
func firstDiff(want, got []byte) string {
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; ; i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g || i >= len(wl) || i >= len(gl) {
			return fmt.Sprintf("line %d is %q, the image's %q", i+1, clipLine(g), clipLine(w))
		}
	}
}

func clipLine(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// checkSlim loads the slim image under a temporary tag and runs the
// probes on it.
func checkSlim(ctx context.Context, eng *engine, img v1.Image, probes []probe, want []probeResult, timeout time.Duration) error {
	name, done, err := eng.load(ctx, "", img)
	if err != nil {
		return err
	}
	defer done()
	return checkProbes(ctx, eng, name, probes, want, timeout)
}
