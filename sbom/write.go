package sbom

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/fromscratch/fromscratch/pkgdb"
)

// Formats of the SBOM.
const (
	SPDX      = "spdx"      // SPDX 2.3 JSON
	CycloneDX = "cyclonedx" // CycloneDX 1.5 JSON
)

// Tool names the creator in the documents.
const Tool = "fromscratch"

// Write writes doc in format (SPDX or CycloneDX).
func Write(w io.Writer, format string, doc *Document) error {
	switch format {
	case SPDX, "":
		return spdxjson.Write(doc.SPDX(), w, spdxjson.Indent("  "))
	case CycloneDX:
		enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
		enc.SetPretty(true)
		return enc.EncodeVersion(doc.CycloneDX(), cdx.SpecVersion1_5)
	}
	return fmt.Errorf("unknown SBOM format %q (spdx or cyclonedx)", format)
}

// PURL is the package URL of p: pkg:deb/debian/curl@7.88.1-10?arch=amd64&distro=debian-12.
func (d *Document) PURL(p *Package) string {
	distro := d.Distro
	if distro == "" {
		distro = map[string]string{pkgdb.Deb: "debian", pkgdb.Apk: "alpine"}[p.Kind]
	}
	q := url.Values{}
	if p.Architecture != "" {
		q.Set("arch", p.Architecture)
	}
	if d.DistroVersion != "" {
		q.Set("distro", distro+"-"+d.DistroVersion)
	}
	if p.Source != "" {
		q.Set("upstream", p.Source)
	}
	s := "pkg:" + p.Kind + "/" + url.PathEscape(distro) + "/" + url.PathEscape(p.Name) + "@" + url.QueryEscape(p.Version)
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// digest is a short hash of the document's files, for its namespace.
func (d *Document) digest() string {
	h := sha256.New()
	for _, f := range d.Files {
		fmt.Fprintf(h, "%s %s\n", f.Path, f.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// spdxID makes an SPDX element ID of parts: letters, digits, "." and "-".
func spdxID(parts ...string) common.ElementID {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('-')
		}
		for _, r := range p {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
				b.WriteRune(r)
			} else {
				b.WriteByte('-')
			}
		}
	}
	return common.ElementID(b.String())
}

// NoPackage is the comment of a file no package owns.
const NoPackage = "not from a package"

// SPDX returns doc as an SPDX 2.3 document: the image as a package that
// contains the packages and the files no package owns; each package
// contains its files.
func (d *Document) SPDX() *spdx.Document {
	name := d.Name
	if name == "" {
		name = "image"
	}
	out := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: "https://github.com/fromscratch/fromscratch/sbom/" + url.PathEscape(name) + "-" + d.digest(),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: Tool}},
			Created:  d.Created.UTC().Format("2006-01-02T15:04:05Z"),
		},
	}
	imageID := common.ElementID("Image")
	out.Packages = append(out.Packages, &spdx.Package{
		PackageName: name, PackageSPDXIdentifier: imageID, PackageDownloadLocation: "NOASSERTION",
		FilesAnalyzed: false, PackageLicenseConcluded: "NOASSERTION", PackageLicenseDeclared: "NOASSERTION",
		PackageCopyrightText: "NOASSERTION", PrimaryPackagePurpose: "CONTAINER",
	})
	rel := func(a common.ElementID, kind string, b common.ElementID) {
		out.Relationships = append(out.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", string(a)), RefB: common.MakeDocElementID("", string(b)), Relationship: kind})
	}
	rel("DOCUMENT", common.TypeRelationshipDescribe, imageID)
	pkgIDs := map[*pkgdb.Package]common.ElementID{}
	refs := map[string]bool{}
	for _, p := range d.Packages {
		id := spdxID("Package", p.Kind, p.Name, p.Architecture)
		pkgIDs[p.Package] = id
		lic := pkgdb.SPDXExpression(p.Licenses)
		for _, l := range p.Licenses {
			if id := pkgdb.SPDX(l); strings.HasPrefix(id, "LicenseRef-") && !refs[id] {
				refs[id] = true
				out.OtherLicenses = append(out.OtherLicenses, &spdx.OtherLicense{LicenseIdentifier: id, LicenseName: l,
					ExtractedText: "The licence named " + l + " in a Debian copyright file (" + pkgdb.CopyrightPath(p.Name) + ")."})
			}
		}
		sp := &spdx.Package{
			PackageName: p.Name, PackageSPDXIdentifier: id, PackageVersion: p.Version,
			PackageDownloadLocation: "NOASSERTION", FilesAnalyzed: false,
			PackageLicenseConcluded: "NOASSERTION", PackageLicenseDeclared: lic, PackageCopyrightText: "NOASSERTION",
			PackageExternalReferences: []*spdx.PackageExternalReference{{Category: "PACKAGE-MANAGER", RefType: "purl", Locator: d.PURL(p)}},
			PrimaryPackagePurpose:     "LIBRARY",
		}
		if p.Source != "" {
			v := p.SourceVersion
			if v == "" {
				v = p.Version
			}
			sp.PackageSourceInfo = "built package from: " + p.Source + " " + v
		}
		if len(p.Licenses) == 0 {
			sp.PackageLicenseComments = "licence unknown: no machine-readable copyright file"
		}
		out.Packages = append(out.Packages, sp)
		rel(imageID, common.TypeRelationshipContains, id)
	}
	for i, f := range d.Files {
		id := spdxID("File", fmt.Sprint(i))
		sf := &spdx.File{
			FileName: f.Path, FileSPDXIdentifier: id,
			Checksums: []common.Checksum{
				{Algorithm: common.SHA1, Value: f.SHA1},
				{Algorithm: common.SHA256, Value: f.SHA256},
				{Algorithm: common.MD5, Value: f.MD5},
			},
			LicenseConcluded: "NOASSERTION", FileCopyrightText: "NOASSERTION",
		}
		if f.Package == nil {
			sf.FileComment = NoPackage
			rel(imageID, common.TypeRelationshipContains, id)
		} else {
			rel(pkgIDs[f.Package], common.TypeRelationshipContains, id)
		}
		out.Files = append(out.Files, sf)
	}
	return out
}

// CycloneDX returns doc as a CycloneDX BOM: the image as the metadata's
// component, a library component per package with its files as nested
// file components, and the files no package owns at the top level.
func (d *Document) CycloneDX() *cdx.BOM {
	name := d.Name
	if name == "" {
		name = "image"
	}
	bom := cdx.NewBOM()
	dg := d.digest()
	bom.SerialNumber = "urn:uuid:" + dg[:8] + "-" + dg[8:12] + "-" + dg[12:16] + "-" + dg[16:20] + "-" + dg[20:32]
	bom.Metadata = &cdx.Metadata{
		Timestamp: d.Created.UTC().Format("2006-01-02T15:04:05Z"),
		Tools:     &cdx.ToolsChoice{Components: &[]cdx.Component{{Type: cdx.ComponentTypeApplication, Name: Tool}}},
		Component: &cdx.Component{BOMRef: "image", Type: cdx.ComponentTypeContainer, Name: name},
	}
	fileComp := func(i int, f File) cdx.Component {
		return cdx.Component{
			BOMRef: fmt.Sprintf("file-%d", i), Type: cdx.ComponentTypeFile, Name: f.Path,
			Hashes: &[]cdx.Hash{
				{Algorithm: cdx.HashAlgoSHA256, Value: f.SHA256},
				{Algorithm: cdx.HashAlgoSHA1, Value: f.SHA1},
				{Algorithm: cdx.HashAlgoMD5, Value: f.MD5},
			},
		}
	}
	nested := map[*pkgdb.Package]*[]cdx.Component{}
	for _, p := range d.Packages {
		nested[p.Package] = &[]cdx.Component{}
	}
	var loose []cdx.Component
	for i, f := range d.Files {
		c := fileComp(i, f)
		if f.Package == nil {
			c.Properties = &[]cdx.Property{{Name: "fromscratch:package", Value: "none"}}
			loose = append(loose, c)
		} else {
			*nested[f.Package] = append(*nested[f.Package], c)
		}
	}
	var comps []cdx.Component
	for _, p := range d.Packages {
		purl := d.PURL(p)
		props := []cdx.Property{{Name: "fromscratch:package:type", Value: p.Kind}}
		if p.Architecture != "" {
			props = append(props, cdx.Property{Name: "fromscratch:package:architecture", Value: p.Architecture})
		}
		if p.Source != "" {
			props = append(props, cdx.Property{Name: "fromscratch:package:source", Value: p.SourceName()})
		}
		c := cdx.Component{BOMRef: purl, Type: cdx.ComponentTypeLibrary, Name: p.Name, Version: p.Version,
			PackageURL: purl, Properties: &props}
		if len(p.Licenses) > 0 {
			c.Licenses = &cdx.Licenses{{Expression: pkgdb.SPDXExpression(p.Licenses)}}
		}
		if fs := nested[p.Package]; len(*fs) > 0 {
			c.Components = fs
		}
		comps = append(comps, c)
	}
	comps = append(comps, loose...)
	bom.Components = &comps
	return bom
}
