package builder

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/pkgdb"
	"github.com/fromscratch/fromscratch/program"
	"github.com/fromscratch/fromscratch/rootfs"
)

// AddedPackage is a package --packages or --package added, and what it
// brought that the closure did not have.
type AddedPackage struct {
	Name, Version string
	Files         int
	Bytes         int64
}

// docDirs are left out of added packages unless Options.PackageDocs.
var docDirs = []string{"/usr/share/doc/", "/usr/share/man/", "/usr/share/info/", "/usr/share/locale/"}

// addedPackages are the packages added to an image, over their database.
type addedPackages struct {
	db   *pkgdb.DB
	pkgs []*pkgdb.Package
}

// packageInputs returns the files of the packages to add: the owners of
// plan's files (o.Packages) and o.PackageNames with their dependencies,
// in fsys, the root.
// Executables, ELF files and symbolic links are inputs, whose dependencies
// are followed; other files (data, modules of interpreted languages, whose
// "#!" lines need not name an interpreter that exists) are items taken as
// they are.
func packageInputs(o *Options, fsys rootfs.FS, plan *closure.Plan) ([]closure.Input, []closure.Item, *addedPackages, error) {
	root := o.root()
	// The lists are read for the closure's files, then whole for the
	// packages added only: much less than indexing every package's files.
	db, err := pkgdb.OpenFor(fsys, planFiles(plan))
	if err != nil {
		return nil, nil, nil, &FileError{Path: root, Err: err}
	}
	if db.Empty() {
		option := "PackageNames"
		if o.Packages {
			option = "Packages"
		}
		return nil, nil, nil, &OptionError{Option: option, Err: fmt.Errorf("%s: %w (%s or %s)", root, ErrNoPackageDB, pkgdb.DpkgStatus, pkgdb.ApkInstalled)}
	}
	var pkgs []*pkgdb.Package
	seen := map[*pkgdb.Package]bool{}
	add := func(p *pkgdb.Package) {
		if !seen[p] {
			seen[p] = true
			pkgs = append(pkgs, p)
		}
	}
	if o.Packages {
		for _, items := range plan.Layers {
			for _, it := range items {
				if it.Kind == closure.File {
					if p := db.Owner(it.Path); p != nil {
						add(p)
					}
				}
			}
		}
	}
	var named []*pkgdb.Package
	for _, n := range o.PackageNames {
		p := db.Find(n)
		if p == nil {
			return nil, nil, nil, &OptionError{Option: "PackageNames", Value: n, Err: fmt.Errorf("%w in %s", ErrNotInstalled, root)}
		}
		named = append(named, p)
	}
	deps, _ := db.DependsClosure(named)
	for _, p := range deps {
		add(p)
	}
	if err := db.Expand(pkgs); err != nil {
		return nil, nil, nil, badInputErr(err, "%s: %v", root, err)
	}
	var inputs []closure.Input
	var items []closure.Item
	for _, p := range pkgs {
		for _, f := range p.Files {
			if !o.PackageDocs && isDoc(f) {
				continue
			}
			real, err := rootfs.Realpath(fsys, f) // the file, links followed
			if err != nil {
				continue
			}
			fi, err := fsys.Lstat(real)
			if err != nil || !fi.Mode().IsRegular() {
				continue // a directory, a device, or a link to one
			}
			if !asItem(fsys, real, fi.Mode()) {
				inputs = append(inputs, closure.Input{Path: f, Layer: closure.LayerApp})
				continue
			}
			// Taken as it is, at its physical path, and the link f is
			// when it is one.
			dir, err := rootfs.Realpath(fsys, path.Dir(f))
			if err != nil {
				continue
			}
			phys := path.Join(dir, path.Base(f))
			if phys != real {
				if target, err := fsys.Readlink(phys); err == nil {
					items = append(items, closure.Item{Path: phys, Kind: closure.Symlink, Target: target, Mode: 0o777})
				}
			}
			items = append(items, closure.Item{Path: real, Kind: closure.File, Mode: fi.Mode().Perm(),
				SourceFS: fsys, SourcePath: real, Size: fi.Size()})
		}
	}
	return inputs, items, &addedPackages{db: db, pkgs: pkgs}, nil
}

// planFiles are the paths of plan's regular files.
func planFiles(plan *closure.Plan) []string {
	var paths []string
	for _, items := range plan.Layers {
		for _, it := range items {
			if it.Kind == closure.File {
				paths = append(paths, it.Path)
			}
		}
	}
	return paths
}

// asItem reports whether the regular file name of fsys is taken as it
// is: it is no ELF file, and not executable or a script whose interpreter
// the root lacks (Python's cgi.py names /usr/local/bin/python).
func asItem(fsys rootfs.FS, name string, mode fs.FileMode) bool {
	head, err := program.Head(fsys, name)
	switch {
	case err != nil, elfinfo.IsELF(head):
		return false
	case mode&0o111 == 0:
		return true
	case !bytes.HasPrefix(head, []byte("#!")):
		return false
	}
	sb, err := program.ParseShebang(head)
	if err != nil {
		return true
	}
	_, err = rootfs.Realpath(fsys, sb.Interpreter)
	return err != nil
}
func isDoc(p string) bool {
	for _, d := range docDirs {
		if strings.HasPrefix(p, d) {
			return true
		}
	}
	return false
}

// brought counts, for each added package, the files and bytes of after
// that it owns and before lacked, largest first.
func (a *addedPackages) brought(before, after *closure.Plan) []AddedPackage {
	had := map[string]bool{}
	for _, items := range before.Layers {
		for _, it := range items {
			had[it.Path] = true
		}
	}
	out := make([]AddedPackage, len(a.pkgs))
	index := map[*pkgdb.Package]int{}
	for i, p := range a.pkgs {
		out[i] = AddedPackage{Name: p.Name, Version: p.Version}
		index[p] = i
	}
	for _, items := range after.Layers {
		for _, it := range items {
			if it.Kind != closure.File || had[it.Path] {
				continue
			}
			if i, ok := index[a.db.Owner(it.Path)]; ok {
				out[i].Files++
				out[i].Bytes += it.Size
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Bytes > out[j].Bytes })
	return out
}
