package image

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fromscratch/fromscratch/rootfs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// requireDocker skips when no Docker engine answers, except where the engine
// is required (FROMSCRATCH_REQUIRE_DOCKER=1, set by scripts/test in CI):
// there a missing engine fails the test.
func requireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("Docker test skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := exec.CommandContext(ctx, "docker", "info").Run(); err != nil {
		if os.Getenv("FROMSCRATCH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("no Docker engine answers (docker info: %v)", err)
		}
		t.Skipf("no Docker engine answers (docker info: %v)", err)
	}
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker %s = %v\nstderr: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// TestDockerRun builds an image of the static busybox (Debian's
// busybox-static) and a data file, loads it with `docker load` and runs it.
func TestDockerRun(t *testing.T) {
	requireDocker(t)
	const busybox = "/bin/busybox"
	ef, err := elf.Open(busybox)
	if err != nil {
		t.Fatalf("%s (from busybox-static): %v", busybox, err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s is dynamically linked; install busybox-static", busybox)
		}
	}
	arch, variant, ok := PlatformOf(ef.Class, ef.Data, ef.Machine, 0)
	if !ok {
		t.Fatalf("no platform for %s (%v)", busybox, ef.Machine)
	}

	host, err := rootfs.Dir("/")
	if err != nil {
		t.Fatal(err)
	}
	const hello = "hello from a fromscratch layer\n"
	spec := LayerSpec{
		Entries: []Entry{
			{Path: "/bin/busybox", Type: tar.TypeReg, Mode: 0o755, Source: busybox},
			{Path: "/hello.txt", Type: tar.TypeReg, Mode: 0o644, Data: []byte(hello)},
		},
		CreatedBy: "fromscratch test: busybox",
	}
	opts := Options{Created: time.Unix(1700000000, 0)}
	l, err := Layer(host, spec, opts)
	if err != nil {
		t.Fatalf("Layer() = %v", err)
	}
	img, err := Image([]v1.Layer{l}, []LayerSpec{spec}, Config{
		Entrypoint:   []string{"/bin/busybox", "cat", "/hello.txt"},
		Architecture: arch,
		Variant:      variant,
	}, opts)
	if err != nil {
		t.Fatalf("Image() = %v", err)
	}
	tag := fmt.Sprintf("fromscratch-test/image:%d-%d", os.Getpid(), time.Now().UnixNano())
	path := filepath.Join(t.TempDir(), "busybox.tar")
	if err := WriteDockerArchive(context.Background(), path, tag, img); err != nil {
		t.Fatalf("WriteDockerArchive() = %v", err)
	}
	docker(t, "load", "-i", path)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })

	cfgName, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if id := strings.TrimSpace(docker(t, "image", "inspect", "--format", "{{.Id}}", tag)); id != cfgName.String() {
		t.Errorf("docker image ID = %s, want the config digest %s", id, cfgName)
	}
	if got := docker(t, "run", "--rm", tag); got != hello {
		t.Errorf("docker run = %q, want %q", got, hello)
	}
}
