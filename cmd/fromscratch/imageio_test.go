package main

import (
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// TestLddRootImage resolves a program inside images written by build, as
// the host resolves it: ldd --root takes an image reference.
func TestLddRootImage(t *testing.T) {
	bin := fromscratchBin(t)
	dir := t.TempDir()
	archive := filepath.Join(dir, "env.tar")
	layout := filepath.Join(dir, "layout")
	// fromscratch build: /usr/bin/env, its libraries and the loader.
	run(t, "", bin, "build", "-o", archive, "--oci-layout", layout, "-t", "env:1", "/usr/bin/env")
	var host []lddJSON
	if err := json.Unmarshal([]byte(run(t, "", bin, "ldd", "--json", "/usr/bin/env")), &host); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"docker-archive:" + archive, "oci-layout:" + layout, "oci-layout:" + layout + ":1", "oci-layout:" + layout + ":env:1"} {
		var got []lddJSON
		out := run(t, "", bin, "ldd", "--root", ref, "--json", "/usr/bin/env")
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("ldd --root %s: %v\n%s", ref, err, out)
		}
		if len(got) != 1 || got[0].Interpreter != host[0].Interpreter || len(got[0].Libraries) != len(host[0].Libraries) {
			t.Fatalf("ldd --root %s = %+v, want %+v", ref, got, host)
		}
		for i, l := range got[0].Libraries {
			if !l.Found || l.Path != host[0].Libraries[i].Path {
				t.Errorf("ldd --root %s: library %d = %+v, want %+v", ref, i, l, host[0].Libraries[i])
			}
		}
	}
	// inspect: the entrypoint is dynamic, nothing is wasted.
	var r inspectJSON
	if err := json.Unmarshal([]byte(run(t, "", bin, "inspect", "--json", "docker-archive:"+archive)), &r); err != nil {
		t.Fatal(err)
	}
	if r.Entrypoint.Kind != "dynamic" || r.Entrypoint.Interpreter != host[0].Interpreter || r.WastedBytes != 0 || r.Efficiency != 1 {
		t.Errorf("inspect = entrypoint %+v, wasted %d, efficiency %v", r.Entrypoint, r.WastedBytes, r.Efficiency)
	}
	if len(r.Largest) == 0 || r.Largest[0].Size < r.Largest[len(r.Largest)-1].Size {
		t.Errorf("largest = %+v", r.Largest)
	}
	// A directory stays a directory; a missing one that is no reference
	// is an error.
	if _, stderr, err := runErr("", bin, "ldd", "--root", filepath.Join(dir, "nope"), "/x"); exitStatus(err) != 2 || stderr == "" {
		t.Errorf("ldd --root missing dir: %v %q", err, stderr)
	}
}

// TestSquashSinksAndSources squashes into every sink and reads the result
// back from each source: an OCI layout, a registry (in-process), the Docker
// engine.
func TestSquashSinksAndSources(t *testing.T) {
	bin := fromscratchBin(t)
	dir := t.TempDir()
	archive := filepath.Join(dir, "env.tar")
	run(t, "", bin, "build", "-o", archive, "-t", "env:1", "/usr/bin/env")
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://")
	layout := filepath.Join(dir, "flat")
	out := run(t, "", bin, "squash", "--oci-layout", layout, "--push", reg+"/env:flat", "--insecure", "-t", "env:flat", "docker-archive:"+archive)
	if !strings.Contains(out, reg+"/env:flat@sha256:") {
		t.Errorf("squash --push printed %q, want the digest reference", out)
	}
	var a, b inspectJSON
	json.Unmarshal([]byte(run(t, "", bin, "inspect", "--json", "oci-layout:"+layout+":flat")), &a)
	json.Unmarshal([]byte(run(t, "", bin, "inspect", "--json", "--insecure", reg+"/env:flat")), &b)
	if len(a.Layers) != 1 || len(b.Layers) != 1 || a.Layers[0].Digest != b.Layers[0].Digest {
		t.Errorf("layout and registry disagree: %+v vs %+v", a.Layers, b.Layers)
	}
	// Squashing twice gives the same image.
	again := run(t, "", bin, "squash", "--oci-layout", filepath.Join(dir, "flat2"), "docker-archive:"+archive)
	if first := run(t, "", bin, "squash", "--oci-layout", filepath.Join(dir, "flat3"), "docker-archive:"+archive); first != again {
		t.Errorf("squash is not reproducible: %s vs %s", first, again)
	}
	if _, stderr, err := runErr("", bin, "squash", "docker-archive:"+archive); exitStatus(err) != 2 || !strings.Contains(stderr, "no output") {
		t.Errorf("squash without output: %v %q", err, stderr)
	}

	if testing.Short() {
		return
	}
	requireDocker(t)
	tag := uniqueTag("env")
	run(t, "", "docker", "load", "-i", archive)
	run(t, "", "docker", "tag", "env:1", tag)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag, "env:1").Run() })
	var c inspectJSON
	json.Unmarshal([]byte(run(t, "", bin, "inspect", "--json", "docker-daemon:"+tag)), &c)
	if c.Entrypoint.Kind != "dynamic" || len(c.Layers) == 0 {
		t.Errorf("inspect docker-daemon:%s = %+v", tag, c)
	}
}
