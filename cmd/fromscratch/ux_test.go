package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildFollowsLinks: a directory asked for brings the targets of the
// symbolic links inside it (Debian's /usr/lib/ssl is links into /etc/ssl),
// so openssl finds its configuration and certificates in the image.
func TestBuildFollowsLinks(t *testing.T) {
	requireDocker(t)
	requireTool(t, "openssl")
	requireFile(t, "/usr/lib/ssl/openssl.cnf")
	tag := buildAndLoad(t, "ux-ssl", "openssl", "/usr/lib/ssl")
	if out := dockerRun(t, "", tag, "version", "-d"); !strings.Contains(out, `"/usr/lib/ssl"`) {
		t.Errorf("openssl version -d = %q", out)
	}
	// req reads openssl.cnf: through the link, from /etc/ssl.
	out, stderr, err := runErr("", "docker", "run", "--rm", tag, "req", "-new", "-x509", "-nodes", "-subj", "/CN=fromscratch",
		"-keyout", "/tmp/key.pem", "-out", "/dev/stdout")
	if err != nil || !strings.Contains(out, "BEGIN CERTIFICATE") {
		t.Errorf("openssl req in the image = %v\nstdout: %s\nstderr: %s", err, out, stderr)
	}
	// The certificates the certs link names came too.
	if out := dockerRun(t, "", tag, "x509", "-noout", "-subject", "-in", "/usr/lib/ssl/cert.pem"); !strings.Contains(out, "subject") {
		t.Errorf("openssl x509 -in /usr/lib/ssl/cert.pem = %q", out)
	}
}

// TestBuildLinkOutOfRoot: a link in an added directory that leads nowhere
// in the root is kept and named in a warning; one that leads to a
// directory above it does not add the root.
func TestBuildLinkOutOfRoot(t *testing.T) {
	bin := fromscratchBin(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	for _, p := range append(hostClosure(t, "/bin/true"), "/bin/true") {
		copyHostPath(t, root, p)
	}
	mkdir(t, filepath.Join(root, "data"))
	writeFile(t, root, "etc/app.conf", "x\n")
	symlink(t, "/etc/app.conf", filepath.Join(root, "data/app.conf"))
	symlink(t, "/nowhere", filepath.Join(root, "data/dangling"))
	symlink(t, "..", filepath.Join(root, "data/up"))
	tar := filepath.Join(dir, "img.tar")
	_, stderr, code := runFromscratch(t, bin, "build", "--root", root, "-o", tar, "/bin/true", "/data")
	if code != 0 || !strings.Contains(stderr, "/data/dangling -> /nowhere") {
		t.Fatalf("build = %d, stderr %q", code, stderr)
	}
	layers, err := archiveImage(t, tar).Layers()
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, l := range layers {
		for _, p := range layerPaths(t, l) {
			paths[strings.TrimPrefix(p, "/")] = true
		}
	}
	for _, p := range []string{"etc/app.conf", "data/app.conf", "data/dangling", "data/up"} {
		if !paths[p] {
			t.Errorf("%s not in the image: %v", p, paths)
		}
	}
	if len(paths) > 30 {
		t.Errorf("data/up -> .. added the root: %d paths", len(paths))
	}
}
