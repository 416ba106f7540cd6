package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// layoutManifest returns the manifest of the only image of the layout at
// dir, and the path of a blob of it.
func layoutManifest(t *testing.T, dir string) (*v1.Manifest, func(v1.Hash) string) {
	t.Helper()
	blob := func(h v1.Hash) string { return filepath.Join(dir, "blobs", h.Algorithm, h.Hex) }
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("index.json: %v, %d manifests", err, len(im.Manifests))
	}
	raw, err = os.ReadFile(blob(im.Manifests[0].Digest))
	if err != nil {
		t.Fatal(err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return m, blob
}

// replaceSame replaces old with new (of the same length) in the file p,
// once.
func replaceSame(t *testing.T, p, old, new string) {
	t.Helper()
	if len(old) != len(new) {
		t.Fatalf("%q and %q differ in length", old, new)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s holds no %q", p, old)
	}
	b = bytes.Replace(b, []byte(old), []byte(new), 1)
	// Blobs may be read-only, or hard links shared with another layout.
	os.Remove(p)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLayoutTamperedBlobs: an OCI layout whose config or layer was replaced
// by other bytes of the same size (a changed entrypoint, a changed
// /etc/passwd in a plain tar layer: both still parse) is refused by every
// command that reads it, with one line and exit 2, before any of its bytes
// is used.
func TestLayoutTamperedBlobs(t *testing.T) {
	bin := fromscratchBin(t)
	good := filepath.Join(t.TempDir(), "layout")
	// Plain tar layers: a changed byte in a file still makes a valid layer.
	run(t, "", bin, "build", "--oci-layout", good, "--level", "0", "-t", "jq:tamper", "/usr/bin/jq")

	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, m *v1.Manifest, blob func(v1.Hash) string)
	}{
		{"config", func(t *testing.T, m *v1.Manifest, blob func(v1.Hash) string) {
			replaceSame(t, blob(m.Config.Digest), `"/usr/bin/jq"`, `"/usr/bin/sh"`)
		}},
		{"layer", func(t *testing.T, m *v1.Manifest, blob func(v1.Hash) string) {
			for _, l := range m.Layers {
				if b, _ := os.ReadFile(blob(l.Digest)); bytes.Contains(b, []byte("root:x:0:0:")) {
					replaceSame(t, blob(l.Digest), "root:x:0:0:", "toor:x:0:0:")
					return
				}
			}
			t.Fatal("no layer holds /etc/passwd")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "layout")
			run(t, "", "cp", "-a", good, dir)
			m, blob := layoutManifest(t, dir)
			tc.tamper(t, m, blob)
			ref := "oci-layout:" + dir
			out := t.TempDir()
			for _, args := range [][]string{
				{"inspect", ref},
				{"doctor", ref},
				{"squash", "-o", filepath.Join(out, "squashed.tar"), ref},
				{"slim", "-o", filepath.Join(out, "slim.tar"), ref},
				{"ldd", "--root", ref, "/usr/bin/jq"},
			} {
				stdout, stderr, code := runFromscratch(t, bin, args...)
				if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "hash to") {
					t.Errorf("%s: exit %d\nstdout: %s\nstderr: %s\nwant exit 2 and one line saying the blob does not hash to its digest", args[0], code, stdout, stderr)
				}
				if strings.Contains(stdout, "/usr/bin/sh") {
					t.Errorf("%s printed the tampered entrypoint:\n%s", args[0], stdout)
				}
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Errorf("squash or slim wrote %v from the tampered layout", ents)
			}
		})
	}
}

// writeHashed writes the file p from parts (each written n times) and
// returns its digest and size, without holding it in memory.
func writeHashed(t *testing.T, p string, parts ...any) (string, int64) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	w := bufio.NewWriterSize(f, 1<<20)
	var size int64
	for i := 0; i < len(parts); i += 2 {
		s, n := parts[i].(string), parts[i+1].(int)
		for j := 0; j < n; j++ {
			w.WriteString(s)
			h.Write([]byte(s))
			size += int64(len(s))
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), size
}

// runMaxRSS runs fromscratch and returns its stderr, exit code and peak
// resident memory in MB.
func runMaxRSS(t *testing.T, bin string, args ...string) (string, int, int64) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := exitStatus(err)
	if cmd.ProcessState == nil {
		t.Fatalf("%v: %v", args, err)
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss >> 10
	return stderr.String(), code, rss
}

// TestLayoutHugeJSON: a layout's index.json, manifest or config of 100 MB
// (valid JSON, with the right digest), or an archive's manifest.json or
// config, is refused with one line and exit 2, and memory stays low;
// go-containerregistry's layout and tarball packages parse them in
// gigabytes.
func TestLayoutHugeJSON(t *testing.T) {
	bin := fromscratchBin(t)
	const hugeJSON = 100 << 20
	const chunk = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // 64 bytes
	// repeat is how many chunks the JSON file named which gets.
	repeat := func(which, file string) int {
		if which == file {
			return hugeJSON / len(chunk)
		}
		return 1
	}
	// layout writes a layout of one image with no layer whose file named
	// which ("config", "manifest" or "index") is 100 MB: a long string.
	layout := func(t *testing.T, dir, which string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
		tmp := filepath.Join(dir, "tmp")
		blob := func(digest string) {
			if err := os.Rename(tmp, filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))); err != nil {
				t.Fatal(err)
			}
		}
		cfgDigest, cfgSize := writeHashed(t, tmp, `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Env":["A=`, 1,
			chunk, repeat(which, "config"), `"]}}`, 1)
		blob(cfgDigest)
		manDigest, manSize := writeHashed(t, tmp, fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[],"annotations":{"a":"`, cfgDigest, cfgSize), 1,
			chunk, repeat(which, "manifest"), `"}}`, 1)
		blob(manDigest)
		writeHashed(t, filepath.Join(dir, "index.json"), fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d}],"annotations":{"a":"`, manDigest, manSize), 1,
			chunk, repeat(which, "index"), `"}}`, 1)
	}
	// archive writes a docker archive of one gzip layer (so that the tarball
	// package would read it) whose manifest.json or config is 100 MB.
	archive := func(t *testing.T, p, which string) {
		t.Helper()
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		bw := bufio.NewWriterSize(f, 1<<20)
		tw := tar.NewWriter(bw)
		put := func(name string, parts ...any) {
			var size int64
			for i := 0; i < len(parts); i += 2 {
				size += int64(len(parts[i].(string)) * parts[i+1].(int))
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644}); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(parts); i += 2 {
				for j := 0; j < parts[i+1].(int); j++ {
					if _, err := tw.Write([]byte(parts[i].(string))); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		layer := malGzip(t, malTar(t, malFile("x", "x")))
		sum := sha256.Sum256(malTar(t, malFile("x", "x")))
		put("layer.tar.gz", string(layer), 1)
		put("config.json", `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:`+hex.EncodeToString(sum[:])+`"]},"config":{"Env":["A=`, 1,
			chunk, repeat(which, "archive-config"), `"]}}`, 1)
		put("manifest.json", `[{"Config":"config.json","RepoTags":["huge:1"],"Layers":["layer.tar.gz"],"X":"`, 1,
			chunk, repeat(which, "archive-manifest"), `"}]`, 1)
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	base := t.TempDir()
	for _, which := range []string{"config", "manifest", "index", "archive-config", "archive-manifest"} {
		t.Run(which, func(t *testing.T) {
			dir := filepath.Join(base, which)
			ref := "oci-layout:" + dir
			if strings.HasPrefix(which, "archive") {
				os.Mkdir(dir, 0o755)
				archive(t, filepath.Join(dir, "huge.tar"), which)
				ref = "docker-archive:" + filepath.Join(dir, "huge.tar")
			} else {
				layout(t, dir, which)
			}
			defer os.RemoveAll(dir)
			start := time.Now()
			stderr, code, rss := runMaxRSS(t, bin, "inspect", ref)
			t.Logf("inspect of a layout with a 100 MB %s: exit %d, %s, %d MB: %s", which, code, time.Since(start).Round(time.Millisecond), rss, strings.TrimSpace(stderr))
			if code != 2 || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want exit 2 and one line", code, stderr)
			}
			if rss > 100 {
				t.Errorf("peak memory %d MB, want under 100 MB", rss)
			}
		})
	}
}
