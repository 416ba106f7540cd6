package main

import (
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// faultProxy is a reverse proxy in front of a registry that injects faults:
// 500s (before the registry sees the request, or after it has done it),
// connections reset, blob uploads cut halfway (the registry gets half the
// body, the client a reset) and a slow link (1 MB/s both ways).
type faultProxy struct {
	upstream string
	rp       *httputil.ReverseProxy
	doomed   string // a repository whose manifests always get a 500

	mu     sync.Mutex
	rng    *mrand.Rand
	counts map[string]int
}

func (p *faultProxy) pick(r *http.Request) string {
	if p.doomed != "" && strings.Contains(r.URL.Path, "/"+p.doomed+"/manifests/") && r.Method == http.MethodPut {
		return "500"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	x := p.rng.Float64()
	fault := ""
	upload := (r.Method == http.MethodPatch || r.Method == http.MethodPut) && r.ContentLength != 0
	switch {
	case x < 0.05:
		fault = "500"
	case x < 0.09:
		fault = "reset"
	case x < 0.13:
		fault = "500-after"
	case x < 0.23 && upload:
		fault = "cut"
	case x < 0.31:
		fault = "slow"
	}
	p.counts[fault]++
	return fault
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p.pick(r) {
	case "500":
		io.Copy(io.Discard, r.Body)
		http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"injected"}]}`, http.StatusInternalServerError)
	case "reset":
		reset(w)
	case "500-after":
		rec := httptest.NewRecorder()
		p.rp.ServeHTTP(rec, r)
		http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"injected after"}]}`, http.StatusInternalServerError)
	case "cut":
		half := r.ContentLength / 2
		if half <= 0 {
			half = 32 << 10
		}
		out, err := http.NewRequest(r.Method, "http://"+p.upstream+r.URL.RequestURI(),
			io.MultiReader(io.LimitReader(r.Body, half), errReader{}))
		if err == nil {
			out.Header = r.Header.Clone()
			out.ContentLength = r.ContentLength
			if resp, err := http.DefaultClient.Do(out); err == nil {
				resp.Body.Close()
			}
		}
		reset(w)
	case "slow":
		r.Body = io.NopCloser(&slowLink{r: r.Body})
		p.rp.ServeHTTP(slowWriter{w}, r)
	default:
		p.rp.ServeHTTP(w, r)
	}
}

// reset closes the client's connection with a TCP reset.
func reset(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// slowLink reads 16 KiB every 16 ms: 1 MB/s.
type slowLink struct{ r io.Reader }

func (s *slowLink) Read(p []byte) (int, error) {
	time.Sleep(16 * time.Millisecond)
	if len(p) > 16<<10 {
		p = p[:16<<10]
	}
	return s.r.Read(p)
}

type slowWriter struct{ http.ResponseWriter }

func (s slowWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := min(len(p), 16<<10)
		time.Sleep(16 * time.Millisecond)
		m, err := s.ResponseWriter.Write(p[:c])
		n += m
		if err != nil {
			return n, err
		}
		p = p[c:]
	}
	return n, nil
}

func (s slowWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// TestPushUnderFaults: 20 pushes (build --push, each image its own bytes)
// through a proxy that injects faults in front of Debian's docker-registry.
// Each push either completes (the registry serves the image it printed,
// every blob checked against its digest; one is pulled and run by Docker)
// or fails with exactly one line; a tag never points at a manifest whose
// blobs are missing. One repository's manifests always fail: that push must
// fail, and leave no tag.
func TestPushUnderFaults(t *testing.T) {
	bin := fromscratchBin(t)
	upstream := startRegistry(t)
	const pushes = 20
	doomed := "harden-io/fault-19"
	p := &faultProxy{upstream: upstream, doomed: doomed, rng: mrand.New(mrand.NewSource(11)), counts: map[string]int{}}
	p.rp = httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: upstream})
	p.rp.ErrorLog = nil
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	proxy := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()

	type result struct {
		ref, out, errOut string
		code             int
		took             time.Duration
	}
	results := make([]result, pushes)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	start := time.Now()
	for i := 0; i < pushes; i++ {
		data := filepath.Join(dir, fmt.Sprintf("data%d", i))
		b := make([]byte, 512<<10)
		rand.Read(b)
		if err := os.WriteFile(data, b, 0o644); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			repo := fmt.Sprintf("harden-io/fault-%d", i)
			args := []string{"build", "--insecure", "--push", proxy + "/" + repo + ":1", "--add", data + ":/data", "/usr/bin/jq"}
			t0 := time.Now()
			out, errOut, err := runErr("", bin, args...)
			results[i] = result{repo + ":1", out, errOut, exitStatus(err), time.Since(t0)}
		}(i)
	}
	wg.Wait()
	t.Logf("%d pushes in %s; faults injected: %v", pushes, time.Since(start).Round(time.Millisecond), p.counts)

	ran := false
	completed := 0
	for i, res := range results {
		direct := upstream + "/" + res.ref
		lines := strings.Split(strings.TrimSpace(res.errOut), "\n")
		switch {
		case res.code == 0:
			completed++
			d, err := name.NewDigest(strings.Replace(strings.TrimSpace(res.out), proxy, upstream, 1), name.Insecure)
			if err != nil {
				t.Errorf("push %d printed %q: %v", i, res.out, err)
				continue
			}
			if got := checkTag(t, direct); got == "" || got != d.DigestStr() {
				t.Errorf("push %d: printed %s, the registry's tag is at %q", i, d.DigestStr(), got)
			}
			if !ran {
				ran = true
				runPulled(t, direct)
			}
		case res.code == 2 && len(lines) == 1 && lines[0] != "":
			t.Logf("push %d failed in %s: %s", i, res.took.Round(time.Millisecond), lines[0])
			checkTag(t, direct) // no tag, or a complete image
		default:
			t.Errorf("push %d: exit %d, stderr %q: want exit 0, or exit 2 and one line", i, res.code, res.errOut)
		}
		if strings.Contains(res.ref, doomed) && res.code == 0 {
			t.Errorf("the push to %s, whose manifests always fail, succeeded", doomed)
		}
		if strings.Contains(res.ref, doomed) && checkTag(t, direct) != "" {
			t.Errorf("%s is tagged though its manifest never went in", doomed)
		}
	}
	t.Logf("%d of %d pushes complete", completed, pushes)
	if completed < pushes/2 {
		t.Errorf("only %d of %d pushes complete: retries do not work", completed, pushes)
	}
}

// checkTag returns the digest the tag ref (on the registry, directly)
// points at, after checking that every blob of that image is there and
// hashes to its digest; "" when there is no such tag.
func checkTag(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(r)
	if err != nil {
		if strings.Contains(err.Error(), "MANIFEST_UNKNOWN") || strings.Contains(err.Error(), "NAME_UNKNOWN") {
			return ""
		}
		t.Errorf("%s: %v", ref, err)
		return ""
	}
	img, err := desc.Image()
	if err != nil {
		t.Errorf("%s: %v", ref, err)
		return ""
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("%s is tagged but incomplete: %v", ref, err)
	}
	return desc.Digest.String()
}

// runPulled pulls ref with Docker and runs jq in it.
func runPulled(t *testing.T, ref string) {
	t.Helper()
	requireDocker(t)
	run(t, "", "docker", "pull", ref)
	defer exec.Command("docker", "rmi", "-f", ref).Run()
	if got := dockerRun(t, `{"x":1}`, ref, ".x"); strings.TrimSpace(got) != "1" {
		t.Errorf("jq in the pushed image: %q, want 1", got)
	}
}
