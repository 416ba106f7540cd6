// Package doctor follows an image's entrypoint as the kernel and the
// dynamic loader would, through the image's filesystem (a rootfs.FS), and
// names the first broken link with a fix: no command, a program not found
// in PATH, not executable, another architecture, a missing #! interpreter,
// a missing loader, a missing library, a symbol version the image's library
// does not define, an unknown user.
package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/ldso"
	"github.com/fromscratch/fromscratch/program"
	"github.com/fromscratch/fromscratch/rootfs"
)

// Config is what doctor needs of an image's configuration.
type Config struct {
	Entrypoint, Cmd []string
	Env             []string
	User            string
	WorkingDir      string
	Architecture    string // OCI architecture, e.g. amd64
	Variant         string
	// Image names the image in the fixes' commands (docker-daemon:NAME,
	// a registry reference).
	Image string
	// HostDir, when set, is the directory (the user's current one) where,
	// besides the program's own path on the host, a copy of the program
	// is looked for: found, the fixes rebuild from it.
	HostDir string
	// Binfmt, when set, names the binfmt_misc handler (qemu-user) of the
	// host that runs a program starting with head, or "": a program of
	// another architecture then starts here, emulated (see HostBinfmt).
	Binfmt func(head []byte) string
}

// Problem is one reason the entrypoint cannot start (or a warning).
type Problem struct {
	Check   string `json:"check"` // e.g. "loader", "library", "version"
	Path    string `json:"path,omitempty"`
	Message string `json:"message"` // what Docker would say, or why
	Fix     string `json:"fix"`
	Warning bool   `json:"warning,omitempty"` // does not stop the start
	// Remedy is Fix as data, for a front end that words it with its own
	// options; Fix says it in doctor's words. Its Kind is zero where Fix
	// is all there is.
	Remedy Remedy `json:"-"`
}

// Remedy is a Problem's fix: what to change, and the values it names.
type Remedy struct {
	Kind RemedyKind
	// Got and Want are the program's and the image's architectures
	// (SetPlatform, BuildFor).
	Got, Want string
	// Name and File are a user or group name and the file that should
	// list it (AddUser; File alone for AddUserFile).
	Name, File string
	// Rebuild is the rebuild that fixes the image (RebuildLoader,
	// RebuildLibraries).
	Rebuild *Rebuild
}

// RemedyKind says which fix a Remedy is.
type RemedyKind int

const (
	// NoRemedy: Fix says it all.
	NoRemedy RemedyKind = iota
	// CreateWorkdir: create the missing working directory in the image,
	// if the program expects files there.
	CreateWorkdir
	// FixWorkdir: set a working directory that is a directory.
	FixWorkdir
	// SetEntrypoint: give the image an entrypoint.
	SetEntrypoint
	// SetPlatform: set the image's platform to the program's (Got), or
	// build the program for the image's (Want).
	SetPlatform
	// BuildFor: build the program for the image's architecture (Want).
	BuildFor
	// AddUserFile: use a numeric user, or add File.
	AddUserFile
	// AddUser: add Name to File, or use a numeric user.
	AddUser
	// RebuildLoader: rebuild the image with the program's loader and
	// libraries, or link the program static.
	RebuildLoader
	// RebuildLibraries: rebuild the image with the program's libraries.
	RebuildLibraries
)

// Rebuild is a build of the image's program with what it needs, with the
// image's entrypoint and cmd.
type Rebuild struct {
	// Program is the program, a path in the image.
	Program string
	// Entrypoint is the entrypoint to set, when it is not Program alone;
	// Cmd the cmd to set, if any.
	Entrypoint, Cmd []string
	// Host is the program's copy on the host (Program itself when the
	// host has it at the same path), or "" when none was found: then it
	// is to be copied out of Image.
	Host string
	// Image is the image as Config.Image names it.
	Image string
	// Musl says the program is musl's.
	Musl bool
}

// Report is doctor's verdict.
type Report struct {
	Command  []string  `json:"command"`
	Program  string    `json:"program,omitempty"` // the file executed
	Chain    []string  `json:"chain,omitempty"`   // #! interpreters followed, then the ELF file
	Static   bool      `json:"static,omitempty"`
	Loader   string    `json:"loader,omitempty"`
	Problems []Problem `json:"problems"`
}

// Healthy reports whether nothing stops the entrypoint from starting.
func (r *Report) Healthy() bool {
	for _, p := range r.Problems {
		if !p.Warning {
			return false
		}
	}
	return true
}

// Diagnose checks that cfg's command can start in fsys.
func Diagnose(fsys rootfs.FS, cfg Config) *Report {
	d := &doc{fsys: fsys, cfg: cfg, rep: &Report{Problems: []Problem{}}}
	d.run()
	return d.rep
}

type doc struct {
	fsys rootfs.FS
	cfg  Config
	rep  *Report
	fix  *Rebuild // the program's rebuild, once worked out (one hash of it)
}

// fail adds a problem and returns it, to set its Remedy.
func (d *doc) fail(check, p, msg, fix string) *Problem {
	d.rep.Problems = append(d.rep.Problems, Problem{Check: check, Path: p, Message: msg, Fix: fix})
	return &d.rep.Problems[len(d.rep.Problems)-1]
}

// warn adds a warning and returns it, to set its Remedy.
func (d *doc) warn(check, p, msg, fix string) *Problem {
	d.rep.Problems = append(d.rep.Problems, Problem{Check: check, Path: p, Message: msg, Fix: fix, Warning: true})
	return &d.rep.Problems[len(d.rep.Problems)-1]
}

func (d *doc) run() {
	argv := append(append([]string{}, d.cfg.Entrypoint...), d.cfg.Cmd...)
	d.rep.Command = argv
	d.checkUser()
	if wd := d.cfg.WorkingDir; wd != "" {
		if real, err := rootfs.Realpath(d.fsys, wd); err != nil {
			d.warn("workdir", wd, "working directory "+wd+" does not exist (Docker creates it empty at start)",
				"create it in the image if the program expects files there").Remedy = Remedy{Kind: CreateWorkdir}
		} else if fi, err := d.fsys.Lstat(real); err == nil && !fi.IsDir() {
			d.fail("workdir", wd, "working directory "+wd+" is not a directory",
				"set a working directory that is a directory").Remedy = Remedy{Kind: FixWorkdir}
		}
	}
	if len(argv) == 0 {
		d.fail("command", "", "no command specified: the image has neither Entrypoint nor Cmd",
			"set the image's entrypoint").Remedy = Remedy{Kind: SetEntrypoint}
		return
	}
	ex, err := program.ResolveDir(d.fsys, d.cfg.WorkingDir, argv, d.cfg.Env)
	for i := range ex.Files {
		f := &ex.Files[i]
		// env is not the program of interest when it runs one.
		if !f.IsEnv() || i+1 == len(ex.Files) || ex.Files[i+1].Role != program.EnvCommand {
			d.rep.Chain = append(d.rep.Chain, f.Path)
		}
		if d.rep.Program == "" {
			d.rep.Program = f.Path
		}
		if !d.mayRun(f) {
			return
		}
		if f.ELF != nil {
			head, _ := program.Head(d.fsys, f.Real)
			if d.elf(f.Path, f.ELF, head); !d.rep.Healthy() {
				return
			}
		}
	}
	var ee *program.ExecError
	if errors.As(err, &ee) {
		d.execError(ee)
	}
}

// mayRun checks that the user may execute f (the execute bits the owner,
// the group or the others have), as the kernel does.
func (d *doc) mayRun(f *program.File) bool {
	u := d.cfg.User
	if isRoot(u) || f.Mode&0o001 != 0 {
		return true
	}
	switch d.mayExec(f.Real, f.Mode, u) {
	case denied:
		d.fail("program", f.Path, fmt.Sprintf("exec %s: permission denied (mode %v, and user %s is neither its owner nor in its group)", f.Path, f.Mode.Perm(), u),
			"make it executable by all (chmod 755), or run as its owner")
		return false
	case unknown:
		// The view has no owners: say what decides.
		d.warn("permission", f.Path, fmt.Sprintf("%s is mode %v and the image runs as user %s: it starts only if that user owns it or is in its group (else: permission denied)", f.Path, f.Mode.Perm(), u),
			"make it executable by all (chmod 755), or run as its owner")
	}
	return true
}

// execError words why the exec stops, as Docker or the program says it.
func (d *doc) execError(e *program.ExecError) {
	p := e.Path
	if e.SearchPath == "" && !errors.Is(e, program.ErrLoop) && !errors.Is(e, program.ErrEnvUsage) {
		d.rep.Chain = append(d.rep.Chain, p)
		if d.rep.Program == "" {
			d.rep.Program = p
		}
	}
	switch {
	case e.SearchPath != "" && e.Role == program.Command:
		d.fail("command", p, fmt.Sprintf("exec: %q: executable file not found in $PATH (%s)", p, e.SearchPath),
			"use an absolute path in the entrypoint, or add the program to the image")
	case e.SearchPath != "":
		d.fail("interpreter", p, fmt.Sprintf("%s: '%s': No such file or directory (not in PATH %s)", e.By, p, e.SearchPath),
			fmt.Sprintf("add %s to the image", p))
	case errors.Is(e, program.ErrNotFound) && e.Role == program.Interpreter && strings.HasSuffix(p, "\r"):
		d.fail("interpreter", strings.TrimSuffix(p, "\r"), fmt.Sprintf("exec %s: no such file or directory (its #! line ends with a carriage return: the interpreter %q is not in the image)", e.By, p),
			"convert the script to Unix line endings (dos2unix, or sed -i 's/\\r$//')")
	case errors.Is(e, program.ErrNotFound) && e.Role == program.Interpreter:
		d.fail("interpreter", p, fmt.Sprintf("exec %s: no such file or directory (its #! interpreter %s is not in the image)", e.By, p),
			fmt.Sprintf("add %s: fromscratch build brings a script's interpreter with it", p))
	case errors.Is(e, program.ErrNotFound):
		d.fail("program", p, fmt.Sprintf("exec %s: no such file or directory", p), "add the program to the image (fromscratch build PROGRAM)")
	case errors.Is(e, program.ErrNotExecutable) && e.Mode.IsRegular():
		d.fail("program", p, fmt.Sprintf("exec %s: permission denied (mode %v, not executable)", p, e.Mode.Perm()), "chmod +x the file before adding it")
	case errors.Is(e, program.ErrNotExecutable):
		d.fail("program", p, fmt.Sprintf("exec %s: %s (permission denied)", p, e.Reason()), "point the entrypoint at a program")
	case errors.Is(e, program.ErrLoop):
		d.fail("interpreter", p, fmt.Sprintf("exec %s: %v", p, e.Err), "point the #! line at a program")
	case errors.Is(e, program.ErrEnvUsage):
		d.fail("interpreter", p, fmt.Sprintf("%s: %s", p, e.Reason()), "fix the arguments of env on the #! line")
	default:
		d.formatError(e)
	}
}

// formatError words an exec format error.
func (d *doc) formatError(e *program.ExecError) {
	p := e.Path
	var fe *elfinfo.FormatError
	switch {
	case errors.As(e, &fe) && strings.Contains(fe.Msg, "PT_INTERP"):
		d.fail("program", p, fmt.Sprintf("exec %s: exec format error (%v)", p, fe),
			"rebuild the program: the kernel refuses its PT_INTERP (the loader's path, NUL-terminated)")
	case errors.As(e, &fe):
		d.fail("program", p, fmt.Sprintf("exec %s: exec format error (%v)", p, fe), "rebuild the program")
	case strings.Contains(e.Reason(), "#! line"):
		d.fail("interpreter", p, fmt.Sprintf("exec %s: exec format error (%s)", p, e.Reason()), "name the interpreter on the #! line")
	case strings.Contains(e.Reason(), "not a program"):
		d.fail("program", p, fmt.Sprintf("exec %s: exec format error (%s)", p, e.Reason()), "point the entrypoint at a program")
	default:
		d.fail("program", p, fmt.Sprintf("exec %s: exec format error (neither an ELF program nor a #! script)", p), "point the entrypoint at a program, or start the script with #!")
	}
}

// elf checks an ELF program: architecture, loader, libraries, versions.
func (d *doc) elf(prog string, info *elfinfo.Info, head []byte) {
	if want := d.cfg.Architecture; want != "" {
		got, _, ok := program.Platform(info)
		if !ok {
			// A machine without an OCI name runs on no image's platform.
			got = program.Machine(info)
		}
		if got != want {
			if got == "386" && want == "amd64" || got == "arm" && want == "arm64" {
				d.warn("architecture", prog, fmt.Sprintf("the program is for %s, the image for %s: it runs only where the kernel has 32-bit support", got, want),
					"set the image's platform to the program's")
			} else if h := d.emulator(head); h != "" {
				d.warn("architecture", prog, fmt.Sprintf("the program is for %s, the image for %s: it runs here under emulation (binfmt_misc %s), and fails with exec format error on a host without such a handler", got, want, h),
					fmt.Sprintf("set the image's platform to the program's (linux/%s), or build the program for %s", got, want)).Remedy = Remedy{Kind: SetPlatform, Got: got, Want: want}
			} else {
				d.fail("architecture", prog, fmt.Sprintf("exec %s: exec format error: the program is for %s, the image for %s", prog, got, want),
					fmt.Sprintf("build the program for %s (GOARCH=%s or a cross compiler), or set the image's platform", want, want)).Remedy = Remedy{Kind: BuildFor, Want: want}
				return
			}
		} else if h := d.emulator(head); h != "" {
			d.warn("emulation", prog, fmt.Sprintf("the program is for %s: on this host it runs under emulation (binfmt_misc %s), slower than on a %s host", got, h, got), "none needed; run it on a host of its architecture for full speed")
		}
	}
	if program.Static(info) {
		d.rep.Static = true
		return
	}
	r := ldso.New(d.fsys, ldso.Options{HWCaps: []string{}})
	res, err := r.Resolve(prog)
	if err != nil {
		d.fail("program", prog, fmt.Sprintf("exec %s: %v", prog, err), "rebuild the program")
		return
	}
	d.rep.Loader = res.Interpreter
	if res.Interpreter != "" && !res.InterpreterFound {
		msg := fmt.Sprintf("exec %s: no such file or directory: its loader %s is not in the image", prog, res.Interpreter)
		if have := d.loaders(); len(have) > 0 {
			msg += " (the image has " + strings.Join(have, ", ") + ")"
		}
		fix := "rebuild the image with the loader and libraries, or link the program with -static"
		if res.Flavor == "musl" {
			fix = "this is a musl program: rebuild the image with its loader and libraries, or use a musl image (Alpine), or link with -static"
		}
		d.fail("loader", res.Interpreter, msg, fix).Remedy = Remedy{Kind: RebuildLoader, Rebuild: d.rebuild(prog, res.Flavor == "musl")}
		return
	}
	for _, l := range res.Libraries {
		if !l.Found {
			msg := fmt.Sprintf("error while loading shared libraries: %s: cannot open shared object file: No such file or directory (needed by %s)", l.Name, l.NeededBy)
			if l.Error != "" {
				msg = fmt.Sprintf("error while loading shared libraries: %s: %s (needed by %s)", l.Name, l.Error, l.NeededBy)
			}
			if other := d.otherClass(l.Name, info); other != "" {
				msg += "; " + other
			}
			d.fail("library", l.Name, msg, "rebuild the image with the program's libraries").Remedy = Remedy{Kind: RebuildLibraries, Rebuild: d.rebuild(prog, res.Flavor == "musl")}
		}
	}
	if !d.rep.Healthy() || res.Flavor == "musl" { // musl's loader ignores symbol versions
		return
	}
	d.versions(prog, res)
}

// versions checks every needed symbol version against the definitions of
// the object that provides it (the loader's "version `X' not found").
func (d *doc) versions(prog string, res *ldso.Result) {
	type obj struct {
		name string
		info *elfinfo.Info
	}
	objs := []obj{{prog, res.Info}}
	byName := map[string]*elfinfo.Info{}
	add := func(name, path string, info *elfinfo.Info) {
		if info == nil {
			return
		}
		byName[name] = info
		if info.SOName != "" {
			byName[info.SOName] = info
		}
		if path != "" {
			byName[path] = info
		}
	}
	if res.InterpreterInfo != nil {
		add(path.Base(res.Interpreter), res.Interpreter, res.InterpreterInfo)
	}
	for _, l := range res.Libraries {
		if l.Found {
			add(l.Name, l.Path, l.Info)
			objs = append(objs, obj{l.Path, l.Info})
		}
	}
	for _, o := range objs {
		for _, vn := range o.info.VersionNeeds {
			lib := byName[vn.File]
			if lib == nil || len(vn.Versions) == 0 {
				continue
			}
			if len(lib.VersionDefs) == 0 {
				// glibc only warns that the library has no versions, then
				// aborts ("Inconsistency detected by ld.so ... check_match")
				// as soon as it binds a versioned symbol to it.
				d.fail("version", vn.File, fmt.Sprintf("%s: no version information available (required by %s, which needs its version `%s'): the loader aborts when it binds the first versioned symbol to it",
					vn.File, o.name, vn.Versions[0].Name),
					fmt.Sprintf("the image's %s is not the one %s was built against: take the libraries from the system the program was built on (`fromscratch build`)", vn.File, path.Base(o.name)))
				continue
			}
			defs := map[string]bool{}
			for _, v := range lib.VersionDefs {
				defs[v] = true
			}
			for _, v := range vn.Versions {
				if defs[v.Name] {
					continue
				}
				msg := fmt.Sprintf("%s: version `%s' not found (required by %s)", vn.File, v.Name, o.name)
				fix := fmt.Sprintf("the image's %s is older than the one %s was built against: take the libraries from the system the program was built on (`fromscratch build`), or build the program against the older library", vn.File, path.Base(o.name))
				if v.Weak {
					d.warn("version", vn.File, msg+" (weak: the loader only warns)", fix)
				} else {
					d.fail("version", vn.File, msg, fix)
				}
			}
		}
	}
}

// loaders lists the dynamic loaders the image has.
func (d *doc) loaders() []string {
	var out []string
	seen := map[string]bool{}
	for _, dir := range []string{"/lib", "/lib64", "/usr/lib", "/usr/lib64", "/lib32", "/libx32"} {
		real, err := rootfs.Realpath(d.fsys, dir)
		if err != nil {
			continue
		}
		ents, err := d.fsys.ReadDir(real)
		if err != nil {
			continue
		}
		for _, e := range ents {
			n := e.Name()
			if (strings.HasPrefix(n, "ld-linux") || strings.HasPrefix(n, "ld-musl-") || strings.HasPrefix(n, "ld64.so") || n == "ld.so.1") && !seen[dir+"/"+n] {
				seen[dir+"/"+n] = true
				out = append(out, dir+"/"+n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// otherClass looks for name in the usual library directories with another
// class or machine than prog, to explain a "not found".
func (d *doc) otherClass(name string, prog *elfinfo.Info) string {
	for _, dir := range []string{"/lib", "/lib64", "/usr/lib", "/usr/lib64", "/lib32", "/usr/lib32",
		"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/i386-linux-gnu", "/usr/lib/i386-linux-gnu",
		"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu"} {
		p := dir + "/" + name
		real, err := rootfs.Realpath(d.fsys, p)
		if err != nil {
			continue
		}
		f, err := d.fsys.Open(real)
		if err != nil {
			continue
		}
		fi, _ := f.Stat()
		info, err := elfinfo.Read(f, fi.Size())
		f.Close()
		if err == nil && (info.Class != prog.Class || info.Machine != prog.Machine) {
			return fmt.Sprintf("%s exists but is %s %v, the program %s %v", p, info.Class, info.Machine, prog.Class, prog.Machine)
		}
	}
	return ""
}

// checkUser: a user name must be in /etc/passwd (Docker refuses to start).
func (d *doc) checkUser() {
	u := d.cfg.User
	if u == "" {
		return
	}
	user, group, _ := strings.Cut(u, ":")
	check := func(name, file, what string) {
		if name == "" || isNumeric(name) {
			return
		}
		b, err := rootfs.ReadFile(d.fsys, file, 16<<20)
		if err != nil {
			d.fail("user", file, fmt.Sprintf("unable to find %s %s: no %s in the image", what, name, file),
				fmt.Sprintf("use a numeric user, or add %s", file)).Remedy = Remedy{Kind: AddUserFile, File: file}
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f, _, ok := strings.Cut(line, ":"); ok && f == name {
				return
			}
		}
		d.fail("user", file, fmt.Sprintf("unable to find %s %s: no matching entries in %s", what, name, path.Base(file)),
			fmt.Sprintf("add %s to %s, or use a numeric user", name, file)).Remedy = Remedy{Kind: AddUser, Name: name, File: file}
	}
	check(user, "/etc/passwd", "user")
	check(group, "/etc/group", "group")
}

// isRoot reports whether user[:group] u runs as uid 0.
type verdict int

const (
	unknown verdict = iota
	allowed
	denied
)

// mayExec decides whether the (non-root) user spec u may execute real, of
// mode, as the kernel checks it: the owner's bit for the owner, the group's
// for a member, the others' bit else. It needs the owners (the image view
// has them) and the user's ids (numeric, or from /etc/passwd and
// /etc/group); unknown when one is missing.
func (d *doc) mayExec(real string, mode fs.FileMode, u string) verdict {
	owners, ok := d.fsys.(interface {
		Owner(string) (uid, gid int, ok bool)
	})
	if !ok {
		return unknown
	}
	fuid, fgid, ok := owners.Owner(real)
	if !ok {
		return unknown
	}
	uid, gids, ok := d.ids(u)
	if !ok {
		return unknown
	}
	bit := fs.FileMode(0o001)
	switch {
	case uid == fuid:
		bit = 0o100
	case slices.Contains(gids, fgid):
		bit = 0o010
	}
	if mode&bit != 0 {
		return allowed
	}
	return denied
}

// ids resolves a USER spec ("name", "uid", "name:group", "uid:gid") to a
// uid and the gids whose permissions apply (the given or primary group,
// and the groups of /etc/group that list the user).
func (d *doc) ids(u string) (int, []int, bool) {
	user, group, hasGroup := strings.Cut(u, ":")
	name, uid, gid := "", -1, -1
	if isNumeric(user) {
		uid, _ = strconv.Atoi(user)
	} else {
		name = user
	}
	if b, err := rootfs.ReadFile(d.fsys, "/etc/passwd", 16<<20); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Split(line, ":")
			if len(f) < 4 {
				continue
			}
			id, _ := strconv.Atoi(f[2])
			if f[0] == name || name == "" && id == uid && uid >= 0 {
				name, uid = f[0], id
				gid, _ = strconv.Atoi(f[3])
				break
			}
		}
	}
	if uid < 0 {
		return 0, nil, false
	}
	var gids []int
	if hasGroup {
		if isNumeric(group) {
			g, _ := strconv.Atoi(group)
			gids = append(gids, g)
		} else if g, ok := d.groupID(group); ok {
			gids = append(gids, g)
		} else {
			return 0, nil, false
		}
	} else if gid >= 0 {
		gids = append(gids, gid)
	}
	if b, err := rootfs.ReadFile(d.fsys, "/etc/group", 16<<20); err == nil && name != "" {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Split(line, ":")
			if len(f) >= 4 && slices.Contains(strings.Split(f[3], ","), name) {
				if g, err := strconv.Atoi(f[2]); err == nil {
					gids = append(gids, g)
				}
			}
		}
	}
	return uid, gids, true
}

// groupID looks a group name up in /etc/group.
func (d *doc) groupID(name string) (int, bool) {
	b, err := rootfs.ReadFile(d.fsys, "/etc/group", 16<<20)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[0] == name {
			g, err := strconv.Atoi(f[2])
			return g, err == nil
		}
	}
	return 0, false
}

func isRoot(u string) bool {
	user, _, _ := strings.Cut(u, ":")
	return user == "" || user == "root" || strings.Trim(user, "0") == "" && user != ""
}

func isNumeric(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
