package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The Debian 12 root of debian:12-slim's kind (minbase) that the size
// comparison starts from, made by debootstrap once and cached next to the
// others; bench/packages.sh makes and uses the same (same marker).
var minbaseDebootstrapArgs = []string{"--variant=minbase", "bookworm", "ROOT", arm64Mirror}

func minbaseRoot(t *testing.T) string {
	t.Helper()
	return debootstrapRoot(t, "amd64-bookworm-minbase", minbaseDebootstrapArgs)
}

// debianSlimImage starts making a debian:12-slim-like image with packages
// installed (bench/debian-slim.sh, minutes: apt-get and docker import) and
// returns a function that waits for it and returns its tag; the image is
// removed at the end of the test.
func debianSlimImage(t *testing.T, base, name string, packages ...string) func() string {
	t.Helper()
	tag := uniqueTag(name)
	script, err := filepath.Abs("../../bench/debian-slim.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, append([]string{base, tag}, packages...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var werr error
	wait := func() error { once.Do(func() { werr = cmd.Wait() }); return werr }
	// Also when the test ends early: the script cleans up after itself.
	t.Cleanup(func() {
		wait()
		exec.Command("docker", "rmi", "-f", tag).Run()
	})
	return func() string {
		t.Helper()
		if err := wait(); err != nil {
			t.Fatalf("debian-slim.sh %v: %v\n%s", packages, err, out.String())
		}
		return tag
	}
}

// TestPackagesSizes: the jobs of issue 13's bar (iconv to latin1,
// ImageMagick writing an image, tclsh running a script, file identifying an
// ELF file) each do their job in Docker as on the host in three images:
// built with --packages, built by tracing the job (--trace), and a
// debian:12-slim-like image with the program's package installed; and the
// images are in that order of size, traced < packages < slim.
// bench/packages.sh prints the sizes.
func TestPackagesSizes(t *testing.T) {
	requireDocker(t)
	base := minbaseRoot(t)
	bin := fromscratchBin(t)
	for _, c := range []struct {
		name, prog string
		build      []string // the package route's flags
		args       []string
		stdin      string   // @FILE: the host's FILE
		debs       []string // the slim image's packages
	}{
		{"iconv", "/usr/bin/iconv", []string{"--packages"}, []string{"-f", "UTF-8", "-t", "LATIN1"}, "h\u00e9llo w\u00f6rld\n", nil},
		{"convert", "/usr/bin/convert-im6.q16", []string{"--packages"}, []string{"-size", "2x2", "xc:red", "-depth", "8", "ppm:-"}, "", []string{"imagemagick-6.q16"}},
		{"tclsh", "/usr/bin/tclsh8.6", []string{"--packages"}, nil, "puts [string toupper [info patchlevel]]\nputs [clock format 0 -gmt 1 -format %Y-%m-%dT%H]\n", []string{"tcl8.6"}},
		// The host's ELF file on stdin: the same bytes in every image.
		{"file", "/usr/bin/file", []string{"--package", "file"}, []string{"-b", "-"}, "@/usr/bin/file", []string{"file"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			requireFile(t, c.prog)
			slimDone := debianSlimImage(t, base, "pkgsize-slim-"+c.name, c.debs...) // meanwhile, the others
			if f, ok := strings.CutPrefix(c.stdin, "@"); ok {
				c.stdin = string(readFile(t, f))
			}
			want := run(t, c.stdin, c.prog, c.args...)
			pkgs := buildAndLoad(t, "pkgsize-packages-"+c.name, append(c.build, c.prog)...)

			traceArgs, err := json.Marshal(append([]string{}, c.args...))
			if err != nil {
				t.Fatal(err)
			}
			traced := uniqueTag("pkgsize-traced-" + c.name)
			tar := filepath.Join(t.TempDir(), "traced.tar")
			run(t, c.stdin, bin, "build", "-o", tar, "-t", traced, "--trace", string(traceArgs), c.prog)
			run(t, "", "docker", "load", "-i", tar)
			t.Cleanup(func() { exec.Command("docker", "rmi", "-f", traced).Run() })

			slim := slimDone()
			for _, img := range []struct{ tag, entry string }{{pkgs, ""}, {traced, ""}, {slim, c.prog}} {
				args := []string{"run", "--rm", "-i", img.tag}
				if img.entry != "" {
					args = append(args, img.entry)
				}
				if got := run(t, c.stdin, "docker", append(args, c.args...)...); got != want {
					t.Errorf("%s: %q, on the host: %q", img.tag, clip(got), clip(want))
				}
			}
			ps, ts, ss := imageSize(t, pkgs), imageSize(t, traced), imageSize(t, slim)
			t.Logf("%s: traced %.1f MB, packages %.1f MB, debian-slim %.1f MB", c.name, float64(ts)/1e6, float64(ps)/1e6, float64(ss)/1e6)
			if !(ts < ps && ps < ss) {
				t.Errorf("sizes: traced %d, packages %d, debian-slim %d bytes: want them in that order, smallest first", ts, ps, ss)
			}
		})
	}
}
