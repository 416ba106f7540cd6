package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
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
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fromscratch/fromscratch/internal/testenv"
)

// startRegistry starts Debian's docker-registry on 127.0.0.1 (plain HTTP,
// storage in a temporary directory) and returns its host:port; it is
// stopped at the end of the test.
func startRegistry(t *testing.T) string {
	t.Helper()
	registry := requireTool(t, "docker-registry")
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%d\n",
		filepath.Join(dir, "data"), port)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(registry, "serve", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	host := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; i < 100; i++ {
		if resp, err := http.Get("http://" + host + "/v2/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return host
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("docker-registry did not start on %s", host)
	return ""
}

// authProxy is a plain-HTTP server in front of a registry that wants Basic
// credentials and records every request it gets.
type authProxy struct {
	host string // host:port it listens on
	mu   sync.Mutex
	reqs []string // "METHOD PATH" and " (with Authorization)" when it had one
}

// startAuthProxy listens on addr ("127.0.0.1:0") and forwards to the
// registry at upstream the requests that carry user:pass.
func startAuthProxy(t *testing.T, addr, upstream, user, pass string) *authProxy {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &authProxy{host: l.Addr().String()}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: upstream})
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := r.Method + " " + r.URL.Path
		if r.Header.Get("Authorization") != "" {
			rec += " (with Authorization)"
		}
		p.mu.Lock()
		p.reqs = append(p.reqs, rec)
		p.mu.Unlock()
		if u, pw, ok := r.BasicAuth(); !ok || u != user || pw != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="fromscratch-test"`)
			http.Error(w, "credentials wanted", http.StatusUnauthorized)
			return
		}
		r.Header.Del("Authorization")
		rp.ServeHTTP(w, r)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	return p
}

// requests returns what the proxy got so far, and how many of those had
// an Authorization header.
func (p *authProxy) requests() ([]string, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.reqs {
		if strings.HasSuffix(r, "(with Authorization)") {
			n++
		}
	}
	return append([]string(nil), p.reqs...), n
}

// dockerConfig writes a Docker config holding user:pass for each host, and
// returns the DOCKER_CONFIG=DIR setting.
func dockerConfig(t *testing.T, user, pass string, hosts ...string) string {
	t.Helper()
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	var entries []string
	for _, h := range hosts {
		entries = append(entries, fmt.Sprintf("%q: {\"auth\": %q}", h, auth))
	}
	conf := `{"auths": {` + strings.Join(entries, ", ") + `}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return "DOCKER_CONFIG=" + dir
}

// TestRegistryPlainHTTPNeedsInsecure: a registry on a loopback or private
// (RFC 1918) address that speaks only plain HTTP is not spoken to over HTTP
// without --insecure: push and inspect fail with one line, and no request,
// let alone one with the Docker config's credentials, reaches it. With
// --insecure the push goes through, credentials and all.
func TestRegistryPlainHTTPNeedsInsecure(t *testing.T) {
	upstream := startRegistry(t)
	addrs := []string{"127.0.0.1:0"}
	// The Docker bridge's address (172.17.0.1 by default) is RFC 1918.
	if ifc, err := net.InterfaceByName("docker0"); err == nil {
		if as, err := ifc.Addrs(); err == nil {
			for _, a := range as {
				if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsPrivate() {
					addrs = append(addrs, net.JoinHostPort(ipn.IP.String(), "0"))
					break
				}
			}
		}
	} else if testenv.Required() {
		t.Fatalf("no docker0 interface: %v", err)
	}
	bin := fromscratchBin(t)
	archive := filepath.Join(t.TempDir(), "jq.tar")
	run(t, "", bin, "build", "-o", archive, "-t", "jq:plain", "/usr/bin/jq")
	for _, addr := range addrs {
		t.Run(strings.Split(addr, ":")[0], func(t *testing.T) {
			p := startAuthProxy(t, addr, upstream, "fromscratch", "s3cret")
			env := []string{dockerConfig(t, "fromscratch", "s3cret", p.host)}
			ref := p.host + "/fromscratch-test/jq:plain"
			for _, args := range [][]string{
				{"squash", "--push", ref, archive},
				{"inspect", ref},
			} {
				start := time.Now()
				out, errOut, code := runIn(t, "/", env, args...)
				if code != 2 || strings.Count(errOut, "\n") != 1 || out != "" {
					t.Errorf("%v without --insecure: exit %d, stdout %q, stderr %q; want exit 2 and one line", args, code, out, errOut)
				} else if !strings.Contains(errOut, "--insecure") {
					t.Errorf("%v without --insecure: %q does not name --insecure", args, errOut)
				}
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("%v without --insecure took %s", args, d)
				}
				if reqs, withAuth := p.requests(); len(reqs) > 0 {
					t.Errorf("%v without --insecure: the plain-HTTP registry got %d requests (%d with Authorization): %v", args, len(reqs), withAuth, reqs)
				}
			}
			out := mustRunIn(t, "/", env, "squash", "--insecure", "--push", ref, archive)
			if !strings.Contains(out, "@sha256:") {
				t.Errorf("squash --insecure --push printed %q, want a digest reference", out)
			}
			if _, withAuth := p.requests(); withAuth == 0 {
				t.Errorf("with --insecure no request carried the credentials: the proxy cannot tell")
			}
			mustRunIn(t, "/", env, "inspect", "--insecure", ref)
		})
	}
}

// runWithin runs fromscratch with env added, killing it after limit, and
// returns its stdout, stderr, exit code (-1 when killed) and run time.
func runWithin(t *testing.T, limit time.Duration, env []string, args ...string) (string, string, int, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, fromscratchBin(t), args...)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	code := exitStatus(err)
	if ctx.Err() != nil {
		code = -1
	}
	return stdout.String(), stderr.String(), code, took
}

// stallingRegistry is an in-process registry (go-containerregistry's) that
// stalls: with uploads, it never reads the body of a PATCH (a blob upload)
// nor answers it; else it sends the headers and half the body of a blob over
// 64 KiB (a layer) and no more. It then waits until the client gives up.
func stallingRegistry(t *testing.T, uploads bool) string {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	quit := make(chan struct{})
	wait := func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-quit:
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case uploads && r.Method == http.MethodPatch:
			wait(r)
			return
		case uploads || r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/"):
			reg.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		if len(body) <= 64<<10 {
			w.Write(body)
			return
		}
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		wait(r)
	}))
	t.Cleanup(func() { close(quit); srv.Close() })
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestRegistryTimeouts: a registry that accepts the connection and never
// answers, that stalls in the middle of a blob, or that stops taking an
// upload, fails the command with one line within the registry timeout
// (FROMSCRATCH_REGISTRY_TIMEOUT, 1 s here), instead of hanging.
func TestRegistryTimeouts(t *testing.T) {
	bin := fromscratchBin(t)
	archive := filepath.Join(t.TempDir(), "jq.tar")
	run(t, "", bin, "build", "-o", archive, "-t", "jq:stall", "/usr/bin/jq")
	env := []string{"FROMSCRATCH_REGISTRY_TIMEOUT=1s"}

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		var held []net.Conn // accepted, never read from or written to
		for {
			c, err := silent.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()

	blobs := stallingRegistry(t, false)
	run(t, "", bin, "squash", "--insecure", "--push", blobs+"/stall/jq:1", archive)
	uploads := stallingRegistry(t, true)

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"silent", []string{"inspect", "--insecure", silent.Addr().String() + "/stall/jq:1"}},
		{"silent-push", []string{"squash", "--insecure", "--push", silent.Addr().String() + "/stall/jq:1", archive}},
		{"blob", []string{"inspect", "--insecure", blobs + "/stall/jq:1"}},
		{"upload", []string{"squash", "--insecure", "--push", uploads + "/stall/jq:1", archive}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, errOut, code, took := runWithin(t, 30*time.Second, env, tc.args...)
			if code != 2 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "FROMSCRATCH_REGISTRY_TIMEOUT") {
				t.Errorf("%v: exit %d after %s, stdout %q, stderr %q; want exit 2 and one line naming FROMSCRATCH_REGISTRY_TIMEOUT", tc.args, code, took.Round(time.Millisecond), out, errOut)
			}
			// One timeout, or a few when stalls are met one after the
			// other (the layers' downloads start together).
			if took > 8*time.Second {
				t.Errorf("%v took %s with a 1 s timeout", tc.args, took)
			}
			t.Logf("%v: %s: %s", tc.args, took.Round(time.Millisecond), strings.TrimSpace(errOut))
		})
	}
}

// TestPushSBOM pushes build, squash and slim with --sbom to Debian's
// docker-registry (distribution 2.8, which has no referrers API): the digest
// line, the summary and --json name the pushed reference REPO:TAG@DIGEST,
// and the SBOM is found back as a crane user finds it, from the tag
// sha256-HEX.sbom (cosign's and ko's) and from the referrers of the image
// (go-containerregistry reads the OCI 1.1 referrers tag sha256-HEX): an
// artifact manifest whose subject is the image and whose one layer is the
// --sbom file byte for byte.
func TestPushSBOM(t *testing.T) {
	host := startRegistry(t)
	bin := fromscratchBin(t)
	dir := t.TempDir()
	repo := host + "/fromscratch-test/jq"
	built := repo + ":1"
	for _, tc := range []struct {
		name, ref, format, mediaType string
		args                         []string
	}{
		{"build", built, "spdx", "application/spdx+json", []string{"build", "/usr/bin/jq"}},
		{"squash", repo + ":flat", "cyclonedx", "application/vnd.cyclonedx+json", []string{"squash", "--insecure", built}},
		{"slim", repo + ":slim", "spdx", "application/spdx+json", []string{"slim", "--insecure", built}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, tc.name+".json")
			args := append([]string{tc.args[0], "--push", tc.ref, "--insecure", "--sbom", file, "--sbom-format", tc.format}, tc.args[1:]...)
			line, stderr, code := runFromscratch(t, bin, args...)
			if code != 0 {
				t.Fatalf("%v = %d\n%s", args, code, stderr)
			}
			line = strings.TrimSpace(line)
			t.Logf("%s\n%s", line, stderr)
			d, err := name.NewDigest(line, name.Insecure)
			if err != nil || !strings.HasPrefix(line, tc.ref+"@sha256:") {
				t.Fatalf("%v printed %q, want %s@sha256:...", args, line, tc.ref)
			}
			hex := strings.TrimPrefix(d.DigestStr(), "sha256:")
			sbomTag := d.Context().Tag("sha256-" + hex + ".sbom")
			if !strings.Contains(stderr, "fromscratch: pushed "+line+" (") || !strings.Contains(stderr, "sha256-"+hex+".sbom") {
				t.Errorf("stderr lacks the pushed reference or the SBOM's tag:\n%s", stderr)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sbomManifest := checkSBOMArtifact(t, sbomTag, d, tc.mediaType, data)
			var im *v1.IndexManifest
			refs, err := remote.Referrers(d)
			if err == nil {
				im, err = refs.IndexManifest()
			}
			if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Digest != sbomManifest || im.Manifests[0].ArtifactType != tc.mediaType {
				t.Errorf("referrers of %s: %+v, %v; want the SBOM %s", d, im, err, sbomManifest)
			}

			// --json names the same reference, and what each output wrote.
			jsonArgs := append([]string{tc.args[0], "--json", "--push", tc.ref, "--insecure", "-o", filepath.Join(dir, tc.name+".tar")}, tc.args[1:]...)
			out, stderr, code := runFromscratch(t, bin, jsonArgs...)
			var r resultJSON
			if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
				t.Fatalf("%v = %d, %q\n%s", jsonArgs, code, out, stderr)
			}
			if r.Reference != tc.ref+"@"+r.Digest || len(r.Outputs) != 2 || r.Outputs[0].Path == "" || r.Outputs[1].Reference != r.Reference || r.Outputs[1].Size == 0 {
				t.Errorf("%v: %+v, want reference %s@DIGEST and two outputs", jsonArgs, r, tc.ref)
			}
		})
	}
}

// checkSBOMArtifact checks that the image at ref is the SBOM data of
// mediaType attached to subject, and returns its manifest's digest.
func checkSBOMArtifact(t *testing.T, ref name.Tag, subject name.Digest, mediaType string, data []byte) v1.Hash {
	t.Helper()
	img, err := remote.Image(ref)
	var m *v1.Manifest
	if err == nil {
		m, err = img.Manifest()
	}
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	if m.Subject == nil || m.Subject.Digest.String() != subject.DigestStr() || m.ArtifactType != mediaType || len(m.Layers) != 1 || string(m.Layers[0].MediaType) != mediaType {
		t.Fatalf("%s: manifest %+v, want an artifact %s of %s with one layer", ref, m, mediaType, subject)
	}
	if want, _, _ := v1.SHA256(bytes.NewReader(data)); m.Layers[0].Digest != want || m.Layers[0].Size != int64(len(data)) {
		t.Errorf("%s: layer %s, %d bytes; the --sbom file is %s, %d bytes", ref, m.Layers[0].Digest, m.Layers[0].Size, want, len(data))
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := ls[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, data) {
		t.Errorf("%s: layer differs from the --sbom file (%d vs %d bytes, %v)", ref, len(got), len(data), err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
