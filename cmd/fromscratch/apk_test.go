package main

import (
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// apkRoot makes an Alpine-like root whose lib/apk/db/installed is written
// by go-apk (apko's apk implementation) installing two .apk packages made
// here: musl (Debian's musl as the loader, /lib/ld-musl-x86_64.so.1) and
// hello (a program built with musl-gcc). No Alpine package or apk-tools can
// be had on this machine; testdata/apkroot says how.
func apkRoot(t *testing.T) string {
	t.Helper()
	requireTool(t, "musl-gcc")
	requireFile(t, "/usr/lib/x86_64-linux-musl/libc.so")
	dir := t.TempDir()
	gcc(t, "musl-gcc", dir, "hello.c", "#include <stdio.h>\nint main(void) { puts(\"hello from musl\"); return 0; }\n", "-O2", "-o", "hello")
	helper := filepath.Join(dir, "apkroot")
	build := exec.Command("go", "build", "-o", helper, ".")
	build.Dir = "testdata/apkroot"
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building testdata/apkroot: %v\n%s", err, out)
	}
	root := filepath.Join(dir, "root")
	run(t, "", helper, root,
		"musl:1.2.3-r0:MIT:/lib/ld-musl-x86_64.so.1=/usr/lib/x86_64-linux-musl/libc.so",
		"hello:1.0-r1:GPL-2.0-or-later:/usr/bin/hello="+filepath.Join(dir, "hello"))
	return root
}

// TestApkRoot: a musl program from a root with a real apk database. The
// SBOM of `build --sbom` lists its apk packages (versions, licences, the
// files they own), the image carries their records in
// /lib/apk/db/installed, syft finds exactly those packages, and the
// program runs in Docker.
func TestApkRoot(t *testing.T) {
	requireDocker(t)
	root := apkRoot(t)
	tmp := t.TempDir()
	out, sbomPath := filepath.Join(tmp, "hello.tar"), filepath.Join(tmp, "sbom.json")
	tag := uniqueTag("pkgsize-apk")
	run(t, "", fromscratchBin(t), "build", "--root", root, "--sbom", sbomPath, "-o", out, "-t", tag, "/usr/bin/hello")

	doc := readSPDX(t, sbomPath)
	want := []string{"hello 1.0-r1", "musl 1.2.3-r0"}
	if got := doc.debs(); !slices.Equal(got, want) {
		t.Errorf("SBOM packages %q, want %q", got, want)
	}
	licences := map[string]string{}
	for _, p := range doc.Packages {
		licences[p.Name] = p.LicenseDeclared
		if p.SPDXID != "SPDXRef-Image" && (len(p.ExternalRefs) == 0 || !strings.HasPrefix(p.ExternalRefs[0].ReferenceLocator, "pkg:apk/alpine/"+p.Name+"@")) {
			t.Errorf("%s: package URL %+v", p.Name, p.ExternalRefs)
		}
	}
	if licences["musl"] != "MIT" || licences["hello"] != "GPL-2.0-or-later" {
		t.Errorf("licences %v", licences)
	}
	owned := map[string]bool{}
	for _, f := range doc.Files {
		owned[f.FileName] = f.Comment != "not from a package"
	}
	for _, p := range []string{"/usr/bin/hello", "/lib/ld-musl-x86_64.so.1"} {
		if !owned[p] {
			t.Errorf("%s: not from a package in the SBOM", p)
		}
	}

	img := archiveImage(t, out)
	db := string(fileFromImage(t, img, "lib/apk/db/installed"))
	for _, w := range []string{"P:musl\nV:1.2.3-r0\n", "P:hello\nV:1.0-r1\n", "F:usr/bin\nR:hello\n", "F:lib\nR:ld-musl-x86_64.so.1\n"} {
		if !strings.Contains(db, w) {
			t.Errorf("the image's lib/apk/db/installed lacks %q:\n%s", w, db)
		}
	}

	debs, others := syftDebs(t, out)
	var apks []string
	for _, o := range others {
		if a, ok := strings.CutPrefix(o, "apk "); ok {
			apks = append(apks, a)
		}
	}
	sort.Strings(apks)
	if len(debs) > 0 || !slices.Equal(apks, want) {
		t.Errorf("syft finds apk %q and deb %q, our SBOM %q", apks, debs, want)
	}

	run(t, "", "docker", "load", "-i", out)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	if got := dockerRun(t, "", tag); got != "hello from musl\n" {
		t.Errorf("in Docker: %q", got)
	}
}
