package main

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/internal/tartest"
)

// layerDigests returns the digests of the image's layers, bottom first.
func layerDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var ds []v1.Hash
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	return ds
}

// layerPaths lists the non-directory entries of a layer.
func layerPaths(t *testing.T, l v1.Layer) []string {
	t.Helper()
	var ps []string
	for h := range tartest.Layer(t, l) {
		if h.Typeflag != tar.TypeDir {
			ps = append(ps, h.Name)
		}
	}
	return ps
}

// checkDebugImage compares the plain and the debug archives: the debug
// image is the plain one's layers, same digests, plus one layer holding
// busybox, its applets and no file of the layers below (and, when records
// names a package record, a top layer of the package records holding
// it); PATH ends in :/busybox.
func checkDebugImage(t *testing.T, plainTar, debugTar, records string, want ...string) {
	t.Helper()
	plain := archiveImage(t, plainTar)
	dbg := archiveImage(t, debugTar)
	pd, dd := layerDigests(t, plain), layerDigests(t, dbg)
	more := 1
	if records != "" {
		more = 2
	}
	if len(dd) != len(pd)+more || !slices.Equal(dd[:len(pd)], pd) {
		t.Fatalf("debug image layers %v, want the plain image's %v and %d more", dd, pd, more)
	}
	layers, _ := dbg.Layers()
	if records != "" {
		if top := layerPaths(t, layers[len(layers)-1]); !slices.Contains(top, records) {
			t.Errorf("the debug image's top layer %v lacks %s", top, records)
		}
	}
	lower := map[string]bool{}
	for _, l := range layers[:len(pd)] {
		for _, p := range layerPaths(t, l) {
			lower[p] = true
		}
	}
	top := layerPaths(t, layers[len(pd)])
	for _, p := range top {
		if lower[p] {
			t.Errorf("debug layer repeats %s from a lower layer", p)
		}
	}
	for _, w := range append([]string{"busybox/busybox", "busybox/sh", "busybox/ls"}, want...) {
		if !slices.Contains(top, w) {
			t.Errorf("debug layer lacks %s", w)
		}
	}
	cf, err := dbg.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(cf.Config.Env, func(e string) bool { return strings.HasPrefix(e, "PATH=") && strings.HasSuffix(e, ":/busybox") }) {
		t.Errorf("debug image env %v: PATH does not end in :/busybox", cf.Config.Env)
	}
}

// TestBuildDebug: --debug --debug-tools strace on a dynamic program (jq)
// and on a Go program: a shell and strace run in the image, and the layers
// below the debug layer are those of the plain image.
func TestBuildDebug(t *testing.T) {
	requireDocker(t)
	if _, err := os.Stat("/bin/busybox"); err != nil {
		requireTool(t, "busybox") // skips, or fails in CI: scripts/test installs busybox-static
	}
	requireTool(t, "strace")
	dir := goModule(t, "hello", goServer)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"jq", []string{"/usr/bin/jq"}},
		{"go", []string{"--go", "./cmd/hello"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			plainTar, debugTar := filepath.Join(tmp, "plain.tar"), filepath.Join(tmp, "debug.tar")
			tag := uniqueTag("debug-" + tc.name)
			// Without the package records: the debug layer on top.
			bare := filepath.Join(tmp, "bare.tar")
			mustRunIn(t, dir, nil, append([]string{"build", "-o", bare, "-t", tag, "--no-package-records"}, tc.args...)...)
			mustRunIn(t, dir, nil, append([]string{"build", "-o", debugTar, "-t", tag, "--no-package-records", "--debug", "--debug-tools", "strace"}, tc.args...)...)
			checkDebugImage(t, bare, debugTar, "", "usr/bin/strace")
			// With them (the default): the plain image's records stay
			// under the debug layer, those of strace's packages go on top.
			mustRunIn(t, dir, nil, append([]string{"build", "-o", plainTar, "-t", tag}, tc.args...)...)
			mustRunIn(t, dir, nil, append([]string{"build", "-o", debugTar, "-t", tag, "--debug", "--debug-tools", "strace"}, tc.args...)...)
			checkDebugImage(t, plainTar, debugTar, "var/lib/dpkg/status.d/strace", "usr/bin/strace")

			run(t, "", "docker", "load", "-i", debugTar)
			t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
			out := dockerRun(t, "", "--entrypoint", "/busybox/sh", tag, "-c", "ls / && strace -V")
			if !strings.Contains(out, "busybox\n") || !strings.Contains(out, "strace -- version") {
				t.Errorf("ls / && strace -V printed:\n%s", out)
			}
			// strace works in the container: it traces a busybox applet.
			out = dockerRun(t, "", "--user", "0", "--cap-add", "SYS_PTRACE", "--entrypoint", "/busybox/sh", tag, "-c", "strace -f -e trace=execve true 2>&1")
			if !strings.Contains(out, "execve(") {
				t.Errorf("strace -e trace=execve true printed:\n%s", out)
			}
		})
	}
}

// TestBuildDebugBusybox: a root without /bin/busybox needs --busybox; a
// dynamic busybox is refused; --busybox takes a host file.
func TestBuildDebugBusybox(t *testing.T) {
	requireFile(t, "/bin/busybox") // busybox-static
	requireTool(t, "ldd")
	root := t.TempDir()
	copyHostPath(t, root, "/usr/bin/jq")
	for _, p := range hostClosure(t, "/usr/bin/jq") {
		copyHostPath(t, root, p)
	}
	out := filepath.Join(t.TempDir(), "x.tar")
	_, errOut, code := runIn(t, "", nil, "build", "--root", root, "-o", out, "--debug", "/usr/bin/jq")
	if code != 2 || !strings.Contains(errOut, "bin/busybox") || !strings.Contains(errOut, "--busybox") {
		t.Errorf("no busybox in the root: exit %d, stderr %q; want 2 and a hint at --busybox", code, errOut)
	}
	_, errOut, code = runIn(t, "", nil, "build", "--root", root, "-o", out, "--debug", "--busybox", "/usr/bin/jq", "/usr/bin/jq")
	if code != 2 || !strings.Contains(errOut, "not statically linked") {
		t.Errorf("a dynamic busybox: exit %d, stderr %q; want 2, not statically linked", code, errOut)
	}
	mustRunIn(t, "", nil, "build", "--root", root, "-o", out, "--debug", "--busybox", "/bin/busybox", "/usr/bin/jq")
	img := archiveImage(t, out)
	if got := string(fileFromImage(t, img, "busybox/busybox")); len(got) < 100000 {
		t.Errorf("busybox/busybox is %d bytes", len(got))
	}
}
