package main

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/fromscratch/fromscratch/pkgdb"
)

// syftVersion is the syft scripts/test installs from the Go module proxy,
// into ~/.cache/fromscratch-tools/syft-VERSION/syft.
const syftVersion = "v1.57.1"

// syftBin finds syft: $SYFT, the one scripts/test installs, or PATH. It
// skips (fails in CI) when there is none.
func syftBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SYFT"); p != "" {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "fromscratch-tools", "syft-"+syftVersion, "syft")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return requireTool(t, "syft")
}

// syftDebs runs syft on a docker archive and returns its deb packages as
// NAME VERSION lines, sorted; and the other packages it found.
func syftDebs(t *testing.T, archive string) (debs, others []string) {
	t.Helper()
	cmd := exec.Command(syftBin(t), "scan", "docker-archive:"+archive, "-o", "syft-json", "-q")
	cmd.Env = append(os.Environ(), "SYFT_CHECK_FOR_APP_UPDATE=false")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("syft %s: %v\n%s", archive, err, stderr.String())
	}
	var doc struct {
		Artifacts []struct {
			Name, Version, Type string
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("syft output: %v", err)
	}
	for _, a := range doc.Artifacts {
		if a.Type == "deb" {
			debs = append(debs, a.Name+" "+a.Version)
		} else {
			others = append(others, a.Type+" "+a.Name+" "+a.Version)
		}
	}
	sort.Strings(debs)
	return debs, others
}

// spdxDoc is what the tests read of an SPDX document.
type spdxDoc struct {
	Packages []struct {
		SPDXID, Name, VersionInfo, LicenseDeclared string
		ExternalRefs                               []struct{ ReferenceLocator string }
	}
	Files []struct {
		SPDXID, FileName, Comment string
		Checksums                 []struct{ Algorithm, ChecksumValue string }
	}
	Relationships []struct{ SpdxElementId, RelatedSpdxElement, RelationshipType string }
}

func readSPDX(t *testing.T, p string) *spdxDoc {
	t.Helper()
	var d spdxDoc
	if err := json.Unmarshal(readFile(t, p), &d); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return &d
}

// debs are the document's packages as NAME VERSION lines, sorted (the
// image itself left out).
func (d *spdxDoc) debs() []string {
	var out []string
	for _, p := range d.Packages {
		if p.SPDXID != "SPDXRef-Image" {
			out = append(out, p.Name+" "+p.VersionInfo)
		}
	}
	sort.Strings(out)
	return out
}

// sha256s maps each file to its SHA256.
func (d *spdxDoc) sha256s() map[string]string {
	m := map[string]string{}
	for _, f := range d.Files {
		for _, c := range f.Checksums {
			if c.Algorithm == "SHA256" {
				m[f.FileName] = c.ChecksumValue
			}
		}
	}
	return m
}

// cdxDoc is what the tests read of a CycloneDX BOM.
type cdxDoc struct {
	Components []cdxComponent
}

type cdxComponent struct {
	Type, Name, Version, Purl string
	Hashes                    []struct{ Alg, Content string }
	Components                []cdxComponent
}

func (d *cdxDoc) debs() []string {
	var out []string
	for _, c := range d.Components {
		if c.Type == "library" {
			out = append(out, c.Name+" "+c.Version)
		}
	}
	sort.Strings(out)
	return out
}

func (d *cdxDoc) sha256s() map[string]string {
	m := map[string]string{}
	var walk func([]cdxComponent)
	walk = func(cs []cdxComponent) {
		for _, c := range cs {
			if c.Type == "file" {
				for _, h := range c.Hashes {
					if h.Alg == "SHA-256" {
						m[c.Name] = h.Content
					}
				}
			}
			walk(c.Components)
		}
	}
	walk(d.Components)
	return m
}

// validateSchema checks a document against a JSON schema of testdata/schema.
func validateSchema(t *testing.T, doc, schema string) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, s := range []struct{ file, url string }{
		{"spdx.schema.json", "http://cyclonedx.org/schema/spdx.schema.json"},
		{"jsf-0.82.schema.json", "http://cyclonedx.org/schema/jsf-0.82.schema.json"},
		{"bom-1.5.schema.json", "http://cyclonedx.org/schema/bom-1.5.schema.json"},
		{"spdx-schema-2.3.json", "http://spdx.org/rdf/terms/2.3"},
	} {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(readFile(t, filepath.Join("testdata", "schema", s.file))))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(s.url, v); err != nil {
			t.Fatal(err)
		}
	}
	url := map[string]string{"spdx": "http://spdx.org/rdf/terms/2.3", "cyclonedx": "http://cyclonedx.org/schema/bom-1.5.schema.json"}[schema]
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compiling %s: %v", url, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(readFile(t, doc)))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("%s does not validate against the %s schema: %v", doc, schema, err)
	}
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// checkFiles: every regular file of the image is in the SBOM with its
// sha256, and the SBOM lists no other.
func checkFiles(t *testing.T, what string, files map[string]string, sums map[string]string) {
	t.Helper()
	for p, content := range files {
		if got, ok := sums[p]; !ok {
			t.Errorf("%s: %s is in the image, not in the SBOM", what, p)
		} else if got != sha256Hex(content) {
			t.Errorf("%s: %s: sha256 %s in the SBOM, %s in the image", what, p, got, sha256Hex(content))
		}
	}
	for p := range sums {
		if _, ok := files[p]; !ok {
			t.Errorf("%s: %s is in the SBOM, not in the image", what, p)
		}
	}
}

// checkRecords: each status.d/NAME.md5sums of the image names files the
// image holds, with their md5.
func checkRecords(t *testing.T, files map[string]string) {
	t.Helper()
	n := 0
	for p, content := range files {
		if !strings.HasPrefix(p, pkgdb.DpkgStatusD+"/") || !strings.HasSuffix(p, ".md5sums") {
			continue
		}
		n++
		for _, line := range strings.Split(strings.TrimSpace(content), "\n") {
			sum, file, _ := strings.Cut(line, "  ")
			got, ok := files["/"+file]
			if !ok {
				t.Errorf("%s: %s is not in the image", p, file)
				continue
			}
			if h := md5.Sum([]byte(got)); hex.EncodeToString(h[:]) != sum {
				t.Errorf("%s: %s: md5 %s, the image's is %x", p, file, sum, h)
			}
		}
	}
	if n == 0 {
		t.Errorf("no package records in the image")
	}
}

// copyrightNames are the License names of the Files paragraphs of a
// machine-readable Debian copyright file, read here on their own.
func copyrightNames(t *testing.T, pkg string) []string {
	t.Helper()
	data := string(readFile(t, filepath.Join("/usr/share/doc", pkg, "copyright")))
	if !strings.HasPrefix(data, "Format:") {
		return nil
	}
	var names []string
	for _, para := range strings.Split(data, "\n\n") {
		if !strings.HasPrefix(para, "Files:") && !strings.Contains(para, "\nFiles:") {
			continue
		}
		for _, line := range strings.Split(para, "\n") {
			if v, ok := strings.CutPrefix(line, "License:"); ok {
				// "GPL-2+ with Autoconf-data exception" is GPL-2+ here: SPDX
				// 2.3 has no place for an exception outside its list.
				words := strings.Fields(v)
				for i := 0; i < len(words); i++ {
					w := words[i]
					if w == "with" {
						for i < len(words) && words[i] != "exception" {
							i++
						}
						continue
					}
					if w != "or" && w != "and" && !slices.Contains(names, w) {
						names = append(names, w)
					}
				}
			}
		}
	}
	return names
}

// TestSBOMDebianPrograms: images of curl, nginx and python3 (with
// --package python3: its standard library) with --sbom in both
// formats: the documents validate against their schemas, list every file
// of the image with its sha256, and list exactly the deb packages (and
// versions) that syft finds in the image from its records; the records'
// md5sums match the image's files; curl's licences are those of Debian's
// copyright files.
func TestSBOMDebianPrograms(t *testing.T) {
	bin := fromscratchBin(t)
	syftBin(t)
	for _, c := range []struct {
		prog, path, pkg string
		flags           []string
	}{
		{"curl", "/usr/bin/curl", "curl", nil},
		{"nginx", "/usr/sbin/nginx", "nginx", nil},
		{"python3", "/usr/bin/python3.11", "python3.11-minimal", []string{"--package", "python3"}},
	} {
		prog, path := c.prog, c.path
		t.Run(prog, func(t *testing.T) {
			requireFile(t, path)
			dir := t.TempDir()
			archive := filepath.Join(dir, prog+".tar")
			spdxFile, cdxFile := filepath.Join(dir, "sbom.spdx.json"), filepath.Join(dir, "sbom.cdx.json")
			d1 := run(t, "", bin, append(append([]string{"build", "-o", archive, "--sbom", spdxFile}, c.flags...), path)...)
			d2 := run(t, "", bin, append(append([]string{"build", "-o", filepath.Join(dir, "again.tar"), "--sbom", cdxFile, "--sbom-format", "cyclonedx"}, c.flags...), path)...)
			if d1 != d2 {
				t.Errorf("the same build gave %s and %s", d1, d2)
			}
			validateSchema(t, spdxFile, "spdx")
			validateSchema(t, cdxFile, "cyclonedx")

			files := imageFiles(t, archiveImage(t, archive))
			spdx := readSPDX(t, spdxFile)
			var cdx cdxDoc
			if err := json.Unmarshal(readFile(t, cdxFile), &cdx); err != nil {
				t.Fatal(err)
			}
			checkFiles(t, "spdx", files, spdx.sha256s())
			checkFiles(t, "cyclonedx", files, cdx.sha256s())
			checkRecords(t, files)

			ours := spdx.debs()
			if !slices.Equal(ours, cdx.debs()) {
				t.Errorf("SPDX packages %q, CycloneDX packages %q", ours, cdx.debs())
			}
			debs, others := syftDebs(t, archive)
			if !slices.Equal(ours, debs) {
				t.Errorf("our SBOM lists %d packages:\n%s\nsyft finds %d:\n%s", len(ours), strings.Join(ours, "\n"), len(debs), strings.Join(debs, "\n"))
			}
			if len(others) > 0 {
				t.Logf("syft also finds: %q", others)
			}
			for _, want := range []string{c.pkg, "libc6"} {
				if !slices.ContainsFunc(ours, func(s string) bool { return strings.HasPrefix(s, want+" ") }) {
					t.Errorf("no package %s in %q", want, ours)
				}
			}
			if prog != "curl" {
				return
			}
			lic := map[string]string{}
			for _, p := range spdx.Packages {
				lic[p.Name] = p.LicenseDeclared
			}
			for _, pkg := range []string{"curl", "libcurl4", "zlib1g", "libbrotli1", "libc6"} {
				names := copyrightNames(t, pkg)
				want := "NOASSERTION"
				if names != nil {
					var ids []string
					for _, n := range names {
						if id := pkgdb.SPDX(n); !slices.Contains(ids, id) {
							ids = append(ids, id)
						}
					}
					want = strings.Join(ids, " AND ")
				}
				if lic[pkg] != want {
					t.Errorf("%s: licence %q, its copyright file says %q (%q)", pkg, lic[pkg], want, names)
				}
			}
			if !strings.HasPrefix(lic["curl"], "curl") || lic["zlib1g"] != "Zlib" {
				t.Errorf("curl's licence %q, zlib1g's %q", lic["curl"], lic["zlib1g"])
			}

			// Without the records, syft finds no package.
			bare := filepath.Join(dir, "bare.tar")
			run(t, "", bin, "build", "-o", bare, "--no-package-records", path)
			if debs, _ := syftDebs(t, bare); len(debs) > 0 {
				t.Errorf("--no-package-records: syft finds %q", debs)
			}
			for p := range imageFiles(t, archiveImage(t, bare)) {
				if strings.HasPrefix(p, "/var/lib/dpkg/") {
					t.Errorf("--no-package-records: %s in the image", p)
				}
			}
		})
	}
}

// TestSBOMSlimSquashInspect: slim and squash of a curl image write an SBOM
// that lists the packages syft finds in what they wrote; inspect shows
// them with their bytes.
func TestSBOMSlimSquashInspect(t *testing.T) {
	bin := fromscratchBin(t)
	curl := requireTool(t, "curl")
	syftBin(t)
	dir := t.TempDir()
	archive := filepath.Join(dir, "curl.tar")
	// An image whose records name more than slim keeps: curl and jq.
	jq := requireTool(t, "jq")
	run(t, "", bin, "build", "-o", archive, "--entrypoint", curl, curl, jq)
	for _, c := range []struct {
		cmd  string
		args []string
	}{
		{"slim", []string{"slim"}},
		{"squash", []string{"squash"}},
	} {
		t.Run(c.cmd, func(t *testing.T) {
			out := filepath.Join(dir, c.cmd+".tar")
			sb := filepath.Join(dir, c.cmd+".json")
			run(t, "", bin, append(c.args, "-o", out, "--sbom", sb, "docker-archive:"+archive)...)
			validateSchema(t, sb, "spdx")
			spdx := readSPDX(t, sb)
			files := imageFiles(t, archiveImage(t, out))
			if c.cmd == "squash" {
				// One layer: imageFiles needs no whiteouts.
				checkFiles(t, c.cmd, files, spdx.sha256s())
			}
			debs, _ := syftDebs(t, out)
			if ours := spdx.debs(); !slices.Equal(ours, debs) {
				t.Errorf("our SBOM lists %q, syft finds %q", ours, debs)
			}
			hasJQ := slices.ContainsFunc(spdx.debs(), func(s string) bool { return strings.HasPrefix(s, "jq ") })
			if hasJQ != (c.cmd == "squash") {
				t.Errorf("%s: jq's package listed: %v", c.cmd, hasJQ)
			}
		})
	}

	var r struct {
		Packages []struct {
			Name, Version string
			Files         int
			Bytes         int64
		}
		UnpackagedBytes int64 `json:"unpackaged_bytes"`
	}
	if err := json.Unmarshal([]byte(run(t, "", bin, "inspect", "--json", "docker-archive:"+archive)), &r); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range r.Packages {
		names = append(names, p.Name+" "+p.Version)
		if p.Files == 0 || p.Bytes == 0 {
			t.Errorf("inspect: %s holds %d files, %d bytes", p.Name, p.Files, p.Bytes)
		}
	}
	sort.Strings(names)
	if debs, _ := syftDebs(t, archive); !slices.Equal(names, debs) {
		t.Errorf("inspect lists %q, syft finds %q", names, debs)
	}
	fi, err := os.Stat(curl)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Packages {
		if p.Name == "curl" && p.Bytes < fi.Size() {
			t.Errorf("inspect: curl holds %d bytes, /usr/bin/curl alone is %d", p.Bytes, fi.Size())
		}
	}
	text := run(t, "", bin, "inspect", "docker-archive:"+archive)
	if !strings.Contains(text, "Packages:") || !strings.Contains(text, "libcurl4") {
		t.Errorf("inspect's text lacks the packages:\n%s", text)
	}
}

// TestSBOMBadDatabase: a root whose dpkg status is malformed or too large
// gives one line naming the file, exit 2; --no-package-records builds.
func TestSBOMBadDatabase(t *testing.T) {
	bin := fromscratchBin(t)
	busybox := "/bin/busybox"
	requireFile(t, busybox)
	for _, c := range []struct{ name, status, want string }{
		{"garbage", "Package: a\nthis is not a field\n", "/var/lib/dpkg/status: line 2: not a field"},
		{"no package", "Version: 1\n", "/var/lib/dpkg/status: line 1: paragraph without a Package field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			copyInto(t, root, "/bin/busybox", busybox)
			writeFile(t, filepath.Join(root, "var/lib/dpkg"), "status", c.status)
			out := filepath.Join(t.TempDir(), "img.tar")
			_, stderr, code := runFromscratch(t, bin, "build", "--root", root, "-o", out, "/bin/busybox")
			if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "fromscratch: ") || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want 2 and one line with %q", code, stderr, c.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s written", out)
			}
			if _, stderr, code := runFromscratch(t, bin, "build", "--root", root, "-o", out, "--no-package-records", "/bin/busybox"); code != 0 {
				t.Errorf("--no-package-records: exit %d: %s", code, stderr)
			}
		})
	}
	_, stderr, code := runFromscratch(t, bin, "build", "-o", filepath.Join(t.TempDir(), "x.tar"), "--sbom-format", "xml", busybox)
	if code != 2 || !strings.Contains(stderr, "--sbom-format") {
		t.Errorf("--sbom-format xml: exit %d, %q", code, stderr)
	}
}

// TestBuildPackages: with --packages (or --package NAME and its
// dependencies) real jobs work in Docker without tracing: iconv to latin1
// (glibc's gconv modules, libc6's), tclsh running a script (init.tcl,
// libtcl's), file identifying an ELF file (magic.mgc, libmagic-mgc's: a
// dependency), ImageMagick writing an image (its coders,
// libmagickcore's). Each output is the host's.
func TestBuildPackages(t *testing.T) {
	requireDocker(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "s.tcl")
	writeFile(t, dir, "s.tcl", "puts [string toupper [info patchlevel]]\n")
	for _, c := range []struct {
		name, prog string
		build      []string
		args       []string
		stdin      string
	}{
		{"iconv", "/usr/bin/iconv", []string{"--packages"}, []string{"-f", "UTF-8", "-t", "LATIN1"}, "h\u00e9llo\n"},
		{"tclsh", "/usr/bin/tclsh8.6", []string{"--packages", "--add", script + ":/s.tcl"}, []string{"/s.tcl"}, ""},
		{"file", "/usr/bin/file", []string{"--package", "file"}, []string{"-b", "/usr/bin/file"}, ""},
		{"convert", "/usr/bin/convert-im6.q16", []string{"--packages"}, []string{"-size", "2x2", "xc:red", "-depth", "8", "ppm:-"}, ""},
		{"python3", "/usr/bin/python3.11", []string{"--package", "python3"}, []string{"-c", "import json, sqlite3, ssl, zoneinfo; print(json.dumps({'pi': 3.14}))"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			requireFile(t, c.prog)
			hostArgs := c.args
			if c.name == "tclsh" {
				hostArgs = []string{script}
			}
			want := run(t, c.stdin, c.prog, hostArgs...)
			tag := buildAndLoad(t, "sbom-"+c.name, append(c.build, c.prog)...)
			got := dockerRun(t, c.stdin, append([]string{tag}, c.args...)...)
			if got != want {
				t.Errorf("in Docker: %q, on the host: %q", got, want)
			}
			if c.name == "iconv" {
				// Without the package, the gconv module is not there.
				bare := buildAndLoad(t, "sbom-iconv-bare", c.prog)
				if _, _, err := runErr(c.stdin, "docker", append([]string{"run", "--rm", "-i", bare}, c.args...)...); err == nil {
					t.Errorf("iconv to latin1 works without --packages: the test proves nothing")
				}
			}
		})
	}
}
