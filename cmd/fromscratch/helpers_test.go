package main

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/fromscratch/fromscratch/internal/tartest"
	"github.com/fromscratch/fromscratch/internal/testenv"
)

// requireDocker stops the test unless a Docker engine answers (see
// testenv.Docker: a failure in CI, a skip elsewhere).
func requireDocker(t *testing.T) {
	t.Helper()
	testenv.Docker(t)
}

var tagCounter atomic.Int64

// uniqueTag returns an image name unique to this test run.
func uniqueTag(name string) string {
	return fmt.Sprintf("fromscratch-test/%s:%d-%d", name, os.Getpid(), tagCounter.Add(1))
}

// run runs a command and returns its stdout; it fails the test on error.
func run(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	out, errOut, err := runErr(stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %s = %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// runCommand runs cmd with stdin and returns its stdout, stderr and exit
// code. A command that does not exit by itself (killed by a signal or its
// context, or not started) fails the test.
func runCommand(t *testing.T, cmd *exec.Cmd, stdin string) (string, string, int) {
	t.Helper()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := exitStatus(err)
	if code < 0 {
		t.Fatalf("%s = %v\nstderr: %s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	return stdout.String(), stderr.String(), code
}

// exitStatus is the exit code of a command that returned err: 0 for
// none, -1 if it did not exit (a signal, not started).
func exitStatus(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// cliRun is how a test runs fromscratch: bin (fromscratchBin when ""), in
// dir (the test's own when ""), with env added to the test's environment,
// stdin, as cred when set, killed after limit (5 minutes when 0).
type cliRun struct {
	bin, dir, stdin string
	env             []string
	cred            *syscall.Credential
	limit           time.Duration
}

// run runs fromscratch with args and returns stdout, stderr and the exit
// code; a run that does not exit by itself, or panics, fails the test.
func (c cliRun) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmp.Or(c.limit, 5*time.Minute))
	defer cancel()
	cmd := exec.CommandContext(ctx, cmp.Or(c.bin, fromscratchBin(t)), args...)
	cmd.Dir = c.dir
	if c.env != nil {
		cmd.Env = append(os.Environ(), c.env...)
	}
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	stdout, stderr, code := runCommand(t, cmd, c.stdin)
	if strings.Contains(stderr, "panic:") || strings.Contains(stderr, "goroutine ") {
		t.Fatalf("fromscratch %s panicked:\n%s", strings.Join(args, " "), stderr)
	}
	return stdout, stderr, code
}

func runErr(stdin string, name string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// buildAndLoad runs `fromscratch build -o TAR -t TAG args...`, loads the
// tarball into Docker and returns the tag; the image is removed at the end
// of the test.
func buildAndLoad(t *testing.T, name string, args ...string) string {
	t.Helper()
	bin := fromscratchBin(t)
	tag := uniqueTag(name)
	tar := filepath.Join(t.TempDir(), name+".tar")
	run(t, "", bin, append([]string{"build", "-o", tar, "-t", tag}, args...)...)
	run(t, "", "docker", "load", "-i", tar)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag
}

// dockerRun runs the image with args and returns its stdout.
func dockerRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	a := []string{"run", "--rm"}
	if stdin != "" {
		a = append(a, "-i")
	}
	return run(t, stdin, "docker", append(a, args...)...)
}

// gcc compiles src (C, or C++ when the compiler is g++) with args in dir.
func gcc(t *testing.T, compiler, dir, file, src string, args ...string) {
	t.Helper()
	requireTool(t, compiler)
	if err := os.WriteFile(filepath.Join(dir, file), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(compiler, append([]string{file}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v %s: %v\n%s", compiler, args, file, err, out)
	}
}

// imageFiles maps every regular file of an image (no whiteouts: the
// images here have none) to its content.
func imageFiles(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	files := map[string]string{}
	for h, r := range tartest.Image(t, img) {
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			files["/"+strings.TrimPrefix(h.Name, "/")] = string(b)
		}
	}
	return files
}

// fileFromImage returns the content of name (no leading "/") from the
// image's top layer that has it.
func fileFromImage(t *testing.T, img v1.Image, name string) []byte {
	t.Helper()
	var b []byte
	found := false
	for h, r := range tartest.Image(t, img) {
		if h.Name != name {
			continue
		}
		var err error
		if b, err = io.ReadAll(r); err != nil {
			t.Fatal(err)
		}
		found = true
	}
	if !found {
		t.Fatalf("%s not in the image", name)
	}
	return b
}

// archiveImage reads the image of the docker-archive at p.
func archiveImage(t *testing.T, p string) v1.Image {
	t.Helper()
	img, err := tarball.ImageFromPath(p, nil)
	if err != nil {
		t.Fatalf("tarball.ImageFromPath(%s) = %v", p, err)
	}
	return img
}

// layoutImage returns the one image of the OCI layout at dir.
func layoutImage(t *testing.T, dir string) v1.Image {
	t.Helper()
	idx := layoutIndex(t, dir)
	im := indexManifest(t, idx)
	if len(im.Manifests) != 1 {
		t.Fatalf("layout %s: %v: want one image", dir, im)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// layoutIndex returns the index of the OCI layout at dir (its index.json).
func layoutIndex(t *testing.T, dir string) v1.ImageIndex {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// remoteIndex returns the index a registry serves for ref.
func remoteIndex(t *testing.T, ref string) v1.ImageIndex {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r)
	if err != nil {
		t.Fatalf("remote.Index(%s) = %v", ref, err)
	}
	return idx
}

// indexManifest returns idx's manifest.
func indexManifest(t *testing.T, idx v1.ImageIndex) *v1.IndexManifest {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return im
}
