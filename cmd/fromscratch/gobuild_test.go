package main

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// goServer is the Go fixture: an HTTP server on ADDR (default :8080) that
// answers "hello from PATH". Standard library only, so no network.
const goServer = `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	addr := ":8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", r.URL.Path)
	})
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// goModule writes a module example.com/NAME with cmd/NAME/main.go holding
// src, in a temporary directory, and returns the directory.
func goModule(t *testing.T, name, src string) string {
	t.Helper()
	requireTool(t, "go")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/"+name+"\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "cmd", name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cmd", name, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runIn runs fromscratch in dir and returns stdout, stderr and the exit
// code.
func runIn(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	return cliRun{dir: dir, env: env, limit: 10 * time.Minute}.run(t, args...)
}

// mustRunIn is runIn that fails the test unless fromscratch exits 0.
func mustRunIn(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	out, errOut, code := runIn(t, dir, env, args...)
	if code != 0 {
		t.Fatalf("fromscratch %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// serveAndGet runs image with docker (extra docker run flags first), the
// server's port 8080 published on 127.0.0.1, and returns the answer to GET
// /ping.
func serveAndGet(t *testing.T, image string, flags ...string) string {
	t.Helper()
	args := append([]string{"run", "-d", "--rm", "-p", "127.0.0.1::8080"}, flags...)
	id := strings.TrimSpace(run(t, "", "docker", append(args, image)...))
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", id).Run() })
	hostPort := strings.TrimSpace(strings.Split(run(t, "", "docker", "port", id, "8080/tcp"), "\n")[0])
	url := "http://" + hostPort + "/ping"
	var last error
	for i := 0; i < 100; i++ { // qemu-emulated servers start slowly
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(body)
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	logs, _, _ := runErr("", "docker", "logs", id)
	t.Fatalf("GET %s: %v (container logs: %s)", url, last, logs)
	return ""
}

// TestBuildGo builds the fixture server for the host, loads it in Docker
// and asks it for a page from the host; a rebuild gives the same digest.
func TestBuildGo(t *testing.T) {
	requireDocker(t)
	dir := goModule(t, "hello", goServer)
	tag := uniqueTag("gohello")
	tarPath := filepath.Join(t.TempDir(), "hello.tar")
	env := []string{"SOURCE_DATE_EPOCH=1700000000"}
	d1 := mustRunIn(t, dir, env, "build", "--go", "./cmd/hello", "-o", tarPath, "-t", tag)
	run(t, "", "docker", "load", "-i", tarPath)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })

	if got, want := serveAndGet(t, tag), "hello from /ping\n"; got != want {
		t.Errorf("GET /ping = %q, want %q", got, want)
	}

	img := archiveImage(t, tarPath)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if ep := cf.Config.Entrypoint; len(ep) != 1 || ep[0] != "/usr/local/bin/hello" || cf.Config.User != "65532:65532" {
		t.Errorf("config: entrypoint %q, user %q; want [/usr/local/bin/hello], 65532:65532", ep, cf.Config.User)
	}
	if got := cf.Created.Unix(); got != 1700000000 {
		t.Errorf("created %v, want SOURCE_DATE_EPOCH", cf.Created)
	}
	// Each layer is labelled for what it holds, in the archive as in the
	// engine.
	for _, ref := range []string{tarPath, "docker-daemon:" + tag} {
		var r inspectJSON
		if err := json.Unmarshal([]byte(mustRunIn(t, dir, nil, "inspect", "--json", ref)), &r); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range r.Layers {
			got = append(got, l.CreatedBy)
		}
		want := []string{"runtime files (/etc/group, /etc/nsswitch.conf, /etc/passwd, /home/nonroot, /tmp)",
			"CA certificates (/etc/ssl/certs/ca-certificates.crt)", "time zones (/usr/share/zoneinfo)",
			"Go program /usr/local/bin/hello (go build example.com/hello/cmd/hello)"}
		if len(got) < len(want) {
			t.Fatalf("inspect %s: layers created by %q, want %q first", ref, got, want)
		}
		for i, w := range want {
			if got[i] != "fromscratch build --go: "+w {
				t.Errorf("inspect %s: layer %d created by %q, want %q", ref, i, got[i], "fromscratch build --go: "+w)
			}
		}
	}

	// Reproducible: the same package, elsewhere, with a cold start, gives
	// the same digest (-trimpath, -buildvcs=false, fixed timestamps).
	dir2 := goModule(t, "hello", goServer)
	d2 := mustRunIn(t, dir2, env, "build", "--go", "./cmd/hello", "-o", filepath.Join(t.TempDir(), "again.tar"), "-t", tag)
	if d1 != d2 || !strings.HasPrefix(d1, "sha256:") {
		t.Errorf("digests differ: %q and %q", d1, d2)
	}
}

// TestBuildGoIndex builds linux/amd64 and linux/arm64 into an index in an
// OCI layout: each entry has its platform, the arm64 program is an aarch64
// ELF file, and each image is the one built alone. When binfmt_misc runs
// aarch64 programs with qemu, the arm64 image serves a request too.
func TestBuildGoIndex(t *testing.T) {
	dir := goModule(t, "hello", goServer)
	out := filepath.Join(t.TempDir(), "layout")
	mustRunIn(t, dir, nil, "build", "--go", "./cmd/hello", "--platform", "linux/amd64,linux/arm64", "--oci-layout", out)

	top := layoutIndex(t, out)
	tm := indexManifest(t, top)
	if len(tm.Manifests) != 1 || !tm.Manifests[0].MediaType.IsIndex() || tm.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "hello:latest" {
		t.Fatalf("index.json: %+v, want one index named hello:latest", tm.Manifests)
	}
	idx, err := top.ImageIndex(tm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im := indexManifest(t, idx)
	digests := map[string]v1.Hash{}
	for _, m := range im.Manifests {
		if m.Platform == nil {
			t.Fatalf("manifest %s has no platform", m.Digest)
		}
		digests[m.Platform.String()] = m.Digest
	}
	if len(digests) != 2 || digests["linux/amd64"] == (v1.Hash{}) || digests["linux/arm64"] == (v1.Hash{}) {
		t.Fatalf("index platforms: %v, want linux/amd64 and linux/arm64", digests)
	}
	arm, err := idx.Image(digests["linux/arm64"])
	if err != nil {
		t.Fatal(err)
	}
	cf, err := arm.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Architecture != "arm64" || cf.OS != "linux" {
		t.Errorf("arm64 entry's config: %s/%s", cf.OS, cf.Architecture)
	}
	bin := fileFromImage(t, arm, "usr/local/bin/hello")
	ef, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("usr/local/bin/hello: %v", err)
	}
	if ef.Machine != elf.EM_AARCH64 {
		t.Errorf("arm64 entry's program is %v, want EM_AARCH64", ef.Machine)
	}
	if ef.Section(".interp") != nil || ef.Section(".dynamic") != nil {
		t.Errorf("arm64 program is not static")
	}

	// The arm64 image of the index is the one built alone.
	alone := strings.TrimSpace(mustRunIn(t, dir, nil, "build", "--go", "./cmd/hello", "--platform", "linux/arm64",
		"--oci-layout", filepath.Join(t.TempDir(), "alone")))
	if alone != digests["linux/arm64"].String() {
		t.Errorf("linux/arm64 alone: %s, in the index: %s", alone, digests["linux/arm64"])
	}

	t.Run("run arm64", func(t *testing.T) {
		requireQemuAarch64(t)
		requireDocker(t)
		tag := uniqueTag("gohello-arm64")
		tarPath := filepath.Join(t.TempDir(), "arm64.tar")
		mustRunIn(t, dir, nil, "build", "--go", "./cmd/hello", "--platform", "linux/arm64", "-o", tarPath, "-t", tag)
		run(t, "", "docker", "load", "-i", tarPath)
		t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
		if got, want := serveAndGet(t, tag, "--platform", "linux/arm64"), "hello from /ping\n"; got != want {
			t.Errorf("arm64: GET /ping = %q, want %q", got, want)
		}
	})
}

// TestBuildGoErrors: usage errors and a package that needs cgo exit 2 with
// one clear message.
func TestBuildGoErrors(t *testing.T) {
	dir := goModule(t, "hello", goServer)
	cgoDir := goModule(t, "withcgo", "package main\n\n// int two(void) { return 2; }\nimport \"C\"\n\nfunc main() { println(C.two()) }\n")
	broken := goModule(t, "broken", "package main\n\nfunc main() { undefined() }\n")
	tmp := t.TempDir()
	for _, tc := range []struct {
		name string
		dir  string
		args []string
		want []string
	}{
		{"tarball with two platforms", dir, []string{"--go", "./cmd/hello", "--platform", "linux/amd64", "--platform", "linux/arm64", "-o", tmp + "/x.tar"},
			[]string{"a docker load tarball holds one platform", "--oci-layout"}},
		{"program and --go", dir, []string{"--go", "./cmd/hello", "/bin/true", "-o", tmp + "/x.tar"}, []string{"no PROGRAM"}},
		{"bad platform", dir, []string{"--go", "./cmd/hello", "--platform", "windows/amd64", "-o", tmp + "/x.tar"}, []string{"windows/amd64"}},
		{"several platforms without --go", dir, []string{"/bin/true", "--platform", "linux/amd64,linux/arm64", "--oci-layout", tmp + "/l"}, []string{"one --platform"}},
		{"cgo", cgoDir, []string{"--go", "./cmd/withcgo", "-o", tmp + "/x.tar"},
			[]string{"needs cgo", "example.com/withcgo/cmd/withcgo", "fromscratch build -o IMAGE.tar ./withcgo"}},
		{"compile error", broken, []string{"--go", "./cmd/broken", "-o", tmp + "/x.tar"}, []string{"undefined: undefined"}},
		{"not a main package", dir, []string{"--go", "net/http", "-o", tmp + "/x.tar"}, []string{"not a main package"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runIn(t, tc.dir, nil, append([]string{"build"}, tc.args...)...)
			if code != 2 {
				t.Errorf("exit %d, want 2\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
	if _, err := os.Stat(tmp + "/x.tar"); err == nil {
		t.Errorf("a failed build wrote x.tar")
	}
}

// TestBuildGoAdd: --add puts a kodata-like directory beside the program.
// (Not at ko's /var/run/ko: on Debian /var/run is a link to /run, which the
// closure follows for the destination, so the files land in /run/ko.)
func TestBuildGoAdd(t *testing.T) {
	dir := goModule(t, "hello", goServer)
	os.MkdirAll(filepath.Join(dir, "kodata"), 0o755)
	os.WriteFile(filepath.Join(dir, "kodata", "index.html"), []byte("<p>hi</p>\n"), 0o644)
	out := filepath.Join(t.TempDir(), "layout")
	mustRunIn(t, dir, nil, "build", "--go", "./cmd/hello", "--add", "kodata:/kodata", "--env", "KO_DATA_PATH=/kodata", "--oci-layout", out)
	img := layoutImage(t, out)
	if got := string(fileFromImage(t, img, "kodata/index.html")); got != "<p>hi</p>\n" {
		t.Errorf("kodata/index.html = %q", got)
	}
	cf, _ := img.ConfigFile()
	b, _ := json.Marshal(cf.Config.Env)
	if !strings.Contains(string(b), "KO_DATA_PATH=/kodata") {
		t.Errorf("env %s lacks KO_DATA_PATH", b)
	}
}

// TestBuildGoPush pushes an index of two platforms to Debian's
// docker-registry on 127.0.0.1; the registry serves it with both
// platforms, and Docker pulls the host's and runs it.
func TestBuildGoPush(t *testing.T) {
	requireDocker(t)
	host := startRegistry(t)

	dir := goModule(t, "hello", goServer)
	ref := fmt.Sprintf("%s/fromscratch-test/gohello:%d", host, os.Getpid())
	out := mustRunIn(t, dir, nil, "build", "--go", "./cmd/hello", "--platform", "linux/amd64", "--platform", "linux/arm64", "--insecure", "--push", ref)
	if !strings.Contains(out, "@sha256:") {
		t.Errorf("build --push printed %q, want a digest reference", out)
	}
	im := indexManifest(t, remoteIndex(t, ref))
	var plats []string
	for _, m := range im.Manifests {
		plats = append(plats, m.Platform.String())
	}
	if strings.Join(plats, " ") != "linux/amd64 linux/arm64" {
		t.Errorf("pushed index platforms %v", plats)
	}
	run(t, "", "docker", "pull", ref)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", ref).Run() })
	if got, want := serveAndGet(t, ref), "hello from /ping\n"; got != want {
		t.Errorf("pulled image: GET /ping = %q, want %q", got, want)
	}
}
