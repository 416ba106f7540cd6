package debuglayer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/program"
	"github.com/fromscratch/fromscratch/rootfs"
)

// Dir is where busybox and its applets go; PATH is extended with it.
const Dir = "/busybox"

// maxBusybox caps how much of a busybox binary is read for its applet list.
const maxBusybox = 64 << 20

// Errors callers can test for with errors.Is.
var (
	// ErrNoApplets: the applet table was not found in the binary.
	ErrNoApplets = errors.New("no busybox applet table found")
)

// appletStart is how busybox's applet_names table begins: the names are
// sorted and NUL-separated, and "[" and "[[" (test) sort first.
var appletStart = []byte("\x00[\x00[[\x00")

// Applets returns the applet names compiled into a busybox binary, read from
// its applet_names table (sorted, NUL-separated, starting "[", "[[" when
// test is built in, as in Debian's busybox-static), without running it.
// The list is the one `busybox --list` prints.
func Applets(data []byte) ([]string, error) {
	i := bytes.Index(data, appletStart)
	if i < 0 {
		return nil, ErrNoApplets
	}
	var names []string
	rest := data[i+1:]
	for len(rest) > 0 {
		j := bytes.IndexByte(rest, 0)
		if j <= 0 {
			break
		}
		name := string(rest[:j])
		if !validApplet(name) || len(names) > 0 && name <= names[len(names)-1] {
			break
		}
		names = append(names, name)
		rest = rest[j+1:]
	}
	if len(names) < 3 {
		return nil, ErrNoApplets
	}
	return names, nil
}

func validApplet(s string) bool {
	if len(s) > 64 || s == "." || s == ".." {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}

// Busybox is a busybox binary to put in the image.
type Busybox struct {
	FS      rootfs.FS // where it is
	Path    string    // its path in FS
	Size    int64
	Info    *elfinfo.Info
	Applets []string
}

// OpenBusybox reads the busybox at p in fsys: checks that it is a static
// ELF program and reads its applet list (see [Applets]). Nothing is run.
func OpenBusybox(fsys rootfs.FS, p string) (*Busybox, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, fmt.Errorf("busybox %q: %w", p, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("busybox %q: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("busybox %q: not a regular file", p)
	}
	info, err := elfinfo.Read(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("busybox %q: %w", p, err)
	}
	if err := program.CheckStatic(info); err != nil {
		return nil, fmt.Errorf("busybox %q: %w", p, err) // program.ErrNotStatic
	}
	data, err := io.ReadAll(io.LimitReader(f, maxBusybox))
	if err != nil {
		return nil, fmt.Errorf("busybox %q: %w", p, err)
	}
	applets, err := Applets(data)
	if err != nil {
		return nil, fmt.Errorf("busybox %q: %w", p, err)
	}
	return &Busybox{FS: fsys, Path: p, Size: fi.Size(), Info: info, Applets: applets}, nil
}

// Items are /busybox, /busybox/busybox (mode 0755) and a symbolic link
// /busybox/APPLET -> busybox for each applet.
func (b *Busybox) Items() []closure.Item {
	items := []closure.Item{
		{Path: Dir, Kind: closure.Dir, Mode: 0o755},
		{Path: Dir + "/busybox", Kind: closure.File, Mode: 0o755, SourceFS: b.FS, SourcePath: b.Path, Size: b.Size},
	}
	for _, a := range b.Applets {
		if a == "busybox" {
			continue
		}
		items = append(items, closure.Item{Path: Dir + "/" + a, Kind: closure.Symlink, Target: "busybox", Mode: 0o777})
	}
	return items
}

// Tools plans the programs at paths (in fsys) with their closure, and
// returns the items that are not already in base (directories on the way
// excepted): what the debug layer adds. plan is the tools' own closure (its Info is the first tool's).
func Tools(fsys rootfs.FS, paths []string, base *closure.Plan, opts closure.Options) (items []closure.Item, plan *closure.Plan, err error) {
	inputs := make([]closure.Input, len(paths))
	for i, p := range paths {
		inputs[i] = closure.Input{Path: p, Layer: closure.LayerApp}
	}
	plan, err = closure.Compute(fsys, inputs, nil, opts)
	if err != nil {
		return nil, nil, err
	}
	have := map[string]bool{}
	if base != nil {
		for _, l := range base.Layers {
			for _, it := range l {
				have[it.Path] = true
			}
		}
	}
	// Directories are kept even when the base has them: written with the
	// root's mode, as in the base, rather than as a layer writer's default
	// parent (0755), which would change a mode the base set.
	for _, l := range plan.Layers {
		for _, it := range l {
			if !have[it.Path] || it.Kind == closure.Dir {
				have[it.Path] = true
				items = append(items, it)
			}
		}
	}
	return items, plan, nil
}

// Merge joins item lists, the first of each path winning, sorted by path.
func Merge(lists ...[]closure.Item) []closure.Item {
	seen := map[string]bool{}
	var out []closure.Item
	for _, l := range lists {
		for _, it := range l {
			if !seen[it.Path] {
				seen[it.Path] = true
				out = append(out, it)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// ExtendPath appends Dir to the PATH entry of env (adding PATH=def:Dir
// when there is none).
func ExtendPath(env []string, def string) []string {
	out := append([]string{}, env...)
	for i, e := range out {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			out[i] = "PATH=" + joinPath(v, Dir)
			return out
		}
	}
	return append(out, "PATH="+joinPath(def, Dir))
}

func joinPath(a, b string) string {
	for _, d := range strings.Split(a, ":") {
		if path.Clean(d) == b {
			return a
		}
	}
	if a == "" {
		return b
	}
	return a + ":" + b
}
