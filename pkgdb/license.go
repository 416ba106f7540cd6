package pkgdb

import (
	"path"
	"slices"
	"strings"
)

// CopyrightPath is where a Debian package's copyright file is.
func CopyrightPath(pkg string) string { return path.Join("/usr/share/doc", pkg, "copyright") }

// Unknown is the licence of a package whose licence cannot be told.
const Unknown = "unknown"

// Licenses returns the licences pkg declares: apk's L: field split on
// spaces, or the License short names of a Debian copyright file in the
// machine-readable format (DEP-5), each once, in the order met. It returns
// nil when they cannot be told (no copyright file, or one in free form).
func (db *DB) Licenses(pkg *Package) []string {
	pkg.licOnce.Do(func() {
		switch pkg.Kind {
		case Apk:
			for _, l := range strings.Fields(pkg.declaredLicense) {
				if l != "AND" && l != "OR" && l != "WITH" {
					pkg.licenses = append(pkg.licenses, strings.Trim(l, "()"))
				}
			}
		case Deb:
			data, err := readBounded(db.fsys, CopyrightPath(pkg.Name), MaxCopyright)
			if err == nil && data != nil {
				pkg.licenses = CopyrightLicenses(data)
			}
		}
	})
	return pkg.licenses
}

// Copyright returns the content of pkg's copyright file and its path, nil
// when it has none.
func (db *DB) Copyright(pkg *Package) (string, []byte) {
	if pkg.Kind != Deb {
		return "", nil
	}
	p := CopyrightPath(pkg.Name)
	data, err := readBounded(db.fsys, p, MaxCopyright)
	if err != nil || data == nil {
		return "", nil
	}
	return p, data
}

// CopyrightLicenses returns the licence short names of the Files
// paragraphs of a machine-readable Debian copyright file, each once, in the
// order met ("GPL-2+", "curl", "BSD-3-clause"); an expression such as
// "GPL-2+ or LGPL-2.1+" gives its names. It returns nil for a copyright
// file in free form.
func CopyrightLicenses(data []byte) []string {
	first, _, _ := strings.Cut(string(data), "\n")
	if !strings.HasPrefix(first, "Format:") && !strings.HasPrefix(first, "Format-Specification:") {
		return nil
	}
	paras, err := ParseControl("copyright", data)
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range paras {
		if p.Get("Files") == "" {
			continue
		}
		short, _, _ := strings.Cut(p.Get("License"), "\n")
		for _, name := range licenseNames(short) {
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	return out
}

// licenseNames splits a DEP-5 License short expression on "or", "and",
// "with ... exception" and commas.
func licenseNames(expr string) []string {
	var out []string
	words := strings.FieldsFunc(expr, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' })
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch strings.ToLower(w) {
		case "or", "and", "":
			continue
		case "with":
			// "with OpenSSL exception": skip to "exception"
			for i < len(words) && !strings.EqualFold(words[i], "exception") {
				i++
			}
			continue
		}
		out = append(out, w)
	}
	return out
}

// SPDX maps a Debian licence short name to its SPDX identifier where there
// is one, or to "LicenseRef-NAME" (SPDX's form for other licences).
func SPDX(name string) string {
	if id, ok := spdxIDs[strings.ToLower(name)]; ok {
		return id
	}
	for _, id := range spdxKnown {
		if strings.EqualFold(id, name) {
			return id
		}
	}
	// An SPDX identifier already (apk's L: field is in SPDX's terms).
	for _, id := range spdxIDs {
		if strings.EqualFold(id, name) && !strings.Contains(id, " ") {
			return id
		}
	}
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return "LicenseRef-" + b.String()
}

// SPDXExpression joins names, mapped with SPDX, with AND; "NOASSERTION"
// for none.
func SPDXExpression(names []string) string {
	if len(names) == 0 {
		return "NOASSERTION"
	}
	ids := make([]string, 0, len(names))
	for _, n := range names {
		id := SPDX(n)
		if strings.Contains(id, " ") {
			id = "(" + id + ")"
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return strings.Join(ids, " AND ")
}

// spdxIDs are Debian's short names that differ from SPDX identifiers.
var spdxIDs = map[string]string{
	"expat": "MIT", "gpl-1": "GPL-1.0-only", "gpl-1+": "GPL-1.0-or-later",
	"gpl-2": "GPL-2.0-only", "gpl-2+": "GPL-2.0-or-later", "gpl-3": "GPL-3.0-only", "gpl-3+": "GPL-3.0-or-later",
	"lgpl-2": "LGPL-2.0-only", "lgpl-2+": "LGPL-2.0-or-later", "lgpl-2.1": "LGPL-2.1-only", "lgpl-2.1+": "LGPL-2.1-or-later",
	"lgpl-3": "LGPL-3.0-only", "lgpl-3+": "LGPL-3.0-or-later", "agpl-3": "AGPL-3.0-only", "agpl-3+": "AGPL-3.0-or-later",
	"gfdl-1.2": "GFDL-1.2-only", "gfdl-1.2+": "GFDL-1.2-or-later", "gfdl-1.3": "GFDL-1.3-only", "gfdl-1.3+": "GFDL-1.3-or-later",
	"bsd-2-clause": "BSD-2-Clause", "bsd-3-clause": "BSD-3-Clause", "bsd-4-clause": "BSD-4-Clause",
	"apache-2.0": "Apache-2.0", "apache-2": "Apache-2.0", "mpl-1.1": "MPL-1.1", "mpl-2.0": "MPL-2.0",
	"public-domain": "LicenseRef-public-domain", "zlib": "Zlib", "isc": "ISC", "curl": "curl",
	"openssl": "OpenSSL", "ssleay": "SSLeay-standalone", "x11": "X11", "psf-2": "PSF-2.0",
	"artistic": "Artistic-1.0-Perl", "artistic-2.0": "Artistic-2.0", "perl": "Artistic-1.0-Perl OR GPL-1.0-or-later",
	"cc0-1.0": "CC0-1.0", "unicode-dfs-2016": "Unicode-DFS-2016", "bsl-1.0": "BSL-1.0", "mit": "MIT",
	"gpl-2.0+": "GPL-2.0-or-later", "gpl-3.0+": "GPL-3.0-or-later", "lgpl-2.0+": "LGPL-2.0-or-later",
	"python": "PSF-2.0", "sleepycat": "Sleepycat", "ftl": "FTL",
}

// spdxKnown are identifiers that Debian spells the same, up to case.
var spdxKnown = []string{"MIT", "ISC", "Zlib", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0", "MPL-2.0", "OpenSSL", "curl", "Libpng", "libtiff", "IJG", "bzip2-1.0.6", "Unlicense", "WTFPL", "0BSD", "X11", "TCL", "Info-ZIP"}
