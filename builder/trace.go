package builder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/internal/progress"
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
	// Root is the root the run was in, when a build has several (Roots).
	Root string
}

// generated are the paths every image has of its own: a run's use of the
// root's copy does not bring it.
var generated = map[string]bool{"/etc/passwd": true, "/etc/group": true, "/etc/nsswitch.conf": true, "/tmp": true}

// accountFiles are the generated files a run reads to look up a user or
// group: when it does, the image's hold the root's system accounts too
// (systemAccounts), as the run found them.
var accountFiles = map[string]bool{"/etc/passwd": true, "/etc/group": true}

// skipPath says whether a used path stays out of the image.
func skipPath(p string) bool {
	return p == "/" || generated[p] || strings.HasPrefix(p, "/tmp/") ||
		p == "/home/nonroot" || strings.HasPrefix(p, "/home/nonroot/")
}

// NamesListed returns the directories a run listed (getdents) without
// using any path under them, and whose parent it did not list, sorted:
// what the run took from them is their names. aspell dump dicts prints
// the dictionaries /usr/lib/aspell holds, hunspell -D those of
// /usr/share/hunspell, ls the entries. A run that lists a directory to
// find what it then uses (Python's import, glibc's gconv, a conf.d
// include) used a path under it: such a directory is created with the
// entries used only, not with Python's whole site-packages. A directory
// whose parent the run listed too was met on a walk down a tree (find,
// ls -R, Python's pkgutil.iter_modules going through the directories of
// the working directory): the walk's directories stay as they are, not
// each with its files.
func NamesListed(acc []tracer.Access) []string {
	var found, listed []string
	walked := map[string]bool{}
	for _, a := range acc {
		if !a.Found {
			continue
		}
		found = append(found, a.Path)
		if a.Op == tracer.OpList {
			walked[a.Path] = true
			if a.Path != "/" {
				listed = append(listed, a.Path)
			}
		}
	}
	slices.Sort(found)
	slices.Sort(listed)
	listed = slices.Compact(listed)
	out := listed[:0]
	for _, d := range listed {
		if walked[path.Dir(d)] {
			continue
		}
		i, _ := slices.BinarySearch(found, d+"/")
		if i == len(found) || !strings.HasPrefix(found[i], d+"/") {
			out = append(out, d)
		}
	}
	return out
}

// ReadPathList reads a --files-from list (tracer.ReadList); from the JSON
// form, a directory the run listed for its names (NamesListed) comes as
// "DIR/*", as the text form says it.
func ReadPathList(r io.Reader) ([]string, error) {
	data, err := io.ReadAll(io.LimitReader(r, tracer.MaxList+1))
	if err != nil {
		return nil, err
	}
	paths, err := tracer.ReadList(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		var doc struct {
			Accesses []tracer.Access `json:"accesses"`
		}
		if err := json.Unmarshal(t, &doc); err != nil {
			return nil, err
		}
		for _, d := range NamesListed(doc.Accesses) {
			paths = append(paths, d+closure.WholeSuffix)
		}
	}
	return paths, nil
}

// usedPaths are the closure inputs of used paths (pathInputs).
type usedPaths struct {
	inputs []closure.Input
	// missing are the paths the root lacks; accounts says whether a path
	// is one of accountFiles.
	missing  []string
	accounts bool
	// warnings name the "DIR/*" whose entries hold more than
	// closure.MaxWhole: DIR is created empty.
	warnings []string
}

// pathInputs turns used paths into closure inputs. A "DIR/*" path takes
// DIR and its direct entries (closure.EntryInputs), up to closure.MaxWhole
// bytes of them.
func pathInputs(fsys rootfs.FS, paths []string) usedPaths {
	var u usedPaths
	for _, p := range paths {
		whole := strings.HasSuffix(p, closure.WholeSuffix)
		p = path.Clean(strings.TrimSuffix(p, closure.WholeSuffix))
		if p == "." {
			p = "/"
		}
		u.accounts = u.accounts || accountFiles[p]
		if !path.IsAbs(p) || skipPath(p) {
			continue
		}
		if _, err := rootfs.Realpath(fsys, p); err != nil {
			u.missing = append(u.missing, p)
			continue
		}
		u.inputs = append(u.inputs, closure.Input{Path: p, Layer: closure.LayerApp, Shallow: true})
		if !whole {
			continue
		}
		entries, size := closure.EntryInputs(fsys, p, closure.LayerApp, skipPath)
		if size > closure.MaxWhole {
			u.warnings = append(u.warnings, fmt.Sprintf("%s%s: its entries hold %s, more than %s: created empty (list the entries the image needs)",
				p, closure.WholeSuffix, progress.Bytes(size), progress.Bytes(closure.MaxWhole)))
			continue
		}
		u.inputs = append(u.inputs, entries...)
	}
	return u
}

// traceRuns runs the entrypoint under the tracer once per o.Traces entry
// and returns the paths the runs used, each once, in the order met: the
// image's user's home and the generated files are not among them, but for
// accountFiles.
// place, if not nil, is where the host tree of a relative PROGRAM goes:
// the paths under it are mapped there (placement.traced).
func traceRuns(ctx context.Context, o *Options, fsys rootfs.FS, place *placement, entrypoint []string, env []string, workdir, user string) ([]string, []Trace, error) {
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
		// /etc/passwd, /etc/group and nsswitch.conf, an empty /tmp, a
		// /home with the nonroot user's home only, an empty /root.
		view, err := imageView(o.root(), fsys, user, place.hostDir())
		if err != nil {
			return nil, nil, err
		}
		defer view.remove()
		topts.Binds = view.binds
		topts.User, topts.UID, topts.GID = view.user, view.uid, view.gid
		if view.app != "" {
			entrypoint = slices.Clone(entrypoint)
			entrypoint[0] = view.inApp(place.hostDir(), entrypoint[0])
			place = &placement{base: view.app, cwd: place.cwd}
		}
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
			p := place.traced(a.Path)
			if !a.Found || p == "" || (skipPath(p) && !accountFiles[p]) || inHome(p, user) {
				continue
			}
			if !seen[p] {
				seen[p] = true
				paths = append(paths, p)
				t.Paths++
			}
		}
		for _, d := range NamesListed(res.Accesses) {
			p := place.traced(d)
			if p == "" || skipPath(p) || inHome(p, user) {
				continue
			}
			if p += closure.WholeSuffix; !seen[p] {
				seen[p] = true
				paths = append(paths, p)
				t.Paths++
			}
		}
		traces = append(traces, t)
	}
	return paths, traces, nil
}

// userHome is the HOME Docker gives the image's user: /root for root,
// nonroot's home for any other (the image's /etc/passwd has no other).
func userHome(user string) string {
	if isRoot(user) {
		return "/root"
	}
	return "/home/nonroot"
}

// isRoot says whether the image's user is root.
func isRoot(user string) bool {
	u, _, _ := strings.Cut(user, ":")
	return u == "0" || u == "root"
}

// inHome says whether p is root's home or under it, for an image whose
// user is root: the image's is empty, as a traced run sees it.
func inHome(p, user string) bool {
	return isRoot(user) && (p == "/root" || strings.HasPrefix(p, "/root/"))
}

// traceEnv is the environment a traced run gets: the image's, with the
// HOME Docker would give its user.
func traceEnv(env []string, user string) []string {
	home := userHome(user)
	out := append([]string{}, env...)
	for _, e := range out {
		if strings.HasPrefix(e, "HOME=") {
			return out
		}
	}
	return append(out, "HOME="+home)
}

// String is "ARGV: exit N, M paths" ("ARGV in ROOT: ..." with a Root).
func (t Trace) String() string {
	s := strings.Join(t.Argv, " ")
	if t.Root != "" {
		s += " in " + t.Root
	}
	s += fmt.Sprintf(": exit %d, %d paths", t.ExitCode, t.Paths)
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
	// app is where the tree of a relative PROGRAM is mounted for the run:
	// a directory of /var/tmp, which the view does not hide and the run's
	// user can enter, whatever the tree's own directories allow.
	app string
}

// remove removes the view's directories.
func (v *runView) remove() {
	os.RemoveAll(v.dir)
	if v.app != "" {
		os.Remove(v.app)
	}
}

// inApp is where the host path p under tree is in the run: under app.
func (v *runView) inApp(tree, p string) string {
	if rest, ok := strings.CutPrefix(p, tree+"/"); ok {
		return path.Join(v.app, rest)
	}
	return p
}

// imageView makes the files of the image's view for a traced run in a
// temporary directory, and the user to run as, from the image's user
// (uid[:gid], or root or nonroot, the users of the image's /etc/passwd;
// another name runs as the caller). Its /etc/passwd and /etc/group are
// the image's with fsys's system accounts, as the image has them when the
// run reads them. tree, if not "", is the host directory of a relative
// PROGRAM, mounted at runView.app.
func imageView(root string, fsys rootfs.FS, user, tree string) (*runView, error) {
	dir, err := os.MkdirTemp("", "fromscratch-trace-")
	if err != nil {
		return nil, err
	}
	v := &runView{dir: dir}
	fail := func(err error) (*runView, error) {
		v.remove()
		return nil, fmt.Errorf("a view of the image for a traced run: %w", err)
	}
	if tree != "" {
		// First: the tree may be under /tmp, /home or /root, hidden below.
		if v.app, err = os.MkdirTemp("/var/tmp", "fromscratch-app-"); err != nil {
			return fail(err)
		}
		if err := os.Chmod(v.app, 0o755); err != nil {
			return fail(err)
		}
		v.binds = append(v.binds, tracer.Bind{Source: tree, Target: v.app})
	}
	users, groups := systemAccounts(fsys)
	files := []struct {
		target, content string
	}{{"/etc/passwd", passwd + users}, {"/etc/group", group + groups}, {"/etc/nsswitch.conf", nsswitch}}
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
	rootHome := filepath.Join(dir, "root")
	for _, d := range []string{tmp, home, filepath.Join(home, "nonroot"), rootHome} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fail(err)
		}
	}
	if err := os.Chmod(tmp, 0o777|fs.ModeSticky); err != nil {
		return fail(err)
	}
	for _, d := range []string{filepath.Join(home, "nonroot"), rootHome} {
		if err := os.Chmod(d, 0o700); err != nil {
			return fail(err)
		}
	}
	if err := os.Lchown(filepath.Join(home, "nonroot"), 65532, 65532); err != nil {
		return fail(err)
	}
	// The directory itself must be open to the run's user.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fail(err)
	}
	dirs := []tracer.Bind{{Source: home, Target: "/home"}}
	if isRoot(user) {
		// root's home, empty as the image's: not the host's dotfiles.
		dirs = append(dirs, tracer.Bind{Source: rootHome, Target: "/root"})
	}
	// /tmp last: the sources are under the host's /tmp, which it hides.
	for _, d := range append(dirs, tracer.Bind{Source: tmp, Target: "/tmp"}) {
		if isKind(root, d.Target, true) {
			v.binds = append(v.binds, d)
		}
	}
	v.uid, v.gid, v.user = imageUser(user)
	return v, nil
}

// systemAccounts are the lines of fsys's /etc/passwd and /etc/group for
// its system users and groups (ids below 1000, and nobody's 65534) other
// than the image's own root and nonroot: the service accounts a run looks
// up (nginx's www-data, memcached's memcache). A group keeps the members
// among those users only: no person's name goes in an image.
func systemAccounts(fsys rootfs.FS) (users, groups string) {
	keep := map[string]bool{"root": true}
	users = accountLines(fsys, "/etc/passwd", func(f []string) bool {
		if len(f) != 7 {
			return false
		}
		keep[f[0]] = true
		return true
	})
	groups = accountLines(fsys, "/etc/group", func(f []string) bool {
		if len(f) != 4 {
			return false
		}
		var members []string
		for _, m := range strings.Split(f[3], ",") {
			if keep[m] {
				members = append(members, m)
			}
		}
		f[3] = strings.Join(members, ",")
		return true
	})
	return users, groups
}

// accountLines are the lines of file (passwd or group: name:x:id:...)
// of system ids that ok accepts (it may edit the fields), each ending in
// a newline.
func accountLines(fsys rootfs.FS, file string, ok func(f []string) bool) string {
	b, err := rootfs.ReadFile(fsys, file, 1<<20)
	if err != nil {
		return ""
	}
	var out strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 || f[0] == "" || f[0] == "root" || f[0] == "nonroot" || strings.ContainsAny(f[0][:1], "+-") {
			continue
		}
		id, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil || id == 0 || id == 65532 || (id >= 1000 && id != 65534) || !ok(f) {
			continue
		}
		out.WriteString(strings.Join(f, ":") + "\n")
	}
	return out.String()
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
