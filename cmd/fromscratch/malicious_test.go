package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fromscratch/fromscratch/internal/tartest"
)

// malEntry is one crafted entry.
type malEntry struct {
	hdr  tar.Header
	body string
}

func malFile(name, body string) malEntry {
	return malEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, body: body}
}
func malDir(name string) malEntry {
	return malEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
}
func malSymlink(name, target string) malEntry {
	return malEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}
func malHardlink(name, target string) malEntry {
	return malEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644}}
}

// malTar writes entries as a tar.
func malTar(t *testing.T, entries ...malEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := e.hdr
		h.ModTime = time.Unix(0, 0)
		if h.Format == tar.FormatUnknown {
			h.Format = tar.FormatPAX
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("tar.WriteHeader(%q) = %v", h.Name, err)
		}
		if e.body != "" {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func malGzip(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// malLayout writes an OCI image layout at dir by hand, with the gzip
// layer blobs as given (so a truncated or corrupt blob stays so) and diff
// IDs from the uncompressed tars.
func malLayout(t *testing.T, dir string, tars [][]byte, blobs [][]byte) {
	t.Helper()
	put := func(b []byte) string {
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		p := filepath.Join(dir, "blobs", "sha256", h)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return "sha256:" + h
	}
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int    `json:"size"`
	}
	var layers []desc
	var diffIDs []string
	for i, b := range blobs {
		layers = append(layers, desc{"application/vnd.oci.image.layer.v1.tar+gzip", put(b), len(b)})
		sum := sha256.Sum256(tars[i])
		diffIDs = append(diffIDs, "sha256:"+hex.EncodeToString(sum[:]))
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Entrypoint": []string{"/x"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	cd := desc{"application/vnd.oci.image.config.v1+json", put(cfg), len(cfg)}
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": cd, "layers": layers})
	md := desc{"application/vnd.oci.image.manifest.v1+json", put(man), len(man)}
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []desc{md}})
	os.WriteFile(filepath.Join(dir, "index.json"), idx, 0o644)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
}

// TestMaliciousLayers feeds crafted layers to inspect, squash and ldd
// --root: each gives one clear line and exit 2, or a result confined to the
// image (checked in the squashed layer); nothing is created outside the
// test's directory and nothing panics.
func TestMaliciousLayers(t *testing.T) {
	bin := fromscratchBin(t)
	base := t.TempDir()
	canary := filepath.Join(base, "canary")
	tmp := filepath.Join(base, "tmp")
	for _, d := range []string{canary, tmp} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A name unique to this run, so a write outside the image would be
	// seen at the host root too.
	evil := fmt.Sprintf("fromscratch-evil-%d", os.Getpid())
	okBase := malTar(t, malDir("etc/"), malFile("etc/passwd", "root:x:0:0::/:/x\n"), malFile("x", "#!/bin/sh\n"))
	truncated := malGzip(t, malTar(t, malFile("a", strings.Repeat("a", 100000))))

	tests := []struct {
		name   string
		layers [][]byte // uncompressed tars; nil entry: use blob
		blob   []byte   // a raw blob for the last layer instead
		// wantErr is a substring of the one-line error; "" means the
		// image is accepted and wantPaths must be in the squashed layer.
		wantErr   string
		wantPaths []string
		notPaths  []string
	}{
		{name: "traversal", layers: [][]byte{malTar(t, malFile("../../"+evil, "x"), malFile("../canary/"+evil, "x"))},
			wantPaths: []string{evil, "canary/" + evil}},
		{name: "absolute", layers: [][]byte{malTar(t, malFile("/etc/"+evil, "x"), malFile("/tmp/../../"+evil+"2", "x"))},
			wantPaths: []string{"etc/" + evil, evil + "2"}},
		{name: "symlink-root-escape", layers: [][]byte{malTar(t, malSymlink("a", "/"), malFile("a/etc/"+evil, "x"))},
			wantPaths: []string{"a", "etc/" + evil}, notPaths: []string{"a/etc/" + evil}},
		{name: "symlink-dotdot-escape", layers: [][]byte{malTar(t, malSymlink("a", "../.."), malFile("a/"+evil, "x"))},
			wantPaths: []string{evil}},
		{name: "symlink-escape-across-layers", layers: [][]byte{malTar(t, malSymlink("a", canary)), malTar(t, malFile("a/"+evil, "x"))},
			wantPaths: []string{"a", strings.TrimPrefix(canary, "/") + "/" + evil}},
		{name: "hardlink-escape-missing", layers: [][]byte{malTar(t, malHardlink("h", "../../etc/shadow"))}, wantErr: "invalid hard link"},
		{name: "hardlink-escape-confined", layers: [][]byte{okBase, malTar(t, malHardlink("h", "../../etc/passwd"))},
			wantPaths: []string{"h", "etc/passwd"}},
		{name: "hardlink-to-dir", layers: [][]byte{malTar(t, malDir("d/"), malHardlink("h", "d"))}, wantErr: "is a directory"},
		{name: "whiteout-dotdot", layers: [][]byte{okBase, malTar(t, malFile("etc/.wh...", ""))}, wantErr: "invalid whiteout"},
		{name: "whiteout-empty", layers: [][]byte{okBase, malTar(t, malFile(".wh.", ""))}, wantErr: "invalid whiteout"},
		{name: "whiteout-dot", layers: [][]byte{okBase, malTar(t, malFile("etc/.wh..", ""))}, wantErr: "invalid whiteout"},
		{name: "device-nodes", layers: [][]byte{malTar(t,
			malEntry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3}},
			malEntry{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "dev/sda", Mode: 0o660, Devmajor: 8}},
			malEntry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 0o644}})},
			wantPaths: []string{"dev/null", "dev/sda", "fifo"}},
		{name: "duplicate-types", layers: [][]byte{malTar(t, malFile("p", "file"), malDir("p/"), malFile("p/q", "q"), malDir("d/"), malFile("d/c", "c"), malFile("d", "now a file"))},
			wantPaths: []string{"p/", "p/q", "d"}, notPaths: []string{"d/c", "d/"}},
		{name: "file-under-file", layers: [][]byte{malTar(t, malFile("f", "x"), malFile("f/g", "y"))}, wantErr: "parent is not a directory"},
		{name: "symlink-loop-parent", layers: [][]byte{malTar(t, malSymlink("l", "l"), malFile("l/x", "y"))}, wantErr: "too many levels of symbolic links"},
		{name: "truncated-gzip", layers: [][]byte{nil}, blob: truncated[:len(truncated)/2], wantErr: "unexpected EOF"},
		{name: "not-gzip", layers: [][]byte{nil}, blob: []byte("\x1f\x8bthis is not gzip"), wantErr: "corrupt layer"},
		{name: "huge-pax-header", layers: [][]byte{malHugePAX(2 << 20)}, wantErr: "corrupt layer"},
		{name: "huge-size", layers: [][]byte{nil}, blob: malGzip(t, malHugeSize(t)), wantErr: "unexpected EOF"},
		{name: "root-replaced", layers: [][]byte{malTar(t, malFile(".", "x"))}, wantErr: "root replaced"},
		{name: "long-name", layers: [][]byte{malTar(t, malFile(strings.Repeat("a/", 3000)+"x", "y"))}, wantErr: "name of"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			layout := filepath.Join(base, "in-"+tc.name)
			var tars, blobs [][]byte
			for _, l := range tc.layers {
				if l == nil {
					tars = append(tars, []byte{})
					blobs = append(blobs, tc.blob)
					continue
				}
				tars = append(tars, l)
				blobs = append(blobs, malGzip(t, l))
			}
			malLayout(t, layout, tars, blobs)
			ref := "oci-layout:" + layout
			out := filepath.Join(base, "out-"+tc.name+".tar")
			cli := cliRun{bin: bin, dir: base, env: []string{"TMPDIR=" + tmp}}
			for _, args := range [][]string{
				{"inspect", ref},
				{"squash", "-o", out, ref},
				{"ldd", "--root", ref, "/x"},
			} {
				stdout, stderr, code := cli.run(t, args...)
				if tc.wantErr != "" {
					if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, tc.wantErr) {
						t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line with %q", args, code, stderr, tc.wantErr)
					}
					if args[0] != "ldd" && !strings.Contains(stderr, "layer ") {
						t.Errorf("%v: stderr %q does not name the layer", args, stderr)
					}
					continue
				}
				if args[0] != "ldd" && code != 0 {
					t.Errorf("%v: exit %d, stderr %q; want 0", args, code, stderr)
				}
				_ = stdout
			}
			if tc.wantErr == "" {
				names := malSquashedNames(t, out)
				for _, p := range tc.wantPaths {
					if !names[p] {
						t.Errorf("squashed layer lacks %q; has %v", p, names)
					}
				}
				for _, p := range tc.notPaths {
					if names[p] {
						t.Errorf("squashed layer has %q", p)
					}
				}
			} else if _, err := os.Stat(out); err == nil {
				t.Errorf("squash failed but wrote %s", out)
			}
		})
	}
	// Nothing escaped: the canary directory is empty, no evil file at the
	// host's root or /etc, and the temporary directory was cleaned.
	for _, d := range []string{canary, tmp} {
		if ents, _ := os.ReadDir(d); len(ents) > 0 {
			t.Errorf("%s is not empty: %v", d, ents)
		}
	}
	for _, p := range []string{"/" + evil, "/" + evil + "2", "/etc/" + evil, filepath.Join(filepath.Dir(base), evil)} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was created outside the test's directory", p)
			os.Remove(p)
		}
	}
}

// malHugePAX is a PAX extended header of n bytes (archive/tar's writer
// refuses to make one over 1 MiB), then a file, then the end.
func malHugePAX(n int) []byte {
	rec := func(k, v string) string {
		body := " " + k + "=" + v + "\n"
		l := len(body) + 1
		for l != len(fmt.Sprint(l))+len(body) {
			l = len(fmt.Sprint(l)) + len(body)
		}
		return fmt.Sprint(l) + body
	}
	data := rec("comment", strings.Repeat("x", n))
	var b bytes.Buffer
	b.Write(malUstar("PaxHeaders/big", 'x', int64(len(data))))
	b.WriteString(data)
	b.Write(make([]byte, (512-len(data)%512)%512))
	b.Write(malUstar("big", '0', 0))
	b.Write(make([]byte, 1024))
	return b.Bytes()
}

// malUstar is one ustar header block.
func malUstar(name string, typ byte, size int64) []byte {
	h := make([]byte, 512)
	copy(h[0:], name)
	copy(h[100:], "0000644\x00")
	copy(h[108:], "0000000\x00")
	copy(h[116:], "0000000\x00")
	copy(h[124:], fmt.Sprintf("%011o\x00", size))
	copy(h[136:], "00000000000\x00")
	h[156] = typ
	copy(h[257:], "ustar\x0000")
	copy(h[148:], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:], fmt.Sprintf("%06o\x00 ", sum))
	return h
}

// malHugeSize is a header claiming 2^40 bytes with none after it.
func malHugeSize(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "huge", Mode: 0o644, Size: 1 << 40, Format: tar.FormatPAX}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes() // no content, no end
}

// malSquashedNames returns the entry names of the squashed layer of a
// one-layer docker-archive (directories keep their trailing "/").
func malSquashedNames(t *testing.T, archive string) map[string]bool {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatalf("squash wrote no archive: %v", err)
	}
	defer f.Close()
	names := map[string]bool{}
	for hdr, r := range tartest.Entries(t, f) {
		if !strings.HasSuffix(hdr.Name, ".tar.gz") && !strings.HasSuffix(hdr.Name, ".tar") {
			continue
		}
		// Plain tar (squash -o's default) or gzip (--level N).
		br := bufio.NewReader(r)
		var layer io.Reader = br
		if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
			zr, err := gzip.NewReader(br)
			if err != nil {
				t.Fatal(err)
			}
			layer = zr
		}
		for h := range tartest.Entries(t, layer) {
			names[h.Name] = true
		}
	}
	return names
}
