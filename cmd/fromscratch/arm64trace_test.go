package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/fromscratch/fromscratch/doctor"
)

// The trace route on an arm64 root: its programs run under qemu-user
// (binfmt_misc with the F flag: the host's qemu-aarch64-static, even in a
// chroot), and the tracer sees qemu's x86-64 system calls, on the guest's
// paths.

// The arm64 Debian 12 root with python3, made by debootstrap once and
// cached as arm64CacheDir/arm64-bookworm-python.
const arm64PythonRootName = "arm64-bookworm-python"

var arm64PythonArgs = []string{
	"--arch=arm64", "--variant=minbase", "--include=python3",
	"bookworm", "ROOT", arm64Mirror,
}

// arm64PythonRoot returns the cached arm64 root with python3, making it
// first if needed (minutes: debootstrap's second stage runs under qemu).
func arm64PythonRoot(t *testing.T) string {
	t.Helper()
	requireDebootstrap(t)
	requireQemuAarch64(t)
	root, err := ensureDebootstrapRoot(t, arm64PythonRootName, arm64PythonArgs, arm64BuildTime)
	if err != nil {
		t.Fatalf("arm64 python root: %v", err)
	}
	return root
}

// arm64Job is a small job of a program of the arm64 root that needs files
// no ELF header names; want is what it prints, in a chroot of the root as
// on the host.
type arm64Job struct {
	name  string
	argv  []string
	stdin string
	want  string
	// uses are paths of the root the trace must list as found.
	uses []string
}

var arm64Jobs = []arm64Job{
	{name: "python-json", argv: []string{"/usr/bin/python3", "-c", `import json, decimal; print(json.dumps({"a": str(decimal.Decimal("1.1") * 3)}))`},
		want: "{\"a\": \"3.3\"}\n",
		uses: []string{"/usr/lib/python3.11/json/__init__.py", "/usr/lib/python3.11/lib-dynload/_decimal.cpython-311-aarch64-linux-gnu.so", "/usr/lib/python3.11/encodings/utf_8.py"}},
	{name: "iconv-latin1", argv: []string{"/usr/bin/iconv", "-f", "UTF-8", "-t", "ISO-8859-1"}, stdin: "héllo wörld\n",
		want: "h\xe9llo w\xf6rld\n",
		uses: []string{"/usr/lib/aarch64-linux-gnu/gconv/ISO8859-1.so", "/usr/lib/aarch64-linux-gnu/gconv/gconv-modules.cache"}},
	// processes that exec others: each a qemu of its own
	{name: "sh-pipe", argv: []string{"/bin/sh", "-c", "echo hé | iconv -f UTF-8 -t ISO-8859-1 | od -An -c"},
		want: "   h 351  \\n\n",
		uses: []string{"/usr/bin/iconv", "/usr/bin/od", "/usr/lib/aarch64-linux-gnu/gconv/ISO8859-1.so"}},
}

// qemuPath says whether p is qemu's own: a look under its interpreter
// prefix, or its binary.
func qemuPath(p string) bool {
	return strings.HasPrefix(p, "/etc/qemu-binfmt/") || strings.HasPrefix(p, "/usr/gnemul/") || strings.Contains(filepath.Base(p), "qemu-")
}

// TestArm64Trace traces each job in the arm64 root (fromscratch trace
// --root) and compares the paths found with those strace shows the same
// run using in a chroot of the root (strace -ff -e trace=file chroot ROOT
// ...: qemu's system calls, on the guest's paths, as the tracer sees
// them): the same set, qemu's own looks under its prefix left out.
func TestArm64Trace(t *testing.T) {
	root := arm64PythonRoot(t)
	for _, j := range arm64Jobs {
		t.Run(j.name, func(t *testing.T) {
			if out, errOut, err := chrootRun(root, j.stdin, j.argv[0], j.argv[1:]...); err != nil || out != j.want {
				t.Fatalf("in a chroot of %s: %v, stdout %q, want %q\n%s", root, err, out, j.want, errOut)
			}
			list := filepath.Join(t.TempDir(), "trace.json")
			out, errOut, code := cliRun{stdin: j.stdin}.run(t, append([]string{"trace", "--root", root, "--json", "-o", list, "--"}, j.argv...)...)
			if code != 0 || out != j.want {
				t.Fatalf("fromscratch trace --root %s: exit %d, stdout %q, want %q\n%s", root, code, out, j.want, errOut)
			}
			b, err := os.ReadFile(list)
			if err != nil {
				t.Fatal(err)
			}
			var tf traceJSON
			if err := json.Unmarshal(b, &tf); err != nil {
				t.Fatal(err)
			}
			got, gotAbsent := map[string]bool{}, map[string]bool{}
			for _, a := range tf.Accesses {
				if qemuPath(a.Path) {
					t.Errorf("the trace lists qemu's %s (%s, found %v)", a.Path, a.Op, a.Found)
				}
				if a.Found {
					got[a.Path] = true
				} else {
					gotAbsent[a.Path] = true
				}
			}
			for p := range got {
				delete(gotAbsent, p)
			}
			for _, p := range j.uses {
				if !got[p] {
					t.Errorf("the trace does not list %s found", p)
				}
			}
			want, wantAbsent := chrootStraceUsed(t, root, j.stdin, j.argv)
			missing := diffInRoot(root, want, got)
			extra := diffInRoot(root, got, want)
			t.Logf("%s under qemu: found: the trace %d paths, strace %d, %d of strace's not in the trace, %d of the trace's not in strace's; not found: the trace %d, strace %d",
				j.name, len(got), len(want), len(missing), len(extra), len(gotAbsent), len(wantAbsent))
			if !maps.Equal(gotAbsent, wantAbsent) {
				t.Errorf("paths not found: the trace lists %v, strace shows %v", keys(gotAbsent), keys(wantAbsent))
			}
			if len(missing) > 0 {
				t.Errorf("strace shows these used, the trace does not list them found: %v", missing)
			}
			if len(extra) > 0 {
				t.Errorf("the trace lists these found, strace does not show them used: %v", extra)
			}
		})
	}
}

// diffInRoot returns the paths of a that are not in b, as they are or as
// the same real path inside root.
func diffInRoot(root string, a, b map[string]bool) []string {
	real := map[string]bool{}
	for p := range b {
		if r, err := realpathIn(root, p); err == nil {
			real[r] = true
		}
	}
	var out []string
	for p := range a {
		if b[p] {
			continue
		}
		if r, err := realpathIn(root, p); err == nil && real[r] {
			continue
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// straceCall is one line of strace -ff: NAME(ARGS) = RESULT [ERRNO].
var straceCall = regexp.MustCompile(`^(\w+)\((.*)\)\s+= (-?\d+|\?)(?: (E[A-Z]+))?`)

// straceFirstPath is the first string argument after AT_FDCWD or
// nothing: an absolute path (one relative to another fd is not read).
var straceFirstPath = regexp.MustCompile(`^(?:AT_FDCWD, )?"(/(?:[^"\\]|\\.)*)"`)

// chrootStraceUsed runs argv under strace -ff -e trace=file in a chroot
// of root and returns the paths inside root that the calls after the
// chroot found, as the tracer counts them (a result other than ENOENT
// and ENOTDIR), and those they did not find: not under /proc, /sys or
// /dev, not created by the run, not qemu's looks under its prefix.
func chrootStraceUsed(t *testing.T, root, stdin string, argv []string) (used, absent map[string]bool) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "st")
	a := append([]string{"-ff", "-qq", "-s", "4096", "-e", "trace=file", "-e", "signal=none", "-o", out, "chroot", root}, argv...)
	if _, errOut, code := runCommand(t, exec.Command(requireTool(t, "strace"), a...), stdin); code != 0 {
		t.Fatalf("strace chroot %s %v: exit %d\n%s", root, argv, code, errOut)
	}
	files, _ := filepath.Glob(out + ".*")
	used, absent, created := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// The chroot process's calls up to its exec of the program are
		// chroot(8)'s, not the run's.
		inRoot, chrooted := !strings.Contains(string(b), `chroot("`), false
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			m := straceCall.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			if m[1] == "chroot" {
				chrooted = true
				continue
			}
			inRoot = inRoot || chrooted && m[1] == "execve"
			p := straceFirstPath.FindStringSubmatch(m[2])
			if !inRoot || p == nil || strings.Contains(p[1], `\`) {
				continue
			}
			path := filepath.Clean(p[1])
			switch {
			case m[4] == "ENOENT" || m[4] == "ENOTDIR":
				absent[path] = true
			case m[1] == "creat" || strings.Contains(m[2], "O_CREAT") || strings.HasPrefix(m[1], "mkdir"):
				created[path] = true
			case strings.HasPrefix(m[1], "open") || strings.HasPrefix(m[1], "exec") || strings.Contains(m[1], "stat") ||
				strings.Contains(m[1], "access") || strings.HasPrefix(m[1], "readlink") || m[1] == "chdir":
				used[path] = true
			}
		}
	}
	for _, set := range []map[string]bool{used, absent} {
		for p := range set {
			if created[p] || qemuPath(p) || p == "/proc" || p == "/sys" || p == "/dev" ||
				strings.HasPrefix(p, "/proc/") || strings.HasPrefix(p, "/sys/") || strings.HasPrefix(p, "/dev/") {
				delete(set, p)
			}
		}
	}
	for p := range used {
		delete(absent, p) // found by another call
	}
	if len(used) < 5 {
		t.Fatalf("strace shows only %d paths used: %v", len(used), used)
	}
	return used, absent
}

// TestTraceForeignNoHandler: a program for a machine this kernel runs
// neither itself nor through a binfmt_misc handler fails to start with one
// line saying why, exit 2, and is not run as a shell script.
func TestTraceForeignNoHandler(t *testing.T) {
	// An ELF header for IA-64 (machine 50), which no qemu-user runs.
	head := []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x02\x00\x32\x00\x01\x00\x00\x00\x00\x00\x40\x00\x00\x00\x00\x00" +
		"\x40\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x00\x00\x00\x40\x00\x38\x00\x00\x00\x40\x00\x00\x00\x00\x00")
	if h := doctor.HostBinfmt(head); h != "" {
		t.Skipf("binfmt_misc %s runs IA-64 programs here", h)
	}
	prog := filepath.Join(t.TempDir(), "ia64prog")
	if err := os.WriteFile(prog, head, 0o755); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := cliRun{}.run(t, "trace", "--", prog)
	want := fmt.Sprintf("fromscratch: trace: cannot start the program: %s: exec format error: a program for ia_64, which this kernel runs only through a binfmt_misc handler", prog)
	if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, want) {
		t.Errorf("trace of an IA-64 program: exit %d, stdout %q, stderr %q; want 2 and one line starting %q", code, out, errOut, want)
	}
}

// TestArm64BuildTrace builds each job's arm64 image with the trace route
// (build --root ROOT --trace ARGS PROGRAM, the run traced under qemu): in
// Docker (--platform linux/arm64) it does the job exactly as the program
// does in a chroot of the root. The image built without --trace does not,
// and doctor --run on it (the static x86-64 fromscratch bind-mounted into
// the arm64 container, tracing the entrypoint run through binfmt_misc)
// exits 1 naming a path it lacks and the root has, none of qemu's.
func TestArm64BuildTrace(t *testing.T) {
	root := arm64PythonRoot(t)
	requireDocker(t)
	bin := fromscratchBin(t)
	for _, j := range arm64Jobs {
		t.Run(j.name, func(t *testing.T) {
			out, errOut, err := chrootRun(root, j.stdin, j.argv[0], j.argv[1:]...)
			if err != nil || out != j.want {
				t.Fatalf("in a chroot of %s: %v, stdout %q, want %q\n%s", root, err, out, j.want, errOut)
			}
			want := runResult{stdout: out}
			job := realJob{name: "arm64-" + j.name, argv: j.argv, stdin: j.stdin}
			traceArgs, err := json.Marshal(j.argv[1:])
			if err != nil {
				t.Fatal(err)
			}
			tag, tarPath := buildJobImage(t, bin, job, []string{"--root", root, "--trace", string(traceArgs), j.argv[0]})
			if cfg := imageTarConfig(t, tarPath); cfg.Architecture != "arm64" {
				t.Errorf("image architecture %q, want arm64", cfg.Architecture)
			}
			compareRuns(t, "traced arm64 image", job, want, arm64ContainerRun(t, tag, job))
			checkImageOverhead(t, tarPath, 1.1)
			checkContainerTrace(t, bin, tag, j)

			plainTag, plainTar := buildJobImage(t, bin, job, []string{"--root", root, j.argv[0]})
			if plain := arm64ContainerRun(t, plainTag, job); plain.code == 0 && plain.stdout == want.stdout {
				t.Errorf("the image built without --trace does the job too: the job tests nothing")
			}
			cmd := exec.Command(bin, append([]string{"doctor", "--json", "docker-archive:" + plainTar, "--run", "--root", root, "--"}, j.argv[1:]...)...)
			r := runCmd(t, cmd, j.stdin)
			var rep doctorRunJSON
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 1 || rep.Healthy {
				t.Fatalf("doctor --run on the arm64 image built without --trace: exit %d (%v), want 1\nstdout: %s\nstderr: %s", r.code, err, clip(r.stdout), clip(r.stderr))
			}
			if strings.Contains(r.stderr, "does not match the detected host platform") {
				t.Errorf("doctor --run: Docker warns of the platform (no --platform linux/arm64): %s", clip(r.stderr))
			}
			named := ""
			for _, m := range rep.Missing {
				if qemuPath(m.Path) {
					t.Errorf("doctor --run names qemu's %s", m.Path)
				}
				if m.InRoot != "" && named == "" {
					named = m.Path
				}
			}
			if named == "" {
				t.Errorf("doctor --run names no missing path the root has: %+v", rep.Missing)
			} else {
				t.Logf("doctor --run names %s (%d paths missing)", named, len(rep.Missing))
			}
		})
	}
}

// checkContainerTrace traces the job in a container of the arm64 image
// tag, as doctor --run and slim --probe do (the static fromscratch
// bind-mounted as the entrypoint): it does the job, and the trace lists
// the job's paths found and none of qemu's (the qemu-aarch64-static that
// runs the program is the host's, not the image's).
func checkContainerTrace(t *testing.T, bin, tag string, j arm64Job) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o1777); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker", append([]string{"run", "--rm", "-i", "--network", "none", "--platform", "linux/arm64",
		"-v", bin + ":/fromscratch:ro", "-v", dir + ":/out", "--entrypoint", "/fromscratch", tag,
		"trace", "--json", "-o", "/out/trace.json", "--"}, j.argv...)...)
	if r := runCmd(t, cmd, j.stdin); r.code != 0 || r.stdout != j.want {
		t.Fatalf("traced in the container: exit %d, stdout %q, want %q\nstderr: %s", r.code, r.stdout, j.want, clip(r.stderr))
	}
	b, err := os.ReadFile(filepath.Join(dir, "trace.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tf traceJSON
	if err := json.Unmarshal(b, &tf); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, a := range tf.Accesses {
		if qemuPath(a.Path) {
			t.Errorf("the trace in the container lists qemu's %s (%s, found %v)", a.Path, a.Op, a.Found)
		}
		found[a.Path] = found[a.Path] || a.Found
	}
	for _, p := range j.uses {
		if !found[p] {
			t.Errorf("the trace in the container does not list %s found", p)
		}
	}
}

// arm64ContainerRun runs the job in the arm64 image tag.
func arm64ContainerRun(t *testing.T, tag string, j realJob) runResult {
	t.Helper()
	cmd := exec.Command("docker", append([]string{"run", "--rm", "-i", "--network", "none", "--platform", "linux/arm64", tag}, j.argv[1:]...)...)
	return runCmd(t, cmd, j.stdin)
}

// TestArm64BuildTraceIndex builds python3 from the host root and the arm64
// root with the trace route in one command (build --root linux/amd64=/
// --root linux/arm64=ROOT --trace ARGS), pushed to a registry as an index:
// the job is traced in each root, and each entry of the index does it in
// Docker.
func TestArm64BuildTraceIndex(t *testing.T) {
	if runtime.GOARCH == "arm64" {
		t.Skip("the host root is linux/arm64 too: the index needs two platforms")
	}
	hostPlat := "linux/" + runtime.GOARCH
	j := arm64Jobs[0]
	requireFile(t, j.argv[0])
	root := arm64PythonRoot(t)
	requireDocker(t)
	if out, errOut, code := runCommand(t, exec.Command(j.argv[0], j.argv[1:]...), ""); code != 0 || out != j.want {
		t.Fatalf("on the host: exit %d, stdout %q, want %q\n%s", code, out, j.want, errOut)
	}
	host := startRegistry(t)
	ref := fmt.Sprintf("%s/fromscratch-test/arm64-trace-index:%d", host, os.Getpid())
	traceArgs, err := json.Marshal(j.argv[1:])
	if err != nil {
		t.Fatal(err)
	}
	_, errOut, code := cliRun{}.run(t, "build", "--root", hostPlat+"=/", "--root", "linux/arm64="+root, "--trace", string(traceArgs), "--insecure", "--push", ref, j.argv[0])
	if code != 0 {
		t.Fatalf("build: exit %d\n%s", code, errOut)
	}
	for _, r := range []string{hostPlat + "=/", "linux/arm64=" + root} {
		if !strings.Contains(errOut, " in "+r+": exit 0, ") {
			t.Errorf("build's stderr has no traced run in %s:\n%s", r, errOut)
		}
	}
	digests := map[string]string{}
	for _, m := range indexManifest(t, remoteIndex(t, ref)).Manifests {
		if m.Platform != nil {
			digests[m.Platform.String()] = m.Digest.String()
		}
	}
	for _, plat := range []string{hostPlat, "linux/arm64"} {
		d, ok := digests[plat]
		if !ok {
			t.Errorf("no %s in the index %v", plat, digests)
			continue
		}
		entry := ref[:strings.LastIndex(ref, ":")] + "@" + d
		run(t, "", "docker", "pull", "--platform", plat, entry)
		t.Cleanup(func() { exec.Command("docker", "rmi", "-f", entry).Run() })
		cmd := exec.Command("docker", append([]string{"run", "--rm", "--network", "none", "--platform", plat, entry}, j.argv[1:]...)...)
		if got := runCmd(t, cmd, ""); got.code != 0 || got.stdout != j.want {
			t.Errorf("%s entry: exit %d, stdout %q, want %q\nstderr: %s", plat, got.code, got.stdout, j.want, clip(got.stderr))
		}
	}
}

// TestArm64SlimProbe slims an arm64 image FROM scratch of the whole arm64
// root (python3 its entrypoint) with --probe: the probe is traced in the
// arm64 container under qemu, the slim image is at least 10 times smaller
// and does the job in Docker as the root does.
func TestArm64SlimProbe(t *testing.T) {
	root := arm64PythonRoot(t)
	requireDocker(t)
	j := arm64Jobs[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	fat := rootDirImage(ctx, t, root, "arm64")
	cf, err := fat.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config
	cfg.Entrypoint = []string{j.argv[0]}
	if fat, err = mutate.Config(fat, cfg); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fatTar, slimTar := filepath.Join(dir, "fat.tar"), filepath.Join(dir, "slim.tar")
	if err := tarball.WriteToFile(fatTar, name.MustParseReference("fromscratch-test/arm64-fat:latest"), fat); err != nil {
		t.Fatal(err)
	}
	probe, err := json.Marshal(j.argv[1:])
	if err != nil {
		t.Fatal(err)
	}
	tag := uniqueTag("arm64-slim")
	out, errOut, code := cliRun{}.run(t, "slim", "-o", slimTar, "-t", tag, "--probe="+string(probe), "docker-archive:"+fatTar)
	if code != 0 {
		t.Fatalf("slim --probe: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	run(t, "", "docker", "load", "-i", slimTar)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	job := realJob{name: "arm64-slim", argv: j.argv}
	if got := arm64ContainerRun(t, tag, job); got.code != 0 || got.stdout != j.want {
		t.Errorf("slim image: exit %d, stdout %q, want %q\nstderr: %s", got.code, got.stdout, j.want, clip(got.stderr))
	}
	fatSize, slimSize := uncompressedBytes(t, fat), uncompressedBytes(t, archiveImage(t, slimTar))
	t.Logf("fat %d bytes, slim %d bytes (%.1fx smaller)", fatSize, slimSize, float64(fatSize)/float64(slimSize))
	if slimSize*10 > fatSize {
		t.Errorf("slim image %d bytes, fat %d: not 10 times smaller", slimSize, fatSize)
	}
}
