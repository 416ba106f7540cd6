package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestMissingPathIsNoReference: a string that starts with "/", "./" or
// "../" is a path, never a registry reference: a missing one is one line
// naming it, exit 2, and no lookup (an HTTPS proxy that refuses every
// connection would change the message if a registry were asked).
func TestMissingPathIsNoReference(t *testing.T) {
	dir := t.TempDir()
	env := []string{"HTTPS_PROXY=http://127.0.0.1:1", "HTTP_PROXY=http://127.0.0.1:1"}
	for _, args := range [][]string{
		{"inspect", "./missing.tar"},
		{"inspect", "../missing/app.tar"},
		{"inspect", "/no/such"},
		{"ldd", "--root", "/no/such", "/bin/sh"},
		{"ldd", "--root", "./missing.tar", "/bin/sh"},
		{"doctor", "./missing.tar"},
		{"squash", "-o", "out.tar", "./missing.tar:app:1"},
		{"slim", "-o", "out.tar", "/no/such:1"},
	} {
		ref := args[len(args)-1]
		if args[0] == "ldd" {
			ref = args[2]
		}
		_, stderr, code := runIn(t, dir, env, args...)
		if want := "fromscratch: " + ref + ": no such file or directory\n"; code != 2 || stderr != want {
			t.Errorf("fromscratch %v: exit %d, stderr %q; want exit 2, %q", args, code, stderr, want)
		}
	}
	// A directory that is no layout says so.
	os.Mkdir(filepath.Join(dir, "plain"), 0o755)
	_, stderr, code := runIn(t, dir, env, "inspect", "./plain")
	if want := "fromscratch: ./plain: a directory without an oci-layout file: not an OCI image layout\n"; code != 2 || stderr != want {
		t.Errorf("inspect ./plain: exit %d, stderr %q; want exit 2, %q", code, stderr, want)
	}
	// A path with a tag picks an image of a layout, for ldd --root too.
	mustRunIn(t, dir, nil, "build", "--oci-layout", "layout", "-t", "env:1", "/usr/bin/env")
	for _, ref := range []string{"./layout:1", "./layout:env:1", "./layout"} {
		var got []lddJSON
		out := mustRunIn(t, dir, env, "ldd", "--root", ref, "--json", "/usr/bin/env")
		if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 || got[0].Interpreter == "" || len(got[0].Libraries) == 0 {
			t.Errorf("ldd --root %s = %s (%v), want /usr/bin/env resolved in the image", ref, out, err)
		}
	}
	if _, stderr, code := runIn(t, dir, env, "inspect", "./layout:nosuchtag"); code != 2 || stderr == "" {
		t.Errorf("inspect ./layout:nosuchtag: exit %d, stderr %q", code, stderr)
	}
}

// refsLayered is an image of four layers, each made by a command of its
// own, with an empty layer (ENV) between them.
const refsLayered = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir /a && /bin/busybox echo one > /a/1"]
ENV X=1
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox echo two > /a/2"]
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox rm /a/1"]
ENTRYPOINT ["/bin/busybox"]
`

// TestInspectDaemonAsSaved: inspect of an image in the engine shows what
// inspect of its `docker save` archive shows, layer by layer: the same
// digest (the diff_id of a plain layer) and the same command, bottom first.
func TestInspectDaemonAsSaved(t *testing.T) {
	bin := fromscratchBin(t)
	tag := squashDockerBuild(t, "refs-daemon-history", refsLayered)
	archive := doctorSave(t, tag)
	var d, a inspectJSON
	if err := json.Unmarshal([]byte(run(t, "", bin, "inspect", "--json", "docker-daemon:"+tag)), &d); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(run(t, "", bin, "inspect", "--json", archive)), &a); err != nil {
		t.Fatal(err)
	}
	if len(d.Layers) != 4 || len(a.Layers) != 4 {
		t.Fatalf("layers: engine %d, archive %d, want 4", len(d.Layers), len(a.Layers))
	}
	want := []string{"COPY", "mkdir /a", "echo two", "rm /a/1"}
	for i := range a.Layers {
		dl, al := d.Layers[i], a.Layers[i]
		if dl.Digest != al.Digest || dl.DiffID != al.DiffID || dl.Size != al.Size || dl.MediaType != al.MediaType {
			t.Errorf("layer %d: engine %s %s %d %s, archive %s %s %d %s", i, dl.Digest, dl.DiffID, dl.Size, dl.MediaType, al.Digest, al.DiffID, al.Size, al.MediaType)
		}
		if dl.CreatedBy != al.CreatedBy || !strings.Contains(al.CreatedBy, want[i]) {
			t.Errorf("layer %d: created by %q in the engine, %q in the archive, want ...%s...", i, dl.CreatedBy, al.CreatedBy, want[i])
		}
	}
	if d.WastedBytes != a.WastedBytes || d.Entrypoint.Kind != "static" {
		t.Errorf("engine: wasted %d, entrypoint %+v; archive: wasted %d", d.WastedBytes, d.Entrypoint, a.WastedBytes)
	}
	// By image ID too; an image the engine lacks says so.
	id := strings.TrimSpace(run(t, "", "docker", "image", "inspect", "-f", "{{.Id}}", tag))
	var byID inspectJSON
	json.Unmarshal([]byte(run(t, "", bin, "inspect", "--json", "docker-daemon:"+id)), &byID)
	if len(byID.Layers) != 4 || byID.Layers[3].Digest != a.Layers[3].Digest {
		t.Errorf("inspect docker-daemon:%s: layers %+v", id, byID.Layers)
	}
	nowhere := uniqueTag("refs-daemon-nowhere")
	_, stderr, code := runFromscratch(t, bin, "inspect", "docker-daemon:"+nowhere)
	if code != 2 || !strings.Contains(stderr, "no such image in the Docker engine") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("inspect docker-daemon:%s: exit %d, stderr %q", nowhere, code, stderr)
	}
}

// TestInspectDaemonOnePass: the image's bytes cross inspect of an engine
// image twice: once from the engine's stream (hashed on the way into one
// temporary copy), once into the layer parser; the stream is not re-read
// to check or compress layers. Counted by the kernel (rchar, wchar of
// /proc/PID/io, which add up a process's waited-for children).
func TestInspectDaemonOnePass(t *testing.T) {
	bin := fromscratchBin(t)
	tag := squashDockerBuild(t, "refs-daemon-onepass", `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox head -c 12m /dev/urandom > /a"]
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox head -c 12m /dev/urandom > /b"]
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox head -c 12m /dev/urandom > /c"]
`)
	fi, err := os.Stat(doctorSave(t, tag))
	if err != nil {
		t.Fatal(err)
	}
	size := fi.Size()
	out := run(t, "", "sh", "-c", `"$0" inspect docker-daemon:"$1" >/dev/null && cat /proc/$$/io`, bin, tag)
	counts := map[string]int64{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if n, err := strconv.ParseInt(v, 10, 64); ok && err == nil {
			counts[k] = n
		}
	}
	rchar, okr := counts["rchar"]
	wchar, okw := counts["wchar"]
	if !okr || !okw {
		t.Fatalf("no rchar and wchar in /proc/PID/io (a kernel without task I/O accounting?):\n%s", out)
	}
	t.Logf("image %d bytes: inspect read %d (%.2fx), wrote %d (%.2fx)", size, rchar, float64(rchar)/float64(size), wchar, float64(wchar)/float64(size))
	if rchar > size*9/4 {
		t.Errorf("inspect docker-daemon: read %d bytes for an image of %d (%.2fx), want at most 2.25x", rchar, size, float64(rchar)/float64(size))
	}
	if wchar > size*5/4 {
		t.Errorf("inspect docker-daemon: wrote %d bytes for an image of %d (%.2fx), want at most 1.25x", wchar, size, float64(wchar)/float64(size))
	}
}

// TestBareName: a bare name is looked for in the Docker engine first, then
// in a registry; one that is in neither says both places in one line. A
// reference that names its registry (127.0.0.1:PORT/name) goes to that
// registry alone. An HTTPS proxy that refuses every connection stands for
// Docker Hub, which this machine cannot reach.
func TestBareName(t *testing.T) {
	requireDocker(t)
	bin := fromscratchBin(t)
	dir := t.TempDir()
	hub := []string{"HTTPS_PROXY=http://127.0.0.1:1", "HTTP_PROXY=http://127.0.0.1:1", "NO_PROXY="}

	// Only in the engine: the name as docker build tagged it.
	tag := squashDockerBuild(t, "refs-daemon-bare", refsLayered)
	var bare, daemon inspectJSON
	out := mustRunIn(t, dir, hub, "inspect", "--json", tag)
	if err := json.Unmarshal([]byte(out), &bare); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(run(t, "", bin, "inspect", "--json", "docker-daemon:"+tag)), &daemon)
	if len(bare.Layers) != 4 || len(daemon.Layers) != 4 || bare.Layers[3].Digest != daemon.Layers[3].Digest {
		t.Errorf("inspect %s: %+v; docker-daemon: %+v", tag, bare.Layers, daemon.Layers)
	}
	mustRunIn(t, dir, hub, "ldd", "--root", tag, "/bin/busybox")

	// Only in a registry, named with its address.
	reg := startRegistry(t)
	ref := reg + "/fromscratch-test/refs-daemon-env:1"
	mustRunIn(t, dir, nil, "build", "--insecure", "--push", ref, "/usr/bin/env")
	if _, _, err := runErr("", "docker", "image", "inspect", ref); err == nil {
		t.Fatalf("%s is in the engine too", ref)
	}
	var r inspectJSON
	if err := json.Unmarshal([]byte(mustRunIn(t, dir, []string{"DOCKER_HOST=unix:///nonexistent"}, "inspect", "--json", "--insecure", ref)), &r); err != nil {
		t.Fatal(err)
	}
	if r.Entrypoint.Path != "/usr/bin/env" {
		t.Errorf("inspect %s: entrypoint %+v", ref, r.Entrypoint)
	}

	// Nowhere: both places tried, one line, exit 2.
	nowhere := uniqueTag("refs-daemon-nowhere")
	_, stderr, code := runIn(t, dir, hub, "inspect", nowhere)
	want := "fromscratch: " + nowhere + ": not in the Docker engine (unix:///var/run/docker.sock); not in the registry index.docker.io: "
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		want = strings.Replace(want, "unix:///var/run/docker.sock", h, 1)
	}
	if code != 2 || !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("inspect %s: exit %d, stderr %q; want exit 2, one line %q...", nowhere, code, stderr, want)
	}
	_, stderr, code = runIn(t, dir, hub, "ldd", "--root", nowhere, "/bin/sh")
	if code != 2 || !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("ldd --root %s: exit %d, stderr %q; want exit 2, one line %q...", nowhere, code, stderr, want)
	}
	_, stderr, code = runIn(t, dir, append(hub, "DOCKER_HOST=unix:///nonexistent"), "inspect", nowhere)
	want = "fromscratch: " + nowhere + ": no Docker engine answered (unix:///nonexistent); not in the registry index.docker.io: "
	if code != 2 || !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("inspect %s with no engine: exit %d, stderr %q; want exit 2, one line %q...", nowhere, code, stderr, want)
	}
}
