package pkgdb

import "strings"

// Find returns the installed package name (NAME or NAME:ARCH), or the one
// that Provides it, nil if none.
func (db *DB) Find(name string) *Package {
	name, arch, _ := strings.Cut(name, ":")
	if arch == "any" || arch == "native" {
		arch = ""
	}
	for _, p := range db.Packages {
		if p.Name == name && (arch == "" || p.Architecture == arch || p.Architecture == "all") {
			return p
		}
	}
	for _, p := range db.Packages {
		for _, alt := range depNames(p.Provides) {
			if alt == name {
				return p
			}
		}
	}
	return nil
}

// depNames lists the package names of a Depends-like field, dropping
// version constraints and architecture qualifiers.
func depNames(field string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(field, func(r rune) bool { return r == ',' || r == '|' }) {
		f = strings.TrimSpace(f)
		if i := strings.IndexAny(f, " (["); i >= 0 {
			f = f[:i]
		}
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// DependsClosure returns pkgs with every package their Depends and
// Pre-Depends name, recursively: for alternatives ("a | b"), the first one
// installed. Names not installed are returned in missing.
func (db *DB) DependsClosure(pkgs []*Package) (out []*Package, missing []string) {
	seen := map[*Package]bool{}
	var visit func(p *Package)
	visit = func(p *Package) {
		if seen[p] {
			return
		}
		seen[p] = true
		out = append(out, p)
		for _, field := range []string{p.PreDepends, p.Depends} {
			for _, group := range strings.Split(field, ",") {
				if strings.TrimSpace(group) == "" {
					continue
				}
				var found *Package
				for _, alt := range strings.Split(group, "|") {
					names := depNames(alt)
					if len(names) == 1 {
						if found = db.Find(names[0]); found != nil {
							break
						}
					}
				}
				if found == nil {
					missing = append(missing, strings.TrimSpace(group))
					continue
				}
				visit(found)
			}
		}
	}
	for _, p := range pkgs {
		visit(p)
	}
	return out, missing
}
