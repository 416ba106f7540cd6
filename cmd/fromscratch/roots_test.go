package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestBuildRootImageArchive builds jq from the host, then from that image
// (--root docker-archive:A.tar): the two images are one, digest for digest.
// Building from an image's view loses nothing of what a directory gives:
// nor does a debug build with time zones and CA certificates, whose busybox
// and data files the view does not hold until the build reads them.
func TestBuildRootImageArchive(t *testing.T) {
	requireFile(t, "/usr/bin/jq")
	bin := fromscratchBin(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.tar"), filepath.Join(dir, "b.tar")
	first := run(t, "", bin, "build", "-o", a, "/usr/bin/jq")
	second := run(t, "", bin, "build", "--root", "docker-archive:"+a, "-o", b, "/usr/bin/jq")
	if first != second || !strings.HasPrefix(first, "sha256:") {
		t.Errorf("built from the host: %q; from that image: %q", first, second)
	}

	requireFile(t, "/bin/busybox")
	extras := []string{"--tzdata", "--ca-certs", "/usr/bin/curl"}
	run(t, "", bin, append([]string{"build", "-o", a, "--add", "/bin/busybox:/bin/busybox"}, extras...)...)
	first = run(t, "", bin, append([]string{"build", "-o", b, "--debug"}, extras...)...)
	second = run(t, "", bin, append([]string{"build", "--root", "docker-archive:" + a, "-o", b, "--debug"}, extras...)...)
	if first != second {
		t.Errorf("--debug built from the host: %q; from an image of its files: %q", first, second)
	}
}

// TestBuildRootErrors: a root that cannot serve the build says so in one
// line, exit 2.
func TestBuildRootErrors(t *testing.T) {
	requireFile(t, "/usr/bin/jq")
	bin := fromscratchBin(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "jq.tar")
	run(t, "", bin, "build", "-o", img, "/usr/bin/jq")
	other := "linux/arm64"
	if runtime.GOARCH == "arm64" {
		other = "linux/amd64"
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"build", "--root", other + "=/", "-o", dir + "/x.tar", "/usr/bin/jq"}, "/usr/bin/jq: is linux/"},
		{[]string{"build", "--root", "/", "--root", other + "=/", "--oci-layout", dir + "/l", "/usr/bin/jq"}, "--root " + other + "=/: /usr/bin/jq: is linux/"},
		{[]string{"build", "--root", "/", "--root", "/", "--oci-layout", dir + "/l", "/usr/bin/jq"}, "--root / and --root /: both are linux/"},
		{[]string{"build", "--root", "/", "--root", other + "=/", "-o", dir + "/x.tar", "/usr/bin/jq"}, "-o " + dir + "/x.tar: a docker load tarball holds one platform, and 2 roots"},
		{[]string{"build", "--root", "docker-archive:" + img, "--trace", "--version", "-o", dir + "/x.tar", "/usr/bin/jq"}, "--trace: the root docker-archive:" + img + " is an image"},
		{[]string{"build", "--root", dir + "/nope", "-o", dir + "/x.tar", "/usr/bin/jq"}, dir + "/nope: no such file or directory"},
		{[]string{"trace", "--root", "docker-archive:" + img, "--", "/usr/bin/jq"}, "trace: --root docker-archive:" + img + ": an image"},
	} {
		_, stderr, err := runErr("", bin, tc.args...)
		if exitStatus(err) != 2 || !strings.HasPrefix(stderr, "fromscratch: "+tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("fromscratch %s: exit %d, stderr %q; want exit 2, one line starting %q", strings.Join(tc.args, " "), exitStatus(err), stderr, tc.want)
		}
	}
}

// pushRootImage pushes the directory root as a one-layer image of the
// platform linux/arch (rootDirImage) to ref (a registry on 127.0.0.1).
func pushRootImage(t *testing.T, root, arch, ref string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	img := rootDirImage(ctx, t, root, arch)
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithContext(ctx)); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

// rootDirImage is the directory root as a one-layer image of the platform
// linux/arch, as `docker import` would make it.
func rootDirImage(ctx context.Context, t *testing.T, root, arch string) v1.Image {
	t.Helper()
	layerTar := filepath.Join(t.TempDir(), "layer.tar")
	out, err := exec.CommandContext(ctx, "tar", "-C", root, "--exclude=./"+arm64Marker, "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./dev/*",
		"-cf", layerTar, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("tar -C %s: %v\n%s", root, err, out)
	}
	layer, err := tarball.LayerFromFile(layerTar)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestBuildRootRegistryImage builds curl from a Debian 12 image in a
// registry (the arm64 debootstrap root, pushed as 127.0.0.1:PORT/deb:12),
// never extracted: the image is the one built from the root directory,
// digest for digest, and runs in Docker (arm64 through qemu) as curl does
// in a chroot of the root.
func TestBuildRootRegistryImage(t *testing.T) {
	root := arm64DebianRoot(t)
	requireDocker(t)
	host := startRegistry(t)
	bin := fromscratchBin(t)
	ref := host + "/deb:12"
	pushRootImage(t, root, "arm64", ref)

	dir := t.TempDir()
	tag := uniqueTag("roots-curl")
	fromImage := filepath.Join(dir, "image.tar")
	got := run(t, "", bin, "build", "--insecure", "--root", ref, "-o", fromImage, "-t", tag, "/usr/bin/curl")
	want := run(t, "", bin, "build", "--root", root, "-o", filepath.Join(dir, "dir.tar"), "-t", tag, "/usr/bin/curl")
	if got != want {
		t.Errorf("built from %s: %q; from the directory it was made of: %q", ref, got, want)
	}
	// With the packages that own curl's files, and the SBOM: the package
	// database is read from the image's view as from the directory.
	for _, from := range []string{ref, root} {
		run(t, "", bin, "build", "--insecure", "--root", from, "-o", filepath.Join(dir, "pk.tar"), "--packages", "--sbom", filepath.Join(dir, "sbom-"+filepath.Base(from)+".json"), "/usr/bin/curl")
	}
	if a, b := readFile(t, filepath.Join(dir, "sbom-deb:12.json")), readFile(t, filepath.Join(dir, "sbom-"+filepath.Base(root)+".json")); !bytes.Equal(a, b) || !bytes.Contains(a, []byte(`"libcurl4"`)) {
		t.Errorf("--packages --sbom from the image and from the directory differ (or name no libcurl4):\n%.300s\n%.300s", a, b)
	}
	if cfg := imageTarConfig(t, fromImage); cfg.Architecture != "arm64" {
		t.Errorf("image platform %s/%s, want linux/arm64", cfg.OS, cfg.Architecture)
	}
	chroot, errOut, err := chrootRun(root, "", "/usr/bin/curl", "--version")
	if err != nil || !strings.Contains(chroot, "aarch64") {
		t.Fatalf("chroot %s curl --version = %v, %q\n%s", root, err, chroot, errOut)
	}
	run(t, "", "docker", "load", "-i", fromImage)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	if out := run(t, "", "docker", "run", "--rm", "--platform", "linux/arm64", tag, "--version"); out != chroot {
		t.Errorf("in Docker, curl --version printed %q; in the chroot %q", out, chroot)
	}
}

// TestBuildRootsIndex builds curl from the host root and the arm64
// debootstrap root (--root linux/amd64=/ --root linux/arm64=DIR) into one
// index pushed to a registry: it has both platforms, and each entry runs
// in Docker and prints what curl prints on its own root.
func TestBuildRootsIndex(t *testing.T) {
	if runtime.GOARCH == "arm64" {
		t.Skip("the host root is linux/arm64 too: the index needs two platforms")
	}
	hostPlat := "linux/" + runtime.GOARCH
	requireFile(t, "/usr/bin/curl")
	armRoot := arm64DebianRoot(t)
	requireDocker(t)
	host := startRegistry(t)
	bin := fromscratchBin(t)
	ref := fmt.Sprintf("%s/fromscratch-test/roots-curl:%d", host, os.Getpid())
	run(t, "", bin, "build", "--root", hostPlat+"=/", "--root", "linux/arm64="+armRoot, "--insecure", "--push", ref, "/usr/bin/curl")

	im := indexManifest(t, remoteIndex(t, ref))
	digests := map[string]v1.Hash{}
	for _, m := range im.Manifests {
		if m.Platform != nil {
			digests[m.Platform.String()] = m.Digest
		}
	}
	if len(im.Manifests) != 2 || len(digests) != 2 {
		t.Fatalf("index manifests %v, want %s and linux/arm64", digests, hostPlat)
	}
	hostOut := run(t, "", "/usr/bin/curl", "--version")
	armOut, errOut, err := chrootRun(armRoot, "", "/usr/bin/curl", "--version")
	if err != nil {
		t.Fatalf("chroot %s curl --version = %v\n%s", armRoot, err, errOut)
	}
	for plat, want := range map[string]string{hostPlat: hostOut, "linux/arm64": armOut} {
		d, ok := digests[plat]
		if !ok {
			t.Errorf("no %s in the index", plat)
			continue
		}
		entry := ref[:strings.LastIndex(ref, ":")] + "@" + d.String()
		run(t, "", "docker", "pull", "--platform", plat, entry)
		t.Cleanup(func() { exec.Command("docker", "rmi", "-f", entry).Run() })
		if got := run(t, "", "docker", "run", "--rm", "--platform", plat, entry, "--version"); got != want {
			t.Errorf("%s entry: curl --version printed %q; on its root %q", plat, got, want)
		}
	}
	if hostOut == armOut {
		t.Errorf("both roots print %q: the test cannot tell the entries apart", hostOut)
	}
}

// TestDoctorRunImageRoot: doctor --run with an image as the reference root
// names the paths that image has and the image's run lacks (iconv's gconv
// modules), and the fix, to add them to the build from that image; added
// as it says, round after round, they make an image whose run lacks
// nothing.
func TestDoctorRunImageRoot(t *testing.T) {
	requireDocker(t)
	requireFile(t, filepath.Join(gconvDir, "ISO8859-1.so"))
	bin := fromscratchBin(t)
	dir := t.TempDir()
	img, ref := filepath.Join(dir, "img.tar"), filepath.Join(dir, "ref.tar")
	run(t, "", bin, "build", "-o", ref, "--add", gconvDir+":"+gconvDir, "/usr/bin/iconv")
	root := "docker-archive:" + ref
	job := []string{"-f", "UTF-8", "-t", "ISO-8859-1"}
	build := []string{"build", "--root", root, "-o", img, "/usr/bin/iconv"}
	for round := 1; ; round++ {
		run(t, "", bin, build...)
		out, errOut, code := runFromscratchIn(t, "h\u00e9\n", append([]string{"doctor", "docker-archive:" + img, "--run", "--root", root, "--"}, job...)...)
		if code == 0 && strings.Contains(out, "ran:     exit status 0") {
			if round == 1 {
				t.Fatalf("iconv without its gconv modules ran:\n%s", out)
			}
			return
		}
		if code != 1 || !strings.Contains(out, "not in the image; "+root+" has it") || strings.Contains(out, "fromscratch trace") || round > 3 {
			t.Fatalf("round %d, %s: doctor --run --root %s: exit %d, want 1 naming the root (and no trace, which needs a directory)\nstdout: %s\nstderr: %s", round, strings.Join(build, " "), root, code, out, errOut)
		}
		var paths []string
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) > 6 && f[0] == "fromscratch" && f[1] == "build" && f[2] == "--root" && f[3] == root && f[4] == "..." && f[5] == "/usr/bin/iconv" {
				paths = f[6:]
			}
		}
		if len(paths) == 0 {
			t.Fatalf("round %d: no fix naming the paths to add from %s:\n%s", round, root, out)
		}
		build = append(build, paths...)
	}
}
