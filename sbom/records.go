package sbom

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/pkgdb"
	"github.com/fromscratch/fromscratch/rootfs"
)

// Document is what an image holds: its files, and the packages they come
// from.
type Document struct {
	// Name is the image's name (its tag), Created the document's time.
	Name    string
	Created time.Time
	// Distro and DistroVersion are the root's os-release ID and
	// VERSION_ID ("debian", "12"), for package URLs.
	Distro, DistroVersion string
	// Files are every regular file of the image, sorted by path.
	Files []File
	// Packages are the packages with files in the image, by name.
	Packages []*Package
}

// Package is a package with files in the image.
type Package struct {
	*pkgdb.Package
	// Licenses are the licences it declares (Debian's short names or
	// apk's), nil when they cannot be told.
	Licenses []string
	// Files and Bytes count its files in the image.
	Files int
	Bytes int64
}

// RecordsCreatedBy is the history entry of the records layer.
const RecordsCreatedBy = "fromscratch: package records (" + pkgdb.DpkgStatusD + ")"

// Opener opens the package database of the root the files come from, for
// looking up paths (as [pkgdb.OpenFor]).
type Opener func(paths []string) (*pkgdb.DB, error)

// Apply lists the files of layers, attributes them to the packages of the
// database open gives and, with records, returns the layer to put on top
// that carries the package records of what the image holds (nil when the
// root has no package database or the image already carries one). The
// document lists the records' files too.
func Apply(ctx context.Context, open Opener, layers []v1.Layer, records bool) (*Document, *image.LayerSpec, error) {
	return apply(ctx, open, layers, records, AllSums)
}

// ApplyRecords is Apply for the records layer alone, when no SBOM is
// written: the document's files have their MD5 (the records' md5sums) and
// size, not the SHA-256 and SHA-1 an SBOM lists.
func ApplyRecords(ctx context.Context, open Opener, layers []v1.Layer) (*Document, *image.LayerSpec, error) {
	return apply(ctx, open, layers, true, MD5Only)
}

func apply(ctx context.Context, open Opener, layers []v1.Layer, records bool, sums Sums) (*Document, *image.LayerSpec, error) {
	files, err := FilesSums(ctx, layers, sums)
	if err != nil {
		return nil, nil, err
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.Path
	}
	db, err := open(paths)
	if err != nil {
		return nil, nil, err
	}
	doc := &Document{Distro: db.Distro, DistroVersion: db.DistroVersion}
	for i := range files {
		files[i].Package = db.Owner(files[i].Path)
	}
	var spec *image.LayerSpec
	if records && !db.Empty() && !carriesDB(files) {
		spec = recordsLayer(db, &files)
	}
	doc.Files = files
	doc.Packages = packagesOf(db, files)
	return doc, spec, nil
}

// OpenFS is the Opener of the root fsys.
func OpenFS(fsys rootfs.FS) Opener {
	return func(paths []string) (*pkgdb.DB, error) { return pkgdb.OpenFor(fsys, paths) }
}

// carriesDB reports whether the image holds a package database already.
func carriesDB(files []File) bool {
	for _, f := range files {
		if f.Path == pkgdb.DpkgStatus || f.Path == pkgdb.ApkInstalled || strings.HasPrefix(f.Path, pkgdb.DpkgStatusD+"/") {
			return true
		}
	}
	return false
}

// packagesOf counts the files of each package.
func packagesOf(db *pkgdb.DB, files []File) []*Package {
	byPkg := map[*pkgdb.Package]*Package{}
	var out []*Package
	for _, f := range files {
		if f.Package == nil {
			continue
		}
		p := byPkg[f.Package]
		if p == nil {
			p = &Package{Package: f.Package, Licenses: db.Licenses(f.Package)}
			byPkg[f.Package] = p
			out = append(out, p)
		}
		p.Files++
		p.Bytes += f.Size
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Architecture < out[j].Architecture
	})
	return out
}

// recordsLayer makes the records of the packages with files in *files, and
// adds the files it writes to *files: each package's copyright file and the
// root's os-release (which scanners read to name the distribution) when
// the image lacks them, then status.d/NAME and NAME.md5sums (or apk's
// installed database) for every package.
func recordsLayer(db *pkgdb.DB, files *[]File) *image.LayerSpec {
	spec := &image.LayerSpec{CreatedBy: RecordsCreatedBy,
		Comment: "the records of the packages the image holds files of, for scanners (--no-package-records leaves them out)"}
	have := map[string]bool{}
	for _, f := range *files {
		have[f.Path] = true
	}
	add := func(name string, data []byte, owner *pkgdb.Package) {
		spec.Entries = append(spec.Entries, image.Entry{Path: name, Type: tar.TypeReg, Mode: 0o644, Data: data})
		f := dataFile(name, data)
		f.Package = owner
		*files = append(*files, f)
		have[name] = true
	}
	// The root's os-release, at its physical path with the links to it.
	if !have["/etc/os-release"] && !have["/usr/lib/os-release"] {
		fsys := db.FS()
		if phys, links, err := rootfs.Resolve(fsys, "/etc/os-release"); err == nil {
			if data, err := rootfs.ReadFile(fsys, phys, 64<<10); err == nil {
				for _, l := range links {
					if fi, err := fsys.Lstat(l.Path); err == nil && fi.Mode()&fs.ModeSymlink != 0 && !have[l.Path] {
						spec.Entries = append(spec.Entries, image.Entry{Path: l.Path, Type: tar.TypeSymlink, Linkname: l.Target})
					}
				}
				add(phys, data, db.Owner(phys))
			}
		}
	}
	owned := map[*pkgdb.Package]bool{}
	for _, f := range *files {
		if f.Package != nil {
			owned[f.Package] = true
		}
	}
	var pkgs []*pkgdb.Package
	for _, p := range db.Packages {
		if owned[p] {
			pkgs = append(pkgs, p)
		}
	}
	for _, p := range pkgs {
		if name, data := db.Copyright(p); data != nil && !have[name] {
			add(name, data, p)
		}
	}
	filesOf := map[*pkgdb.Package][]File{}
	for _, f := range *files {
		if f.Package != nil {
			filesOf[f.Package] = append(filesOf[f.Package], f)
		}
	}
	var apk strings.Builder
	names := map[string]bool{}
	var recs []File
	for _, p := range pkgs {
		switch p.Kind {
		case pkgdb.Deb:
			name := p.Name
			if names[name] {
				name += ":" + p.Architecture
			}
			names[name] = true
			var sums strings.Builder
			for _, f := range filesOf[p] {
				sums.WriteString(f.MD5 + "  " + strings.TrimPrefix(f.Path, "/") + "\n")
			}
			for _, r := range []struct {
				path string
				data string
			}{
				{path.Join(pkgdb.DpkgStatusD, name), statusRecord(p.Stanza)},
				{path.Join(pkgdb.DpkgStatusD, name+".md5sums"), sums.String()},
			} {
				spec.Entries = append(spec.Entries, image.Entry{Path: r.path, Type: tar.TypeReg, Mode: 0o644, Data: []byte(r.data)})
				recs = append(recs, dataFile(r.path, []byte(r.data)))
			}
		case pkgdb.Apk:
			apk.WriteString(apkRecord(p.Stanza, filesOf[p]))
			apk.WriteString("\n")
		}
	}
	if apk.Len() > 0 {
		data := []byte(apk.String())
		spec.Entries = append(spec.Entries, image.Entry{Path: pkgdb.ApkInstalled, Type: tar.TypeReg, Mode: 0o644, Data: data})
		recs = append(recs, dataFile(pkgdb.ApkInstalled, data))
	}
	*files = append(*files, recs...)
	sort.Slice(*files, func(i, j int) bool { return (*files)[i].Path < (*files)[j].Path })
	return spec
}

// NewEntries are the entries of entries that below does not hold as they
// are (same path, type, mode, link and content): what a records layer over
// below must carry.
func NewEntries(entries, below []image.Entry) []image.Entry {
	have := map[string]image.Entry{}
	for _, e := range below {
		have[e.Path] = e
	}
	var out []image.Entry
	for _, e := range entries {
		b, ok := have[e.Path]
		if !ok || b.Type != e.Type || b.Mode != e.Mode || b.Linkname != e.Linkname || !bytes.Equal(b.Data, e.Data) {
			out = append(out, e)
		}
	}
	return out
}

// statusRecord is a status paragraph without Status (a status.d record
// states no dpkg state) and Conffiles (which would name files the image
// may not hold).
func statusRecord(stanza string) string {
	var b strings.Builder
	skip := false
	for _, line := range strings.SplitAfter(stanza, "\n") {
		if line == "" {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if !skip {
				b.WriteString(line)
			}
			continue
		}
		name, _, _ := strings.Cut(line, ":")
		skip = strings.EqualFold(name, "Status") || strings.EqualFold(name, "Conffiles")
		if !skip {
			b.WriteString(line)
		}
	}
	s := b.String()
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s
}

// apkRecord is an apk paragraph with only the F:, R: and their a:, M:, Z:
// lines of the files the image holds.
func apkRecord(stanza string, files []File) string {
	in := map[string]bool{}
	for _, f := range files {
		in[f.Path] = true
	}
	var head, body strings.Builder
	dir, dirWritten, keep := "/", false, false
	for _, line := range strings.Split(strings.TrimRight(stanza, "\n"), "\n") {
		if len(line) < 2 {
			continue
		}
		switch line[0] {
		case 'F':
			dir, dirWritten, keep = rootfs.Clean(line[2:]), false, false
		case 'R':
			keep = in[path.Join(dir, line[2:])]
			if keep {
				if !dirWritten {
					body.WriteString("F:" + strings.TrimPrefix(dir, "/") + "\n")
					dirWritten = true
				}
				body.WriteString(line + "\n")
			}
		case 'a', 'M', 'Z':
			if keep {
				body.WriteString(line + "\n")
			}
		default:
			if dir == "/" {
				head.WriteString(line + "\n")
			}
		}
	}
	return head.String() + body.String()
}

// AppendLayer writes the layer of spec (into archive when there is one)
// and returns img with it on top, its history entry spec's.
func AppendLayer(ctx context.Context, archive *image.ArchiveWriter, img v1.Image, spec image.LayerSpec, iopts image.Options) (v1.Image, error) {
	var layer v1.Layer
	var err error
	empty := rootfs.NewTree()
	if archive != nil {
		layer, err = archive.Layer(ctx, empty, spec, iopts)
	} else {
		layer, err = image.LayerContext(ctx, empty, spec, iopts)
	}
	if err != nil {
		return nil, fmt.Errorf("package records: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	return mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created: cf.Created, CreatedBy: spec.CreatedBy, Comment: spec.Comment}})
}

// Totals are the number of the image's regular files and their bytes.
func (d *Document) Totals() (files int, bytes int64) {
	for _, f := range d.Files {
		bytes += f.Size
	}
	return len(d.Files), bytes
}
