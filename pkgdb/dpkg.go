package pkgdb

import (
	"bytes"
	"fmt"
	"path"
	"strings"

	"github.com/fromscratch/fromscratch/rootfs"
)

// Field is one field of a control paragraph.
type Field struct {
	Name, Value string // Value with its continuation lines, "\n"-joined
}

// Paragraph is one control paragraph (a package's stanza) and the line it
// starts on.
type Paragraph struct {
	Fields []Field
	Line   int
	Text   string // as written, without the blank line after it
}

// Get returns the value of the field name (case-insensitive), "" if absent.
func (p *Paragraph) Get(name string) string {
	for _, f := range p.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// ParseControl parses control paragraphs (dpkg's status, a status.d
// record, a copyright file): fields "Name: value" with continuation lines
// starting with a space or a tab, paragraphs separated by blank lines.
// file names the input in errors.
func ParseControl(file string, data []byte) ([]Paragraph, error) {
	var out []Paragraph
	var cur *Paragraph
	var cont strings.Builder // the value of a field with continuation lines
	endField := func() {
		cur.Fields[len(cur.Fields)-1].Value = cont.String()
		cont.Reset()
	}
	start := 0
	lineNo := 0
	s := string(data)
	for len(s) > 0 {
		lineNo++
		line := s
		n := len(s)
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, n = s[:i], i+1
		}
		off := len(data) - len(s)
		s = s[n:]
		if len(line) > MaxLine {
			return nil, &Error{File: file, Line: lineNo, Reason: fmt.Sprintf("line longer than %d bytes", MaxLine)}
		}
		line = strings.TrimSuffix(line, "\r")
		blank := strings.TrimSpace(line) == ""
		if cont.Len() > 0 && (blank || line[0] != ' ' && line[0] != '\t') {
			endField()
		}
		if blank {
			if cur != nil {
				cur.Text = string(data[start:off])
				out = append(out, *cur)
				cur = nil
				if len(out) > MaxPackages {
					return nil, &Error{File: file, Line: lineNo, Reason: fmt.Sprintf("more than %d paragraphs", MaxPackages)}
				}
			}
			continue
		}
		if line[0] == '#' && cur == nil {
			continue // a comment (copyright files may have them)
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur == nil || len(cur.Fields) == 0 {
				return nil, &Error{File: file, Line: lineNo, Reason: "continuation line outside a field"}
			}
			// Joined once the field ends: a long Description would
			// otherwise be copied again for each of its lines.
			if cont.Len() == 0 {
				cont.WriteString(cur.Fields[len(cur.Fields)-1].Value)
			}
			cont.WriteByte('\n')
			cont.WriteString(strings.TrimSpace(line))
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, &Error{File: file, Line: lineNo, Reason: fmt.Sprintf("not a field: %q", clip(line))}
		}
		if cur == nil {
			cur = &Paragraph{Line: lineNo}
			start = off
		}
		cur.Fields = append(cur.Fields, Field{Name: name, Value: strings.TrimSpace(value)})
	}
	if cont.Len() > 0 {
		endField()
	}
	if cur != nil {
		cur.Text = string(data[start:])
		out = append(out, *cur)
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// installed reports whether a dpkg Status value says the package's files
// are there ("install ok installed"; a status.d record has no Status).
func installed(status string) bool {
	if status == "" {
		return true
	}
	f := strings.Fields(status)
	switch f[len(f)-1] {
	case "not-installed", "config-files":
		return false
	}
	return true
}

// packageOf makes a Package of a dpkg paragraph; ok is false for a
// paragraph that is no installed package.
func packageOf(file string, p *Paragraph) (*Package, bool, error) {
	name := p.Get("Package")
	if name == "" {
		return nil, false, &Error{File: file, Line: p.Line, Reason: "paragraph without a Package field"}
	}
	if strings.ContainsAny(name, "/\x00 ") || name == "." || name == ".." {
		return nil, false, &Error{File: file, Line: p.Line, Reason: fmt.Sprintf("bad package name %q", clip(name))}
	}
	if !installed(p.Get("Status")) {
		return nil, false, nil
	}
	pkg := &Package{
		Kind: Deb, Name: name, Version: p.Get("Version"), Architecture: p.Get("Architecture"),
		Depends: p.Get("Depends"), PreDepends: p.Get("Pre-Depends"), Provides: p.Get("Provides"), Stanza: p.Text,
	}
	if src := p.Get("Source"); src != "" {
		// "Source: NAME (VERSION)" when the versions differ.
		n, v, _ := strings.Cut(src, " ")
		pkg.Source = n
		if v = strings.Trim(strings.TrimSpace(v), "()"); v != "" {
			pkg.SourceVersion = v
		}
	}
	return pkg, true, nil
}

// readDpkg reads the status database with info/, then status.d/.
func (db *DB) readDpkg() error {
	data, err := readBounded(db.fsys, DpkgStatus, MaxStatus)
	if err != nil {
		return err
	}
	if data != nil {
		if names, err := rootfs.ReadDirNames(db.fsys, DpkgInfo); err == nil {
			db.list(DpkgInfo, names)
		}
		paras, err := ParseControl(DpkgStatus, data)
		if err != nil {
			return err
		}
		for i := range paras {
			pkg, ok, err := packageOf(DpkgStatus, &paras[i])
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if err := db.dpkgFiles(pkg, DpkgInfo, ".list"); err != nil {
				return err
			}
			db.Packages = append(db.Packages, pkg)
		}
	}
	names, err := rootfs.ReadDirNames(db.fsys, DpkgStatusD)
	if err != nil {
		return nil // no status.d
	}
	if len(names) > 3*MaxPackages {
		return &Error{File: DpkgStatusD, Reason: fmt.Sprintf("more than %d files", 3*MaxPackages)}
	}
	db.list(DpkgStatusD, names)
	for _, n := range names {
		if strings.Contains(n, ".") && (strings.HasSuffix(n, ".md5sums") || strings.HasSuffix(n, ".conffiles") || strings.HasSuffix(n, ".list")) {
			continue
		}
		file := path.Join(DpkgStatusD, n)
		data, err := readBounded(db.fsys, file, MaxList)
		if err != nil || data == nil {
			if err != nil {
				return err
			}
			continue
		}
		paras, err := ParseControl(file, data)
		if err != nil {
			return err
		}
		for i := range paras {
			pkg, ok, err := packageOf(file, &paras[i])
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if err := db.dpkgMD5(pkg, DpkgStatusD); err != nil {
				return err
			}
			for f := range pkg.MD5 {
				pkg.Files = append(pkg.Files, f)
			}
			sortStrings(pkg.Files)
			db.Packages = append(db.Packages, pkg)
		}
		if len(db.Packages) > MaxPackages {
			return &Error{File: DpkgStatusD, Reason: fmt.Sprintf("more than %d packages", MaxPackages)}
		}
	}
	return nil
}

// list records the names of dir, so that infoFile tries only those.
func (db *DB) list(dir string, names []string) {
	if db.listed == nil {
		db.listed = map[string]map[string]bool{}
	}
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	db.listed[dir] = m
}

// infoFile returns the path of pkg's info file with ext in dir: NAME:ARCH
// (Multi-Arch: same) or NAME, and its content (nil when neither exists).
func (db *DB) infoFile(pkg *Package, dir, ext string, max int64) (string, []byte, error) {
	var file string
	for _, n := range []string{pkg.Name + ":" + pkg.Architecture + ext, pkg.Name + ext} {
		file = path.Join(dir, n)
		if l := db.listed[dir]; l != nil && !l[n] {
			continue // not listed: no need to try opening it
		}
		data, err := readBounded(db.fsys, file, max)
		if err != nil || data != nil {
			return file, data, err
		}
	}
	return file, nil, nil
}

// dpkgFiles reads the file list of pkg: with db.only, only the paths
// whose base names are asked for.
func (db *DB) dpkgFiles(pkg *Package, dir, ext string) error {
	file, data, err := db.infoFile(pkg, dir, ext, MaxList)
	if err != nil || data == nil {
		return err
	}
	files, err := parseList(file, data, db.only)
	if err != nil {
		return err
	}
	pkg.Files, pkg.partial = files, db.only != nil
	return nil
}

// dpkgMD5 reads the md5sums of pkg.
func (db *DB) dpkgMD5(pkg *Package, dir string) error {
	file, data, err := db.infoFile(pkg, dir, ".md5sums", MaxList)
	if err != nil || data == nil {
		return err
	}
	sums, err := ParseMD5Sums(file, data)
	if err != nil {
		return err
	}
	pkg.MD5 = sums
	return nil
}

// ParseList parses a dpkg NAME.list: one absolute path a line.
func ParseList(file string, data []byte) ([]string, error) { return parseList(file, data, nil) }

// parseList is ParseList keeping only the paths whose base names are in
// only (all when only is nil). It works on the bytes: a line that is not
// kept costs no string, which is most of them when a build looks up a few
// hundred files in the lists of every installed package.
func parseList(file string, data []byte, only map[string]bool) ([]string, error) {
	var out []string
	for n := 1; len(data) > 0; n++ {
		raw := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(raw) > MaxLine {
			return nil, &Error{File: file, Line: n, Reason: fmt.Sprintf("line longer than %d bytes", MaxLine)}
		}
		raw = bytes.TrimSuffix(raw, []byte("\r"))
		if len(raw) == 0 {
			continue
		}
		if only != nil && raw[0] == '/' {
			// Cleaning keeps a base name that is not "", "." or "..".
			switch base := raw[bytes.LastIndexByte(raw, '/')+1:]; string(base) {
			case "", ".", "..":
			default:
				if !only[string(base)] {
					continue
				}
			}
		}
		line := string(raw)
		p, ok := cleanListed(line)
		if !ok {
			continue
		}
		if line[0] != '/' {
			return nil, &Error{File: file, Line: n, Reason: fmt.Sprintf("not an absolute path: %q", clip(line))}
		}
		if only != nil && !only[path.Base(p)] {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// ParseMD5Sums parses a dpkg NAME.md5sums: "MD5  PATH" a line, PATH
// relative to the root. It returns the sums by absolute path.
func ParseMD5Sums(file string, data []byte) (map[string]string, error) {
	out := map[string]string{}
	err := eachLine(file, data, func(n int, line string) error {
		sum, p, ok := strings.Cut(line, " ")
		p = strings.TrimLeft(p, " *")
		if !ok || len(sum) != 32 || strings.Trim(sum, "0123456789abcdef") != "" || p == "" {
			return &Error{File: file, Line: n, Reason: fmt.Sprintf("not an md5sums line: %q", clip(line))}
		}
		if ap, ok := cleanListed(p); ok {
			out[ap] = sum
		}
		return nil
	})
	return out, err
}

// eachLine calls fn with each non-empty line of data and its number.
func eachLine(file string, data []byte, fn func(n int, line string) error) error {
	return eachLineAll(file, data, func(n int, line string) error {
		if line == "" {
			return nil
		}
		return fn(n, line)
	})
}
