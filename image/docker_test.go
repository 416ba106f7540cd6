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

	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/internal/testenv"
	"github.com/fromscratch/fromscratch/program"
	"github.com/fromscratch/fromscratch/rootfs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// requireDocker stops the test (see testenv.Docker) when no Docker engine
// answers; -short skips it.
func requireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("Docker test skipped in -short mode")
	}
	testenv.Docker(t)
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
	testenv.File(t, busybox)
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
	arch, variant, ok := program.Platform(&elfinfo.Info{Class: ef.Class, Data: ef.Data, Machine: ef.Machine})
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
