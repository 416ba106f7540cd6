package main

import (
	"bytes"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/publish"
	"github.com/fromscratch/fromscratch/sbom"
)

// sbomFlags are the SBOM and package record flags of build, slim and
// squash.
type sbomFlags struct {
	file      string
	format    string
	noRecords bool
}

// packageFlags are build's --packages, --package and --package-docs.
type packageFlags struct {
	all   bool
	names []string
	docs  bool
}

func (p *packageFlags) register(f *pflag.FlagSet) {
	f.BoolVar(&p.all, "packages", false, "add every file of the packages that own the image's files (no documentation: usr/share/doc, man, info, locale)")
	f.StringArrayVar(&p.names, "package", nil, "add the installed package `NAME` with its Depends and Pre-Depends (repeatable)")
	f.BoolVar(&p.docs, "package-docs", false, "with --packages or --package, keep the packages' documentation, manuals and translations")
}

func (s *sbomFlags) register(f *pflag.FlagSet) {
	f.StringVar(&s.file, "sbom", "", "write the SBOM (every file with its sha256 and package) to `FILE`; with --push, also attach it to the pushed image (an OCI 1.1 referrer; tag sha256-DIGEST.sbom where the registry has no referrers API)")
	f.StringVar(&s.format, "sbom-format", sbom.SPDX, "SBOM format: spdx (SPDX 2.3 JSON) or cyclonedx (CycloneDX 1.5 JSON)")
	f.BoolVar(&s.noRecords, "no-package-records", false, "leave out the package records (/var/lib/dpkg/status.d) that let scanners find the image's packages")
}

// check validates the flags before anything is built.
func (s *sbomFlags) check(cmd string, images int) error {
	if s.format != sbom.SPDX && s.format != sbom.CycloneDX {
		return usage("--sbom-format %q: want spdx or cyclonedx", s.format)
	}
	if s.file != "" && images > 1 {
		return usage("%s --sbom %s: one SBOM file describes one image, and %d platforms are asked", cmd, s.file, images)
	}
	return nil
}

// write writes doc to the --sbom file (a temporary file renamed into
// place), and returns it as the sinks attach it to a pushed image: the same
// bytes, with its media type.
func (s *sbomFlags) write(doc *sbom.Document) (*publish.SBOM, error) {
	if s.file == "" || doc == nil {
		return nil, nil
	}
	var b bytes.Buffer
	err := sbom.Write(&b, s.format, doc)
	if err == nil {
		err = image.WriteFileAtomic(s.file, b.Bytes())
	}
	if err != nil {
		return nil, &exitError{code: 2, msg: fmt.Sprintf("%s: %s", s.file, describe(err))}
	}
	mt := publish.SPDXMediaType
	if s.format == sbom.CycloneDX {
		mt = publish.CycloneDXMediaType
	}
	return &publish.SBOM{MediaType: mt, Data: b.Bytes()}, nil
}

// sbomSummary is "12 packages, 40 files (3 not from a package)".
func sbomSummary(doc *sbom.Document) string {
	loose := 0
	for _, f := range doc.Files {
		if f.Package == nil {
			loose++
		}
	}
	return fmt.Sprintf("%d packages, %d files (%d not from a package)", len(doc.Packages), len(doc.Files), loose)
}
