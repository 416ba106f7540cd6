package inspect

import (
	"sort"

	"github.com/fromscratch/fromscratch/imagefs"
	"github.com/fromscratch/fromscratch/pkgdb"
)

// Package is a package the image's records name, with what it holds.
type Package struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture,omitempty"`
	Source       string `json:"source,omitempty"`
	Type         string `json:"type"`  // deb or apk
	Files        int    `json:"files"` // regular files it owns in the image
	Bytes        int64  `json:"bytes"` // their bytes
}

// packagesOf reads the image's package records and counts the regular
// files and bytes each package holds, largest first; unpackaged are the
// bytes no package owns.
func packagesOf(view *imagefs.FS) (pkgs []Package, unpackaged int64, err error) {
	db, err := pkgdb.Open(view)
	if err != nil {
		return nil, 0, err
	}
	pkgs = []Package{}
	index := map[*pkgdb.Package]int{}
	for _, p := range db.Packages {
		index[p] = len(pkgs)
		pkgs = append(pkgs, Package{Name: p.Name, Version: p.Version, Architecture: p.Architecture, Source: p.Source, Type: p.Kind})
	}
	view.EachFile(func(f imagefs.File) {
		if !f.Mode.IsRegular() {
			return
		}
		if p := db.Owner(f.Path); p != nil {
			pkgs[index[p]].Files++
			pkgs[index[p]].Bytes += f.Size
		} else {
			unpackaged += f.Size
		}
	})
	sort.SliceStable(pkgs, func(i, j int) bool { return pkgs[i].Bytes > pkgs[j].Bytes })
	return pkgs, unpackaged, nil
}
