package main

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/fromscratch/fromscratch/imagefs"
	"github.com/fromscratch/fromscratch/pkgdb"
)

// packageJSON is a package the image's records name, with what it holds.
type packageJSON struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture,omitempty"`
	Source       string `json:"source,omitempty"`
	Type         string `json:"type"` // deb or apk
	Files        int    `json:"files"`
	Bytes        int64  `json:"bytes"`
}

// packagesOf reads the image's package records and counts the regular
// files and bytes each package holds, largest first; unpackaged are the
// bytes no package owns.
func packagesOf(view *imagefs.FS) (pkgs []packageJSON, unpackaged int64, err error) {
	db, err := pkgdb.Open(view)
	if err != nil {
		return nil, 0, err
	}
	pkgs = []packageJSON{}
	index := map[*pkgdb.Package]int{}
	for _, p := range db.Packages {
		index[p] = len(pkgs)
		pkgs = append(pkgs, packageJSON{Name: p.Name, Version: p.Version, Architecture: p.Architecture, Source: p.Source, Type: p.Kind})
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

// printPackages prints the packages section of inspect.
func printPackages(w io.Writer, r *inspectJSON) {
	if len(r.Packages) == 0 {
		fmt.Fprintf(w, "\nPackages:    none recorded (%s of files)\n", human(r.UnpackagedBytes))
		return
	}
	var bytes int64
	for _, p := range r.Packages {
		bytes += p.Bytes
	}
	fmt.Fprintf(w, "\nPackages:    %d, %s of files; %s not from a package\n", len(r.Packages), human(bytes), human(r.UnpackagedBytes))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tVERSION\tARCH\tFILES\tBYTES")
	for _, p := range r.Packages {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", p.Name, p.Version, p.Architecture, p.Files, human(p.Bytes))
	}
	tw.Flush()
}
