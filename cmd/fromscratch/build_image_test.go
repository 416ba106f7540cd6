package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/fromscratch/fromscratch/internal/tartest"
)

// TestBuildPush pushes to Debian's docker-registry on 127.0.0.1, then
// Docker pulls the image and runs it.
func TestBuildPush(t *testing.T) {
	requireDocker(t)
	host := startRegistry(t)
	ref := fmt.Sprintf("%s/fromscratch-test/jq:%d", host, os.Getpid())
	out := run(t, "", fromscratchBin(t), "build", "--push", ref, "--insecure", "/usr/bin/jq")
	if !strings.Contains(out, "@sha256:") {
		t.Errorf("build --push printed %q, want a digest reference", out)
	}
	run(t, "", "docker", "pull", ref)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", ref).Run() })
	want := run(t, `{"x":1}`, "/usr/bin/jq", ".x")
	if got := dockerRun(t, `{"x":1}`, ref, ".x"); got != want {
		t.Errorf("pulled image: %q, host: %q", got, want)
	}
}

// TestBuildReproducible: two roots with the same files but other mtimes
// (and a rebuild) give one image digest.
func TestBuildReproducible(t *testing.T) {
	requireTool(t, "ldd")
	bin := fromscratchBin(t)
	var roots []string
	for i := 0; i < 2; i++ {
		root := t.TempDir()
		copyHostPath(t, root, "/usr/bin/jq")
		for _, p := range hostClosure(t, "/usr/bin/jq") {
			copyHostPath(t, root, p)
		}
		stamp := time.Date(2001+i*10, 1, 2, 3, 4, 5, 0, time.UTC)
		filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode()&os.ModeSymlink == 0 {
				os.Chtimes(p, stamp, stamp)
			}
			return nil
		})
		roots = append(roots, root)
	}
	digest := func(root string) string {
		out := filepath.Join(t.TempDir(), "img.tar")
		return strings.TrimSpace(run(t, "", bin, "build", "--root", root, "-o", out, "-t", "jq:repro", "/usr/bin/jq"))
	}
	a, b, c := digest(roots[0]), digest(roots[1]), digest(roots[0])
	if !strings.HasPrefix(a, "sha256:") || a != b || a != c {
		t.Errorf("digests differ: %s, %s, %s", a, b, c)
	}
}

// TestBuildSize: the image's uncompressed layers hold the closure's bytes
// and little more (tar headers, directories, /etc files).
func TestBuildSize(t *testing.T) {
	bin := fromscratchBin(t)
	out := filepath.Join(t.TempDir(), "curl.tar")
	// The closure's bytes alone: the package records are not counted.
	run(t, "", bin, "build", "-o", out, "-t", "curl:size", "--no-package-records", "/usr/bin/curl")

	var res []lddJSON
	if err := json.Unmarshal([]byte(run(t, "", bin, "ldd", "--json", "/usr/bin/curl")), &res); err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{realpath("/usr/bin/curl"): true, realpath(res[0].Interpreter): true}
	for _, l := range res[0].Libraries {
		files[realpath(l.Path)] = true
	}
	var closure int64
	for f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		closure += fi.Size()
	}
	total := uncompressedBytes(t, archiveImage(t, out))
	limit := closure*102/100 + 64<<10
	t.Logf("curl: closure %d bytes in %d files, layers %d bytes uncompressed (limit %d)", closure, len(files), total, limit)
	if total > limit {
		t.Errorf("layers hold %d bytes, more than closure %d x 1.02 + 64 KiB = %d", total, closure, limit)
	}
}

// archiveLayerKinds reads a docker-archive's layer files as stored and
// returns "tar+gzip" or "tar" for each, from its first bytes.
func archiveLayerKinds(t *testing.T, archive string) []string {
	t.Helper()
	var manifest []struct{ Layers []string }
	heads := map[string][]byte{}
	for hdr, r := range tartest.File(t, archive) {
		b, err := io.ReadAll(io.LimitReader(r, 512))
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Name == "manifest.json" {
			b, _ = io.ReadAll(io.MultiReader(bytes.NewReader(b), r))
			if err := json.Unmarshal(b, &manifest); err != nil {
				t.Fatal(err)
			}
		}
		heads[hdr.Name] = b
	}
	if len(manifest) != 1 || len(manifest[0].Layers) == 0 {
		t.Fatalf("%s: manifest.json %+v: want one image with layers", archive, manifest)
	}
	var kinds []string
	for _, l := range manifest[0].Layers {
		switch h := heads[l]; {
		case bytes.HasPrefix(h, []byte{0x1f, 0x8b}):
			kinds = append(kinds, "tar+gzip")
		case len(h) == 512 && string(h[257:262]) == "ustar":
			kinds = append(kinds, "tar")
		default:
			t.Fatalf("%s: layer %s starts with %q: neither gzip nor tar", archive, l, h)
		}
	}
	return kinds
}

// layerMediaTypes lists img's layer media types, from its manifest.
func layerMediaTypes(t *testing.T, img v1.Image) []string {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var mts []string
	for _, l := range m.Layers {
		mts = append(mts, string(l.MediaType))
	}
	return mts
}

// wantGzip checks that every layer kind (a media type, or what
// archiveLayerKinds says) is gzip, or that none is.
func wantGzip(t *testing.T, what string, kinds []string, gzip bool) {
	t.Helper()
	for _, k := range kinds {
		if strings.HasSuffix(k, "gzip") != gzip {
			t.Errorf("%s: layers %v, want gzip %v", what, kinds, gzip)
			return
		}
	}
}

// TestBuildCompression: -o alone writes plain tar layers (as docker save
// does), --level N gzips them, layouts are gzipped unless --level 0; the
// image config, so the ID docker load gives, is the same either way.
func TestBuildCompression(t *testing.T) {
	requireDocker(t)
	bin := fromscratchBin(t)
	dir := t.TempDir()
	ids := map[string]string{}
	for _, c := range []struct {
		name string
		args []string
		gzip bool
	}{
		{"plain", nil, false},
		{"gzip", []string{"--level", "6"}, true},
	} {
		out := filepath.Join(dir, c.name+".tar")
		tag := uniqueTag("jq-" + c.name)
		run(t, "", bin, append(append([]string{"build", "-o", out, "-t", tag}, c.args...), "/usr/bin/jq")...)
		wantGzip(t, c.name, archiveLayerKinds(t, out), c.gzip)
		run(t, "", "docker", "load", "-i", out)
		t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
		if got, host := dockerRun(t, "", tag, "--version"), run(t, "", "/usr/bin/jq", "--version"); got != host {
			t.Errorf("%s: jq --version in the container %q, on the host %q", c.name, got, host)
		}
		ids[c.name] = strings.TrimSpace(run(t, "", "docker", "image", "inspect", "-f", "{{.Id}}", tag))
	}
	if ids["plain"] != ids["gzip"] {
		t.Errorf("image IDs differ with compression: %v", ids)
	}
	for _, c := range []struct {
		level string
		gzip  bool
	}{{"", true}, {"0", false}} {
		dst := filepath.Join(dir, "layout"+c.level)
		args := []string{"build", "--oci-layout", dst}
		if c.level != "" {
			args = append(args, "--level", c.level)
		}
		run(t, "", bin, append(args, "/usr/bin/jq")...)
		wantGzip(t, "--oci-layout --level "+c.level, layerMediaTypes(t, layoutImage(t, dst)), c.gzip)
	}
	_, stderr, err := runErr("", bin, "build", "--level", "10", "-o", filepath.Join(dir, "x.tar"), "/usr/bin/jq")
	if code := exitStatus(err); code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, `"10" for "--level"`) {
		t.Errorf("--level 10: exit %d, stderr %q: want exit 2 and one line naming --level 10", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.tar")); !os.IsNotExist(err) {
		t.Errorf("--level 10 left an output: %v", err)
	}
}

// TestBuildToStdout: -o - streams the archive into docker load; the digest
// line goes to stderr.
func TestBuildToStdout(t *testing.T) {
	requireDocker(t)
	bin := fromscratchBin(t)
	tag := uniqueTag("jq-stdout")
	build := exec.Command(bin, "build", "-o", "-", "-t", tag, "/usr/bin/jq")
	load := exec.Command("docker", "load")
	pipe, err := build.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	load.Stdin = pipe
	var buildErr, loadOut bytes.Buffer
	build.Stderr, load.Stdout, load.Stderr = &buildErr, &loadOut, &loadOut
	if err := build.Start(); err != nil {
		t.Fatal(err)
	}
	if err := load.Run(); err != nil {
		t.Fatalf("docker load = %v: %s", err, loadOut.String())
	}
	if err := build.Wait(); err != nil {
		t.Fatalf("build -o - = %v: %s", err, buildErr.String())
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	if lines := strings.Split(strings.TrimSpace(buildErr.String()), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "sha256:") {
		t.Errorf("build -o - stderr %q: want the digest, then the summary", buildErr.String())
	}
	if got, host := dockerRun(t, "", tag, "--version"), run(t, "", "/usr/bin/jq", "--version"); got != host {
		t.Errorf("jq --version in the container %q, on the host %q", got, host)
	}
}

// TestBuildBareName: a PROGRAM without a slash that is no file here is
// looked up in the root's PATH, as docker run does: `build jq` is the image
// of /usr/bin/jq, digest for digest; a file of that name here wins.
func TestBuildBareName(t *testing.T) {
	bin := fromscratchBin(t)
	dir := t.TempDir()
	digest := func(wd string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"build", "-o", filepath.Join(dir, "img.tar"), "-t", "jq:bare"}, args...)...)
		cmd.Dir = wd
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("build %v in %s = %v", args, wd, err)
		}
		return strings.TrimSpace(string(out))
	}
	if bare, full := digest(dir, "jq"), digest(dir, "/usr/bin/jq"); bare != full {
		t.Errorf("build jq = %s, build /usr/bin/jq = %s: want the same image", bare, full)
	}
	local := t.TempDir()
	data, err := os.ReadFile("/usr/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(local, "jq"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if here, full := digest(local, "jq"), digest(dir, "/usr/bin/jq"); here == full {
		t.Errorf("build jq with ./jq present built /usr/bin/jq's image")
	}
}

// TestSquashKeptPlainLayers: squashing a plain-layer archive (as docker
// save and build -o write) into a layout gzips the kept layers too; into an
// archive they stay plain.
func TestSquashKeptPlainLayers(t *testing.T) {
	bin := fromscratchBin(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "jq.tar")
	run(t, "", bin, "build", "-o", src, "/usr/bin/jq")
	out := filepath.Join(dir, "flat.tar")
	run(t, "", bin, "squash", "--from", "1", "-o", out, src)
	wantGzip(t, "squash -o", archiveLayerKinds(t, out), false)

	dst := filepath.Join(dir, "layout")
	run(t, "", bin, "squash", "--from", "1", "--oci-layout", dst, src)
	img := layoutImage(t, dst)
	kinds := layerMediaTypes(t, img)
	if len(kinds) != 2 {
		t.Errorf("squash --from 1: %d layers, want 2", len(kinds))
	}
	wantGzip(t, "squash --oci-layout", kinds, true)
	if err := validate.Image(img); err != nil {
		t.Errorf("squashed layout image: %v", err)
	}
}
