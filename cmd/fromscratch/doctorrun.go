package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/fromscratch/fromscratch/rootfs"
	"github.com/fromscratch/fromscratch/rootsrc"
	"github.com/fromscratch/fromscratch/tracer"
)

// runMissing is a path the program looked for in the image and did not
// find.
type runMissing struct {
	Path string      `json:"path"`
	Ops  []tracer.Op `json:"ops"`
	// InRoot is what the reference root has at Path: "file", "directory",
	// "symlink", "other", or "" (nothing: the program probes for it, as
	// the loader probes its search path).
	InRoot string `json:"in_root,omitempty"`
	// Optional: a path the program does without, whatever the root has
	// (the loader's cache: doctor found every library without it).
	Optional bool `json:"optional,omitempty"`
}

// optionalPaths are looked for by every dynamic program and needed by
// none that doctor's static check passed.
var optionalPaths = map[string]bool{"/etc/ld.so.cache": true}

// runReport is doctor --run's verdict.
type runReport struct {
	Image    string       `json:"image"`
	Command  []string     `json:"command"`
	ExitCode int          `json:"exit_code"`
	TimedOut bool         `json:"timed_out,omitempty"`
	Root     string       `json:"root"`
	Missing  []runMissing `json:"missing"`
	// Healthy: no path the program looked for in vain is in the root.
	Healthy bool `json:"healthy"`
}

func runDoctorRun(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, o *doctorOptions, ref string, args []string, hasArgs bool) error {
	ctx = cmp.Or(ctx, context.Background())
	if hasArgs {
		o.args, o.hasArgs = args, true
	}
	ref0, err := openRoot(ctx, o.root, rootsrc.Options{Platform: o.platform, Insecure: o.insecure})
	if err != nil {
		return err
	}
	defer ref0.Close()
	img, cfg, rep, err := diagnoseImage(ctx, o, ref)
	if err != nil {
		return err
	}
	if !rep.Healthy() {
		// Nothing to run: say why it cannot start.
		printReport(stdout, ref, rep)
		return &exitError{code: 1}
	}
	argv := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	eng, err := newEngine()
	if err != nil {
		return err
	}
	name, done, err := eng.load(ctx, ref, img)
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("%s: %s", ref, describe(err))}
	}
	defer done()
	c, err := eng.start(ctx, runSpec{image: name, traced: true, argv: argv, timeout: o.timeout, stdin: stdin, stdout: stderr, stderr: stderr})
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("%s: %v", ref, err)}
	}
	defer c.cleanup()
	if _, err := c.wait(ctx); err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("%s: %v", ref, err)}
	}
	tf, err := c.trace()
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("%s: %v", ref, err)}
	}
	rr := &runReport{Image: ref, Command: argv, ExitCode: tf.ExitCode, TimedOut: tf.TimedOut, Root: o.root, Missing: missingPaths(tf.Accesses, ref0.FS), Healthy: true}
	for _, m := range rr.Missing {
		rr.Healthy = rr.Healthy && (m.InRoot == "" || m.Optional)
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rr); err != nil {
			return err
		}
	} else {
		printRunReport(stdout, rr)
	}
	if !rr.Healthy {
		return &exitError{code: 1}
	}
	return nil
}

// missingPaths are the paths of accesses never found, once each, those the
// reference root has first.
func missingPaths(acc []tracer.Access, root rootfs.FS) []runMissing {
	found := map[string]bool{}
	for _, a := range acc {
		if a.Found {
			found[a.Path] = true
		}
	}
	idx := map[string]int{}
	out := []runMissing{}
	for _, a := range acc {
		if a.Found || found[a.Path] || ours(a.Path) {
			continue
		}
		if i, ok := idx[a.Path]; ok {
			out[i].Ops = appendOp(out[i].Ops, a.Op)
			continue
		}
		idx[a.Path] = len(out)
		out = append(out, runMissing{Path: a.Path, Ops: []tracer.Op{a.Op}, InRoot: kindIn(root, a.Path), Optional: optionalPaths[a.Path]})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].needed() && !out[j].needed() })
	return out
}

// needed reports whether m makes the image unhealthy.
func (m runMissing) needed() bool { return m.InRoot != "" && !m.Optional }

// ours reports whether p is where the engine mounts fromscratch.
func ours(p string) bool { return p == engineDir || strings.HasPrefix(p, engineDir+"/") }

func appendOp(ops []tracer.Op, op tracer.Op) []tracer.Op {
	for _, o := range ops {
		if o == op {
			return ops
		}
	}
	return append(ops, op)
}

// kindIn is what root has at p (following symbolic links inside root).
func kindIn(root rootfs.FS, p string) string {
	real, err := rootfs.Realpath(root, p)
	if err != nil {
		return ""
	}
	fi, err := root.Lstat(real)
	if err != nil {
		return ""
	}
	switch {
	case fi.Mode().IsRegular():
		return "file"
	case fi.IsDir():
		return "directory"
	case fi.Mode()&fs.ModeSymlink != 0:
		return "symlink"
	}
	return "other"
}

func printRunReport(w io.Writer, rr *runReport) {
	fmt.Fprintf(w, "image:   %s\n", rr.Image)
	fmt.Fprintf(w, "command: %s\n", quoteArgs(rr.Command))
	status := fmt.Sprintf("exit status %d", rr.ExitCode)
	if rr.TimedOut {
		status += " (timed out)"
	}
	fmt.Fprintf(w, "ran:     %s\n", status)
	var inRoot, probed []runMissing
	for _, m := range rr.Missing {
		if m.needed() {
			inRoot = append(inRoot, m)
		} else {
			probed = append(probed, m)
		}
	}
	for _, m := range inRoot {
		fmt.Fprintf(w, "error: the program looked for %s (%s): not in the image; %s has it (%s)\n", m.Path, opsString(m.Ops), rr.Root, m.InRoot)
	}
	if len(inRoot) > 0 {
		printRunFix(w, rr, inRoot)
	}
	if len(probed) > 0 {
		fmt.Fprintf(w, "also looked for, not needed (probes, as the loader's search path):\n")
		for _, m := range probed {
			note := ""
			if m.InRoot != "" {
				note = fmt.Sprintf("; %s has it (%s), the program does without", rr.Root, m.InRoot)
			}
			fmt.Fprintf(w, "  %s (%s%s)\n", m.Path, opsString(m.Ops), note)
		}
	}
	if len(inRoot) == 0 {
		fmt.Fprintf(w, "healthy: no path the program looked for in vain is in %s (but optional ones)\n", rr.Root)
	}
}

// printRunFix says how to build an image with the paths of the reference
// root the program looked for in vain: trace the job there (a directory),
// or name the paths (an image, which cannot be traced in).
func printRunFix(w io.Writer, rr *runReport, inRoot []runMissing) {
	rootFlag := ""
	if rr.Root != "/" {
		rootFlag = " --root " + shellQuote(rr.Root)
	}
	program := "PROGRAM"
	if len(rr.Command) > 0 {
		program = rr.Command[0]
	}
	if rootsrc.IsImage(rr.Root) {
		paths := make([]string, len(inRoot))
		for i, m := range inRoot {
			paths[i] = shellQuote(m.Path)
		}
		fmt.Fprintf(w, "  fix: add them to the build from the reference image (a trace needs a directory root):\n")
		fmt.Fprintf(w, "    fromscratch build%s ... %s %s\n", rootFlag, program, strings.Join(paths, " "))
		return
	}
	fmt.Fprintf(w, "  fix: trace the same job on the reference root and build with the paths it uses:\n")
	fmt.Fprintf(w, "    fromscratch trace%s -o trace.txt -- %s\n", rootFlag, shellJoin(rr.Command))
	fmt.Fprintf(w, "    fromscratch build%s --files-from trace.txt -o image.tar %s\n", rootFlag, program)
	fmt.Fprintf(w, "  or add them: fromscratch build ... %s\n", addFlags(inRoot, rr.Root))
}

func opsString(ops []tracer.Op) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// addFlags are the --add SRC:DST flags that put the paths of the root into
// an image.
func addFlags(ms []runMissing, root string) string {
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(' ')
		}
		src := m.Path
		if root != "/" {
			src = strings.TrimSuffix(root, "/") + m.Path
		}
		fmt.Fprintf(&b, "--add %s:%s", shellQuote(src), shellQuote(m.Path))
	}
	return b.String()
}

func shellJoin(a []string) string {
	q := make([]string, len(a))
	for i, s := range a {
		q[i] = shellQuote(s)
	}
	return strings.Join(q, " ")
}
