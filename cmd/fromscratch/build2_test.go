package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestBuildPush pushes to Debian's docker-registry on 127.0.0.1, then
// Docker pulls the image and runs it.
func TestBuildPush(t *testing.T) {
	requireDocker(t)
	registry := requireTool(t, "docker-registry")
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "config.yml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: 127.0.0.1:%d
`, filepath.Join(dir, "data"), port)), 0o644)
	cmd := exec.Command(registry, "serve", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	up := false
	for i := 0; i < 100 && !up; i++ {
		if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v2/", port)); err == nil {
			resp.Body.Close()
			up = resp.StatusCode == 200
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !up {
		t.Fatalf("docker-registry did not start on 127.0.0.1:%d", port)
	}
	ref := fmt.Sprintf("127.0.0.1:%d/fromscratch-test/jq:%d", port, os.Getpid())
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
	run(t, "", bin, "build", "-o", out, "-t", "curl:size", "/usr/bin/curl")

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
	img, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	limit := closure*102/100 + 64<<10
	t.Logf("curl: closure %d bytes in %d files, layers %d bytes uncompressed (limit %d)", closure, len(files), total, limit)
	if total > limit {
		t.Errorf("layers hold %d bytes, more than closure %d x 1.02 + 64 KiB = %d", total, closure, limit)
	}
}
