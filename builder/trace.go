package builder

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
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
func traceRuns(ctx context.Context, o *Options, entrypoint []string, env []string, workdir, user string) ([]string, []Trace, error) {
	var paths []string
	var traces []Trace
	seen := map[string]bool{}
	root := ""
	if o.root() != "/" {
		root = o.root()
	}
	topts := tracer.Options{Env: env, Dir: workdir, Root: root,
		Stdin: o.TraceStdin, Stdout: o.TraceOutput, Stderr: o.TraceOutput,
		Timeout: o.TraceTimeout}
	if os.Geteuid() == 0 {
		// As root, the run is made to look like the image's: its user, its
		// /etc/passwd, /etc/group and nsswitch.conf, an empty /tmp and a
		// /home with the nonroot user's home only.
		view, err := imageView(o.root(), user)
		if err != nil {
			return nil, nil, err
		}
		defer os.RemoveAll(view.dir)
		topts.Binds = view.binds
		topts.User, topts.UID, topts.GID = view.user, view.uid, view.gid
	}
	for _, args := range o.Traces {
		argv := append(append([]string{}, entrypoint...), args...)
		topts.Argv = argv
		res, err := tracer.Run(ctx, topts)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return nil, nil, err
			}
			return nil, nil, &OptionError{Option: "Traces", Value: strings.Join(argv, " "), Err: err}
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

// runView is what a traced run sees in place of the root's own files.
type runView struct {
	dir      string // the temporary directory the sources are in
	binds    []tracer.Bind
	user     bool
	uid, gid uint32
}

// imageView makes the files of the image's view for a traced run in a
// temporary directory, and the user to run as, from the image's user
// (uid[:gid], or root or nonroot, the users of the image's /etc/passwd;
// another name runs as the caller).
func imageView(root, user string) (*runView, error) {
	dir, err := os.MkdirTemp("", "fromscratch-trace-")
	if err != nil {
		return nil, err
	}
	v := &runView{dir: dir}
	fail := func(err error) (*runView, error) {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("a view of the image for a traced run: %w", err)
	}
	files := []struct {
		target, content string
	}{{"/etc/passwd", passwd}, {"/etc/group", group}, {"/etc/nsswitch.conf", nsswitch}}
	for _, f := range files {
		src := filepath.Join(dir, path.Base(f.target))
		if err := os.WriteFile(src, []byte(f.content), 0o644); err != nil {
			return fail(err)
		}
		if isKind(root, f.target, false) {
			v.binds = append(v.binds, tracer.Bind{Source: src, Target: f.target})
		}
	}
	tmp := filepath.Join(dir, "tmp")
	home := filepath.Join(dir, "home")
	for _, d := range []string{tmp, home, filepath.Join(home, "nonroot")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fail(err)
		}
	}
	if err := os.Chmod(tmp, 0o777|fs.ModeSticky); err != nil {
		return fail(err)
	}
	if err := os.Chmod(filepath.Join(home, "nonroot"), 0o700); err != nil {
		return fail(err)
	}
	if err := os.Lchown(filepath.Join(home, "nonroot"), 65532, 65532); err != nil {
		return fail(err)
	}
	// The directory itself must be open to the run's user.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fail(err)
	}
	// /tmp last: the sources are under the host's /tmp, which it hides.
	for _, d := range []struct{ src, target string }{{home, "/home"}, {tmp, "/tmp"}} {
		if isKind(root, d.target, true) {
			v.binds = append(v.binds, tracer.Bind{Source: d.src, Target: d.target})
		}
	}
	v.uid, v.gid, v.user = imageUser(user)
	return v, nil
}

// isKind says whether p exists in root as a directory (dir) or a regular
// file, not through a symbolic link.
func isKind(root, p string, dir bool) bool {
	fi, err := os.Lstat(filepath.Join(root, p))
	if err != nil {
		return false
	}
	if dir {
		return fi.IsDir()
	}
	return fi.Mode().IsRegular()
}

// imageUser reads an image's user[:group] as the image's /etc/passwd and
// /etc/group have them; ok is false for a name they do not hold.
func imageUser(user string) (uid, gid uint32, ok bool) {
	id := func(s string) (uint32, bool) {
		switch s {
		case "root":
			return 0, true
		case "nonroot":
			return 65532, true
		}
		n, err := strconv.ParseUint(s, 10, 32)
		return uint32(n), err == nil
	}
	u, g, hasGroup := strings.Cut(user, ":")
	if uid, ok = id(u); !ok {
		return 0, 0, false
	}
	gid = uid
	if hasGroup {
		if gid, ok = id(g); !ok {
			return 0, 0, false
		}
	}
	return uid, gid, true
}
