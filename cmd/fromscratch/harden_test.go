package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fromscratch/fromscratch/internal/elfcraft"
)

// runMeasured runs fromscratch with args and returns its stderr, exit
// code, CPU time (user and system) and peak resident memory.
func runMeasured(t *testing.T, args ...string) (string, int, time.Duration, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, fromscratchBin(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("fromscratch %s: %v", strings.Join(args, " "), ctx.Err())
	}
	code := 0
	if err != nil {
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() < 0 {
			t.Fatalf("fromscratch %s = %v\nstderr: %s", strings.Join(args, " "), err, stderr.String())
		}
		code = cmd.ProcessState.ExitCode()
	}
	if s := stderr.String(); strings.Contains(s, "panic") || strings.Contains(s, "goroutine ") {
		t.Fatalf("fromscratch %s panicked:\n%s", strings.Join(args, " "), s)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return stderr.String(), code, cpu, ru.Maxrss << 10
}

// TestLddManyNeeded: a 1.1 MB file with 65,000 DT_NEEDED entries naming
// one 65,000-byte string. Before: 40 s and 4.2 GB (every entry copied its
// string). Now one shared string: under 1 s of CPU and 200 MB.
func TestLddManyNeeded(t *testing.T) {
	s := elfcraft.Spec{Dynamic: true, Strtab: []byte("\x00" + strings.Repeat("a", 65000) + "\x00")}
	for range 65000 {
		s.Entries = append(s.Entries, elfcraft.DynEntry{Tag: elf.DT_NEEDED, Val: 1})
	}
	p := filepath.Join(t.TempDir(), "many.so")
	if err := os.WriteFile(p, s.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	stderr, code, cpu, rss := runMeasured(t, "ldd", p)
	t.Logf("ldd: exit %d, %v CPU, %d MB", code, cpu, rss>>20)
	if code != 1 {
		t.Errorf("ldd exit %d, want 1 (a library not found)\nstderr: %s", code, stderr)
	}
	if cpu > time.Second || rss > 200<<20 {
		t.Errorf("ldd took %v of CPU and %d MB, want under 1 s and 200 MB", cpu, rss>>20)
	}
}

// TestLddBadInterp: a program whose PT_INTERP the kernel refuses (empty,
// or without its final NUL) loads nothing: exit 2 naming the defect, on one
// line. Before: listed as a program without a loader, exit 0 or 1.
func TestLddBadInterp(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name   string
		interp []byte
		want   string
	}{
		{"empty", []byte{}, "malformed ELF: PT_INTERP of 0 bytes is empty at byte 0xe8"},
		{"no-nul", []byte("/lib64/ld-linux-x86-64.so.2"), "malformed ELF: PT_INTERP is not NUL-terminated at byte 0xe8"},
	} {
		s := elfcraft.Needed("", "libc.so.6")
		s.Type, s.Interp = elf.ET_EXEC, tt.interp
		p := filepath.Join(dir, tt.name)
		if err := os.WriteFile(p, s.Bytes(), 0o755); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := runFromscratch(t, fromscratchBin(t), "ldd", p)
		if want := "fromscratch: " + p + ": " + tt.want + "\n"; code != 2 || stderr != want {
			t.Errorf("ldd %s: exit %d, stderr %q; want exit 2, %q", tt.name, code, stderr, want)
		}
	}
}

// TestLddRootImageInterrupted: `ldd --root IMAGE` stops at SIGTERM (and
// SIGINT) while it reads the image, here from a registry that stalls in the
// middle of the layer, and leaves no temporary file. Before: the command
// ignored both signals and waited for the registry.
func TestLddRootImageInterrupted(t *testing.T) {
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		t.Run(sig.String(), func(t *testing.T) {
			ref, requested := stallingLayerRegistry(t)
			tmp := t.TempDir()
			cmd := exec.Command(fromscratchBin(t), "ldd", "--insecure", "--root", ref, "/bin/true")
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-requested:
			case <-time.After(time.Minute):
				cmd.Process.Kill()
				t.Fatalf("the layer was never requested; stderr %q", stderr.String())
			}
			time.Sleep(100 * time.Millisecond) // the first half of the layer is read
			start := time.Now()
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("ldd --root still running 10 s after %v", sig)
			}
			took := time.Since(start)
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			t.Logf("exit after %v: %v, %q", took, err, stderr.String())
			if code := exitStatus(err); code != 2 || len(lines) != 1 || !strings.Contains(lines[0], "signal received") || strings.Contains(lines[0], "corrupt") {
				t.Errorf("ldd --root after %v: exit %d, stderr %q; want exit 2 and one line", sig, code, stderr.String())
			}
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("left in TMPDIR: %v", ents)
			}
		})
	}
}

// stallingLayerRegistry serves, from an in-process registry, an image whose one
// layer (2 MiB) stops after its first half and never ends. requested is
// closed when the layer is first asked for.
func stallingLayerRegistry(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	img, err := random.Image(2<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	size, _ := layers[0].Size()
	requested := make(chan struct{})
	var once sync.Once
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) {
			once.Do(func() { close(requested) })
			rc, _ := layers[0].Compressed()
			defer rc.Close()
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
			io.CopyN(w, rc, size/2)
			w.(http.Flusher).Flush()
			<-r.Context().Done() // stalls until the client goes away
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ref := strings.TrimPrefix(srv.URL, "http://") + "/stall/app:latest"
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("remote.Write() = %v", err)
	}
	return ref, requested
}

// streamLayout writes an OCI layout at dir with one gzip layer whose tar
// entries write writes, streamed to disk (never held in memory), and the
// entrypoint /x.
func streamLayout(t *testing.T, dir string, write func(tw *tar.Writer) error) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "blobs", "layer.tmp")
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	gzHash, tarHash := sha256.New(), sha256.New()
	zw, _ := gzip.NewWriterLevel(io.MultiWriter(f, gzHash), gzip.BestSpeed)
	bw := bufio.NewWriterSize(io.MultiWriter(zw, tarHash), 1<<20)
	tw := tar.NewWriter(bw)
	if err := write(tw); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	zw.Close()
	st, _ := f.Stat()
	f.Close()
	layer := hex.EncodeToString(gzHash.Sum(nil))
	if err := os.Rename(tmp, filepath.Join(dir, "blobs", "sha256", layer)); err != nil {
		t.Fatal(err)
	}
	put := func(b []byte) string {
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", h), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return "sha256:" + h
	}
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int64  `json:"size"`
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Entrypoint": []string{"/x"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(tarHash.Sum(nil))}},
	})
	cd := desc{"application/vnd.oci.image.config.v1+json", put(cfg), int64(len(cfg))}
	ld := desc{"application/vnd.oci.image.layer.v1.tar+gzip", "sha256:" + layer, st.Size()}
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": cd, "layers": []desc{ld}})
	md := desc{"application/vnd.oci.image.manifest.v1+json", put(man), int64(len(man))}
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []desc{md}})
	os.WriteFile(filepath.Join(dir, "index.json"), idx, 0o644)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
}

// TestInspectManyEntries: a layer of 1,000,000 empty files (7 MB
// compressed). Before: 1,420 MB of memory in inspect (the layer's events
// held whole, a content per empty file, every file listed to find the
// largest, the collector at 400%); now about 420 MB.
func TestInspectManyEntries(t *testing.T) {
	if testing.Short() {
		t.Skip("a 1,000,000-entry layer")
	}
	dir := t.TempDir()
	streamLayout(t, dir, func(tw *tar.Writer) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "d/", Mode: 0o755, Format: tar.FormatGNU}); err != nil {
			return err
		}
		for i := range 1000000 {
			h := &tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("d/%07d", i), Mode: 0o644, Format: tar.FormatGNU}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
		}
		return nil
	})
	stderr, code, cpu, rss := runMeasured(t, "inspect", "--json", "oci-layout:"+dir)
	t.Logf("inspect: exit %d, %v CPU, %d MB", code, cpu, rss>>20)
	if code != 0 && code != 1 {
		t.Fatalf("inspect: exit %d, stderr %q", code, stderr)
	}
	if rss > 600<<20 {
		t.Errorf("inspect of 1,000,000 entries took %d MB, want under 600 MB", rss>>20)
	}
}
