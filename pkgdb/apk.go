package pkgdb

import (
	"fmt"
	"path"
	"strings"
)

// readApk reads apk's installed database: paragraphs of "K:value" lines,
// P: name, V: version, A: architecture, o: origin (source), L: licence,
// F: a directory, R: a file of the last F.
func (db *DB) readApk() error {
	data, err := readBounded(db.fsys, ApkInstalled, MaxStatus)
	if err != nil || data == nil {
		return err
	}
	pkgs, err := ParseApk(ApkInstalled, data)
	if err != nil {
		return err
	}
	db.Packages = append(db.Packages, pkgs...)
	return nil
}

// ParseApk parses an apk installed database.
func ParseApk(file string, data []byte) ([]*Package, error) {
	var out []*Package
	var cur *Package
	var text strings.Builder
	dir := "/"
	start := 0
	finish := func(n int) error {
		if cur == nil {
			return nil
		}
		if cur.Name == "" {
			return &Error{File: file, Line: start, Reason: "package without a P: line"}
		}
		cur.Stanza = text.String()
		out = append(out, cur)
		if len(out) > MaxPackages {
			return &Error{File: file, Line: n, Reason: fmt.Sprintf("more than %d packages", MaxPackages)}
		}
		cur, dir = nil, "/"
		text.Reset()
		return nil
	}
	paths := 0
	err := eachLineAll(file, data, func(n int, line string) error {
		if line == "" {
			return finish(n)
		}
		if len(line) < 2 || line[1] != ':' {
			return &Error{File: file, Line: n, Reason: fmt.Sprintf("not a K:value line: %q", clip(line))}
		}
		if cur == nil {
			cur = &Package{Kind: Apk}
			start = n
		}
		text.WriteString(line)
		text.WriteByte('\n')
		v := line[2:]
		switch line[0] {
		case 'P':
			if strings.ContainsAny(v, "/\x00 ") || v == "." || v == ".." {
				return &Error{File: file, Line: n, Reason: fmt.Sprintf("bad package name %q", clip(v))}
			}
			cur.Name = v
		case 'V':
			cur.Version = v
		case 'A':
			cur.Architecture = v
		case 'o':
			if v != cur.Name {
				cur.Source = v
			}
		case 'L':
			cur.declaredLicense = v
		case 'D':
			cur.Depends = v
		case 'F':
			if p, ok := cleanListed(v); ok {
				dir = p
			} else {
				dir = "/"
			}
		case 'R':
			if strings.Contains(v, "/") {
				return &Error{File: file, Line: n, Reason: fmt.Sprintf("R: is a name, not a path: %q", clip(v))}
			}
			if p, ok := cleanListed(path.Join(dir, v)); ok {
				paths++
				if paths > MaxPaths {
					return &Error{File: file, Line: n, Reason: fmt.Sprintf("more than %d files", MaxPaths)}
				}
				cur.Files = append(cur.Files, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := finish(0); err != nil {
		return nil, err
	}
	return out, nil
}

// eachLineAll is eachLine with the empty lines.
func eachLineAll(file string, data []byte, fn func(n int, line string) error) error {
	s := string(data)
	for n := 1; len(s) > 0; n++ {
		line := s
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if len(line) > MaxLine {
			return &Error{File: file, Line: n, Reason: fmt.Sprintf("line longer than %d bytes", MaxLine)}
		}
		if err := fn(n, strings.TrimSuffix(line, "\r")); err != nil {
			return err
		}
	}
	return nil
}
