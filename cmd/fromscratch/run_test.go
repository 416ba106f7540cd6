package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// gconvDir is where Debian's glibc keeps the iconv modules on amd64.
const gconvDir = "/usr/lib/x86_64-linux-gnu/gconv"

// doctorRunJSON is doctor --run --json's output.
type doctorRunJSON struct {
	Command  []string `json:"command"`
	ExitCode int      `json:"exit_code"`
	Missing  []struct {
		Path   string   `json:"path"`
		Ops    []string `json:"ops"`
		InRoot string   `json:"in_root"`
	} `json:"missing"`
	Healthy bool `json:"healthy"`
}

// runFromscratchIn runs fromscratch with stdin and returns stdout, stderr
// and the exit status.
func runFromscratchIn(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	return cliRun{stdin: stdin}.run(t, args...)
}

// TestDoctorRun: iconv built without its gconv modules fails its job;
// doctor --run runs it in Docker, names the gconv path the host has and
// exits 1. With the modules added, the job runs and doctor exits 0.
func TestDoctorRun(t *testing.T) {
	requireDocker(t)
	requireFile(t, filepath.Join(gconvDir, "ISO8859-1.so"))
	bin := fromscratchBin(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "iconv.tar")
	run(t, "", bin, "build", "-o", bad, "-t", "fromscratch-run-probe/iconv:bad", "/usr/bin/iconv")
	// ARGS replace the Cmd, after the entrypoint /usr/bin/iconv.
	job := []string{"-f", "UTF-8", "-t", "ISO-8859-1"}

	args := append([]string{"doctor", "docker-archive:" + bad, "--run", "--"}, job...)
	out, errOut, code := runFromscratchIn(t, "h\u00e9\n", args...)
	if code != 1 || !strings.Contains(out, "error: the program looked for "+gconvDir+"/") {
		t.Fatalf("doctor --run on iconv without gconv: exit %d, want 1 naming %s/...\nstdout: %s\nstderr: %s", code, gconvDir, out, errOut)
	}
	if !strings.Contains(out, "ran:     exit status 1") || !strings.Contains(errOut, "conversion") {
		t.Errorf("doctor --run should show iconv's failure (exit 1, its message on stderr)\nstdout: %s\nstderr: %s", out, errOut)
	}
	if !strings.Contains(out, "--files-from trace.txt") || !strings.Contains(out, "--add "+gconvDir+"/") {
		t.Errorf("doctor --run gives no fix:\n%s", out)
	}

	args = append([]string{"doctor", "--json", "docker-archive:" + bad, "--run", "--"}, job...)
	out, errOut, code = runFromscratchIn(t, "h\u00e9\n", args...)
	var rep doctorRunJSON
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.Healthy {
		t.Fatalf("doctor --run --json: exit %d, %v, want exit 1 and JSON not healthy\nstdout: %s\nstderr: %s", code, err, out, errOut)
	}
	named := false
	for _, m := range rep.Missing {
		if strings.HasPrefix(m.Path, gconvDir+"/") && m.InRoot != "" {
			named = true
		}
	}
	if !named || rep.ExitCode != 1 || strings.Join(rep.Command, " ") != "/usr/bin/iconv "+strings.Join(job, " ") {
		t.Errorf("doctor --run --json: %+v, want the command %v, its exit 1 and a missing %s path", rep, job, gconvDir)
	}

	good := filepath.Join(dir, "iconv-good.tar")
	run(t, "", bin, "build", "-o", good, "-t", "fromscratch-run-probe/iconv:good", "--add", gconvDir+":"+gconvDir, "/usr/bin/iconv")
	args = append([]string{"doctor", "docker-archive:" + good, "--run", "--"}, job...)
	out, errOut, code = runFromscratchIn(t, "h\u00e9\n", args...)
	if code != 0 || !strings.Contains(out, "ran:     exit status 0") || !strings.Contains(errOut, "h\xe9\n") {
		t.Fatalf("doctor --run on iconv with gconv: exit %d, want 0, iconv exit 0 and its output\nstdout: %s\nstderr: %q", code, out, errOut)
	}
}

// TestDoctorStaticPromise: the static doctor calls iconv without its gconv
// modules able to start, and sends to --run for what it loads at run time.
func TestDoctorStaticPromise(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "iconv.tar")
	run(t, "", fromscratchBin(t), "build", "-o", bad, "/usr/bin/iconv")
	out, _, code := runFromscratchIn(t, "", "doctor", "docker-archive:"+bad)
	if code != 0 || !strings.Contains(out, "healthy: the entrypoint can start (what the program loads at run time is checked by --run)") {
		t.Errorf("static doctor on the iconv image: exit %d\n%s", code, out)
	}
}

// The Debian root with nginx the server tests use, made by debootstrap once
// and cached next to the arm64 root.
var nginxDebootstrapArgs = []string{
	"--variant=minbase", "--include=nginx", "bookworm", "ROOT", arm64Mirror,
}

func nginxRoot(t *testing.T) string {
	t.Helper()
	return debootstrapRoot(t, "amd64-bookworm-nginx", nginxDebootstrapArgs)
}

// fatNginxImage imports the nginx root as a one-layer image FROM scratch
// that runs nginx in the foreground; it is removed at the end of the test.
func fatNginxImage(t *testing.T) string {
	t.Helper()
	root := nginxRoot(t)
	tag := uniqueTag("run-probe-nginx-fat")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	tarCmd := exec.CommandContext(ctx, "tar", "-C", root, "--exclude=./"+arm64Marker, "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./dev/*", "-cf", "-", ".")
	imp := exec.CommandContext(ctx, "docker", "import",
		"--change", `CMD ["nginx", "-g", "daemon off;"]`, "--change", "EXPOSE 80", "-", tag)
	pipe, err := tarCmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	imp.Stdin = pipe
	var impOut strings.Builder
	imp.Stdout, imp.Stderr = &impOut, &impOut
	if err := tarCmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := imp.Run(); err != nil {
		t.Fatalf("docker import: %v\n%s", err, impOut.String())
	}
	if err := tarCmd.Wait(); err != nil {
		t.Fatalf("tar -C %s: %v", root, err)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag
}

// imageSize is the engine's size of an image (its layers, uncompressed).
func imageSize(t *testing.T, tag string) int64 {
	t.Helper()
	var n int64
	out := run(t, "", "docker", "image", "inspect", "-f", "{{.Size}}", tag)
	if _, err := fmt.Sscan(out, &n); err != nil {
		t.Fatalf("docker image inspect %s: %q", tag, out)
	}
	return n
}

// httpGet runs the image detached with port 80 published on 127.0.0.1,
// GETs path once it answers and returns the status and body.
func httpGet(t *testing.T, tag, path string) (int, string) {
	t.Helper()
	name := "fromscratch-run-probe-" + strings.NewReplacer("/", "-", ":", "-").Replace(tag)
	run(t, "", "docker", "run", "-d", "--name", name, "-p", "127.0.0.1::80", tag)
	defer exec.Command("docker", "rm", "-f", name).Run()
	addr := strings.TrimSpace(strings.Split(run(t, "", "docker", "port", name, "80/tcp"), "\n")[0])
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + addr + path)
		if err == nil {
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				return resp.StatusCode, string(body)
			}
		}
		if time.Now().After(deadline) {
			logs, errLogs, _ := runErr("", "docker", "logs", name)
			t.Fatalf("GET %s of %s: %v\nlogs: %s%s", path, tag, err, logs, errLogs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestSlimProbe slims an image FROM scratch of a whole Debian root with
// nginx (imported once for the subtests).
func TestSlimProbe(t *testing.T) {
	requireDocker(t)
	fat := fatNginxImage(t)
	t.Run("http-nginx", func(t *testing.T) { testSlimProbeHTTPNginx(t, fat) })
	t.Run("entrypoint-iconv", func(t *testing.T) { testSlimProbeEntrypoint(t, fat) })
	t.Run("differs", func(t *testing.T) { testSlimProbeDiffers(t, fat) })
	t.Run("listed-names", func(t *testing.T) { testSlimProbeListedNames(t, fat) })
}

// testSlimProbeListedNames: ls of a directory prints the names it holds
// without opening them: the slim image keeps the directory with its
// entries, and its ls prints them as the fat image's does (slim checks
// it, exit 0).
func testSlimProbeListedNames(t *testing.T, fat string) {
	slimTar := filepath.Join(t.TempDir(), "ls-slim.tar")
	out, errOut, code := runFromscratchIn(t, "", "slim", "-o", slimTar, "--entrypoint", "/bin/ls",
		"docker-daemon:"+fat, "--probe", "--", "/etc/apt/apt.conf.d")
	if code != 0 {
		t.Fatalf("slim --entrypoint /bin/ls --probe -- /etc/apt/apt.conf.d: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	names := archiveNames(t, slimTar)
	if !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "etc/apt/apt.conf.d/") && n != "etc/apt/apt.conf.d/" }) {
		t.Errorf("the slim image has no entry of /etc/apt/apt.conf.d: %q", names)
	}
}

// testSlimProbeHTTPNginx: nginx slimmed with --probe-http: the slim image
// is at least 10 times smaller and answers GET / as the fat one does.
func testSlimProbeHTTPNginx(t *testing.T, fat string) {
	slimTar := filepath.Join(t.TempDir(), "nginx-slim.tar")
	slimTag := uniqueTag("run-probe-nginx-slim")
	// nginx creates /var/lib/nginx/body and /run/nginx.pid at start: the
	// directories they are made in are kept, no --keep needed.
	out, errOut, code := runFromscratchIn(t, "", "slim", "-o", slimTar, "-t", slimTag, "--probe-http", "80/", "docker-daemon:"+fat)
	if code != 0 {
		t.Fatalf("slim --probe-http 80/: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	run(t, "", "docker", "load", "-i", slimTar)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", slimTag).Run() })

	fatSize, slimSize := imageSize(t, fat), imageSize(t, slimTag)
	t.Logf("nginx: fat %d bytes, slim %d bytes (%.1fx smaller)", fatSize, slimSize, float64(fatSize)/float64(slimSize))
	if slimSize*10 > fatSize {
		t.Errorf("slim image %d bytes, fat %d: not 10 times smaller", slimSize, fatSize)
	}
	fs, fb := httpGet(t, fat, "/")
	ss, sb := httpGet(t, slimTag, "/")
	if fs != 200 || ss != fs || sb != fb || !strings.Contains(fb, "nginx") {
		t.Errorf("GET /: fat %d %q, slim %d %q: want 200 and the same body", fs, fb, ss, sb)
	}
}

// testSlimProbeDiffers: a probe that prints something else at each run
// (the time in nanoseconds) gives another output on the slim image: slim
// exits 1 naming the difference and writes nothing.
func testSlimProbeDiffers(t *testing.T, fat string) {
	out := filepath.Join(t.TempDir(), "date.tar")
	stdout, errOut, code := runFromscratchIn(t, "", "slim", "-o", out, "docker-daemon:"+fat, "--probe", "--", "/usr/bin/date", "+%N")
	if code != 1 || !strings.Contains(errOut, "prints another output") {
		t.Fatalf("slim --probe -- date +%%N: exit %d, want 1 naming the other output\nstdout: %s\nstderr: %s", code, stdout, errOut)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("slim wrote %s although a probe differs", out)
	}
}

// testSlimProbeEntrypoint: --entrypoint picks iconv in the fat root image
// and a probe converts a file: the slim image keeps the gconv module the
// conversion loads (no ELF file names it), runs iconv and gives the same
// output.
func testSlimProbeEntrypoint(t *testing.T, fat string) {
	slimTar := filepath.Join(t.TempDir(), "iconv-slim.tar")
	slimTag := uniqueTag("run-probe-iconv-slim")
	job := `["-f","UTF-8","-t","UTF-16","/etc/debian_version"]`
	out, errOut, code := runFromscratchIn(t, "", "slim", "-o", slimTar, "-t", slimTag,
		"--entrypoint", "/usr/bin/iconv", "--probe="+job, "docker-daemon:"+fat, "--probe", "--", "-l")
	if code != 0 {
		t.Fatalf("slim --entrypoint iconv --probe: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	run(t, "", "docker", "load", "-i", slimTar)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", slimTag).Run() })
	ep := run(t, "", "docker", "image", "inspect", "-f", "{{json .Config.Entrypoint}}", slimTag)
	if strings.TrimSpace(ep) != `["/usr/bin/iconv"]` {
		t.Errorf("slim image entrypoint %s, want [\"/usr/bin/iconv\"]", ep)
	}
	got := dockerRun(t, "", slimTag, "-f", "UTF-8", "-t", "UTF-16", "/etc/debian_version")
	want := dockerRun(t, "", "--entrypoint", "/usr/bin/iconv", fat, "-f", "UTF-8", "-t", "UTF-16", "/etc/debian_version")
	if got != want || len(got) < 4 {
		t.Errorf("iconv in the slim image: %q, in the fat one %q", got, want)
	}
}
