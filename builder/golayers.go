package builder

import (
	"path"
	"slices"
	"strings"

	"github.com/fromscratch/fromscratch/closure"
)

// layerWork is one layer to write: its history entry and its items.
type layerWork struct {
	createdBy string
	items     []closure.Item
}

// planLayers are the layers of the plan, each named in the history by what
// it holds. A Go program's base layer (it has no loader nor C library) is
// split by what it holds, each part with its parent directories: the
// runtime files (/etc/passwd...), the CA certificates, the time zones; the
// program's layer names the program and its package.
func planLayers(plan *closure.Plan, j job) []layerWork {
	var work []layerWork
	for l, items := range plan.Layers {
		if len(items) == 0 {
			continue
		}
		switch {
		case j.platform == nil:
			work = append(work, layerWork{"fromscratch build: " + closure.LayerNames[l], items})
		case closure.Layer(l) == closure.LayerBase:
			for _, p := range splitByRoot(items, []string{caBundle, zoneinfo}) {
				if len(p) > 0 {
					work = append(work, layerWork{"fromscratch build --go: " + goBaseName(p), p})
				}
			}
		case closure.Layer(l) == closure.LayerApp:
			what := "Go program " + j.program + " (go build " + j.goImport + ")"
			if len(j.inputs) > 1 {
				what += " and the --add files"
			}
			work = append(work, layerWork{"fromscratch build --go: " + what, items})
		default:
			work = append(work, layerWork{"fromscratch build --go: " + closure.LayerNames[l], items})
		}
	}
	return work
}

// goBaseName says what a part of a Go image's base layer holds.
func goBaseName(items []closure.Item) string {
	var paths []string
	for _, it := range items {
		switch {
		case it.Path == caBundle:
			return "CA certificates (" + caBundle + ")"
		case it.Path == zoneinfo:
			return "time zones (" + zoneinfo + ")"
		case it.Kind != closure.Dir || it.Path == "/tmp" || strings.HasPrefix(it.Path, "/home/"):
			paths = append(paths, it.Path)
		}
	}
	return "runtime files (" + strings.Join(paths, ", ") + ")"
}

// splitByRoot splits items (sorted by path) into the items under none of
// roots, then those under each root (a root and what is under it, and what
// its symbolic links name, followed), in the order of roots. A directory
// above the items of several parts is in each of them; one above none is
// in the first part.
func splitByRoot(items []closure.Item, roots []string) [][]closure.Item {
	// claims[i] are the paths part i+1 holds: roots[i], and the targets of
	// the links under it.
	claims := make([][]string, len(roots))
	for i, r := range roots {
		claims[i] = []string{r}
		for changed := true; changed; {
			changed = false
			for _, it := range items {
				if it.Kind != closure.Symlink || !under(it.Path, claims[i]) {
					continue
				}
				t := it.Target
				if !path.IsAbs(t) {
					t = path.Join(path.Dir(it.Path), t)
				}
				if !under(t, claims[i]) {
					claims[i] = append(claims[i], path.Clean(t))
					changed = true
				}
			}
		}
	}
	part := func(p string) int {
		for i, c := range claims {
			if under(p, c) {
				return i + 1
			}
		}
		return 0
	}
	parts := make([][]closure.Item, len(roots)+1)
	var dirs []closure.Item // directories under no root: parents of others
	for _, it := range items {
		if n := part(it.Path); n > 0 || it.Kind != closure.Dir {
			parts[n] = append(parts[n], it)
		} else {
			dirs = append(dirs, it)
		}
	}
	for _, d := range dirs {
		placed := false
		for n := range parts {
			for _, it := range parts[n] {
				if strings.HasPrefix(it.Path, d.Path+"/") {
					parts[n] = append(parts[n], d)
					placed = true
					break
				}
			}
		}
		if !placed {
			parts[0] = append(parts[0], d)
		}
	}
	for n := range parts {
		sortItems(parts[n])
	}
	return parts
}

// under reports whether p is one of roots or under one.
func under(p string, roots []string) bool {
	for _, r := range roots {
		if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

// sortItems sorts items by path, parents first.
func sortItems(items []closure.Item) {
	slices.SortFunc(items, func(a, b closure.Item) int { return strings.Compare(a.Path, b.Path) })
}
