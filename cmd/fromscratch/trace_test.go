package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runTraceCLI runs fromscratch with args (in dir, with stdin) and returns
// stdout, stderr and the exit code.
func runTraceCLI(t *testing.T, dir, stdin string, cred *syscall.Credential, args ...string) (string, string, int) {
	t.Helper()
	return cliRun{dir: dir, stdin: stdin, cred: cred, limit: 2 * time.Minute}.run(t, args...)
}

// The text list: the comment line, the paths found sorted and once, the
// paths not found as comments; stdout and the exit status are the
// program's; the list goes to stderr after the program's own output.
func TestTraceText(t *testing.T) {
	sh := requireTool(t, "sh")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte("input\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runTraceCLI(t, dir, "from stdin\n", nil, "trace", "--", sh, "-c",
		"cat; cat in.txt; cat in.txt; echo err >&2; test -e /no/such/file; echo x >made; exit 3")
	if code != 3 || stdout != "from stdin\ninput\ninput\n" {
		t.Fatalf("exit %d, stdout %q; want 3 and the program's output", code, stdout)
	}
	head, list, ok := strings.Cut(stderr, "# fromscratch trace: ")
	if !ok || head != "err\n" {
		t.Fatalf("stderr %q: want the program's stderr then the list", stderr)
	}
	lines := strings.Split(strings.TrimSuffix(list, "\n"), "\n")
	if want := sh + ` -c 'cat; cat in.txt; cat in.txt; echo err >&2; test -e /no/such/file; echo x >made; exit 3' (exit 3)`; lines[0] != want {
		t.Errorf("first line %q, want %q", lines[0], want)
	}
	var paths, missing []string
	for _, l := range lines[1:] {
		if p, ok := strings.CutPrefix(l, "# not found: "); ok {
			missing = append(missing, p)
			continue
		}
		if len(missing) > 0 || strings.HasPrefix(l, "#") || !filepath.IsAbs(l) {
			t.Errorf("line %q: want absolute paths, then the not found comments", l)
		}
		paths = append(paths, l)
	}
	if !slices.IsSorted(paths) || len(slices.Compact(slices.Clone(paths))) != len(paths) {
		t.Errorf("paths not sorted and unique: %q", paths)
	}
	for _, want := range []string{filepath.Join(dir, "in.txt"), "/usr/bin/cat"} {
		if !slices.Contains(paths, want) {
			t.Errorf("%s not listed: %q", want, paths)
		}
	}
	if !slices.Contains(missing, "/no/such/file") {
		t.Errorf("/no/such/file not listed as not found: %q", missing)
	}
	if slices.Contains(paths, filepath.Join(dir, "made")) {
		t.Errorf("%s, created by the run, is listed", filepath.Join(dir, "made"))
	}
}

// A directory listed for its names (ls DIR: no path under it used) is
// also written as DIR/*, which build takes with its entries; one whose
// entry the run then read is not.
func TestTraceListedNames(t *testing.T) {
	ls := requireTool(t, "ls")
	sh := requireTool(t, "sh")
	dir := t.TempDir()
	for _, d := range []string{"names", "used"} {
		mkdir(t, filepath.Join(dir, d))
		writeFile(t, dir, d+"/a.txt", "a\n")
		writeFile(t, dir, d+"/b.txt", "b\n")
	}
	_, stderr, code := runTraceCLI(t, dir, "", nil, "trace", "--", sh, "-c", ls+" names used >/dev/null; cat used/a.txt >/dev/null")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	lines := strings.Split(stderr, "\n")
	for _, want := range []string{filepath.Join(dir, "names"), filepath.Join(dir, "names") + "/*", filepath.Join(dir, "used/a.txt")} {
		if !slices.Contains(lines, want) {
			t.Errorf("%s not listed:\n%s", want, stderr)
		}
	}
	if p := filepath.Join(dir, "used") + "/*"; slices.Contains(lines, p) {
		t.Errorf("%s listed, though the run read an entry of it:\n%s", p, stderr)
	}
}

// -o FILE and --json; a failing program still gets its trace written.
func TestTraceJSONOutput(t *testing.T) {
	sh := requireTool(t, "sh")
	dir := t.TempDir()
	out := filepath.Join(dir, "trace.json")
	stdout, stderr, code := runTraceCLI(t, dir, "", nil, "trace", "--json", "-o", out, "--", sh, "-c", "cat /etc/hostname >/dev/null; exit 1")
	if code != 1 || stdout != "" || stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 1 and nothing printed", code, stdout, stderr)
	}
	var got struct {
		Argv     []string `json:"argv"`
		ExitCode *int     `json:"exit_code"`
		TimedOut *bool    `json:"timed_out"`
		Accesses []struct {
			Path  string `json:"path"`
			Op    string `json:"op"`
			Found *bool  `json:"found"`
			Pid   int    `json:"pid"`
		} `json:"accesses"`
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v\n%s", out, err, b)
	}
	if len(got.Argv) != 3 || got.ExitCode == nil || *got.ExitCode != 1 || got.TimedOut == nil || *got.TimedOut {
		t.Errorf("argv %q exit_code %v timed_out %v", got.Argv, got.ExitCode, got.TimedOut)
	}
	var hostname bool
	for _, a := range got.Accesses {
		hostname = hostname || (a.Path == "/etc/hostname" && a.Op == "open" && a.Found != nil && *a.Found && a.Pid > 0)
	}
	if !hostname {
		t.Errorf("no open of /etc/hostname, found, with a pid: %s", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temp files left next to -o: %v", ents)
	}
}

// TestTraceStdoutList: -o - writes the list to stdout after the program's
// own output, and no file named "-".
func TestTraceStdoutList(t *testing.T) {
	sh := requireTool(t, "sh")
	dir := t.TempDir()
	stdout, stderr, code := runTraceCLI(t, dir, "", nil, "trace", "-o", "-", "--", sh, "-c", "echo out; cat /etc/hostname >/dev/null")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if !strings.HasPrefix(stdout, "out\n# fromscratch trace: ") || !strings.Contains(stdout, "\n/etc/hostname\n") {
		t.Errorf("stdout %q: want the program's line, then the list with /etc/hostname", stdout)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files written in the working directory: %v", ents)
	}
}

func TestTraceTimeout(t *testing.T) {
	sh := requireTool(t, "sh")
	dir := t.TempDir()
	start := time.Now()
	_, stderr, code := runTraceCLI(t, dir, "", nil, "trace", "--timeout", "1s", "--", sh, "-c", "cat /etc/hostname >/dev/null; sleep 60")
	if code != 137 || time.Since(start) > 30*time.Second {
		t.Errorf("exit %d after %v; want 137 soon after 1 s", code, time.Since(start))
	}
	if !strings.Contains(stderr, "(exit 137, timed out)\n") || !strings.Contains(stderr, "\n/etc/hostname\n") {
		t.Errorf("stderr %q: want the trace, marked timed out", stderr)
	}
	// With one P (a container limited to one CPU) the timeout fires too.
	start = time.Now()
	cmd := exec.Command(fromscratchBin(t), "trace", "--timeout", "1s", "-o", filepath.Join(dir, "t"), "--", sh, "-c", "sleep 60")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 137 || time.Since(start) > 30*time.Second {
		t.Errorf("GOMAXPROCS=1: %v after %v; want exit 137 soon after 1 s", err, time.Since(start))
	}
}

// A program that cannot be started, --root as a user, no program: one
// line, exit 2.
func TestTraceBadInput(t *testing.T) {
	dir := t.TempDir()
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	for _, tc := range []struct {
		args []string
		cred *syscall.Credential
		want string
	}{
		{[]string{"trace", "--", "no-such-program-fromscratch"}, nil, "fromscratch: trace: cannot start the program: no-such-program-fromscratch: not found in PATH\n"},
		{[]string{"trace", "--", "/no/such/program"}, nil, "fromscratch: trace: cannot start the program: /no/such/program: no such file"},
		{[]string{"trace"}, nil, "fromscratch: trace: want -- PROGRAM [ARGS...], got 0 arguments\n"},
		{[]string{"trace", "--root", dir, "--", "/bin/true"}, nobody, "fromscratch: trace: --root " + dir + ": needs root"},
		{[]string{"trace", "--tracer", "bogus", "--", "/bin/true"}, nil, "fromscratch: trace: --tracer bogus: want auto, ebpf or ptrace\n"},
		{[]string{"trace", "--tracer", "ebpf", "--", "/bin/true"}, nobody, "fromscratch: trace: cannot trace: eBPF needs root"},
	} {
		if tc.cred != nil {
			if os.Geteuid() != 0 {
				continue // only root can run it as another user
			}
			// The user must reach the binary.
			if err := os.Chmod(filepath.Dir(fromscratchBin(t)), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		stdout, stderr, code := runTraceCLI(t, "/", "", tc.cred, tc.args...)
		if code != 2 || stdout != "" || !strings.HasPrefix(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and one line %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
}

// The static fromscratch bind-mounted into a container of an image built by
// fromscratch, run as the image's user (65532) under Docker's default
// seccomp profile: the trace names the gconv files the image lacks.
func TestTraceInContainer(t *testing.T) {
	requireDocker(t)
	iconv := requireTool(t, "iconv")
	bin := fromscratchBin(t)
	tag := buildAndLoad(t, "trace-iconv", iconv)
	out, errOut, err := runErr("hé\n", "docker", "run", "--rm", "-i", "-v", bin+":/.fs/fromscratch:ro",
		"--entrypoint", "/.fs/fromscratch", tag, "trace", "--", iconv, "-f", "UTF-8", "-t", "ISO-8859-1")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("docker run: %v (want exit 1: iconv without its gconv modules)\nstdout %q\nstderr %s", err, out, errOut)
	}
	if !strings.Contains(errOut, "# fromscratch trace: "+iconv+" -f UTF-8 -t ISO-8859-1 (exit 1)\n") ||
		!strings.Contains(errOut, "\n# not found: /usr/lib/x86_64-linux-gnu/gconv/gconv-modules") ||
		!strings.Contains(errOut, "\n"+iconv+"\n") {
		t.Errorf("stderr: want the trace with the missing gconv-modules:\n%s", errOut)
	}
	// As the image's user, not root.
	out = dockerRun(t, "", "-v", bin+":/.fs/fromscratch:ro", "--entrypoint", "/.fs/fromscratch", tag,
		"trace", "--json", "-o", "/tmp/t.json", "--", iconv, "--version")
	if !strings.Contains(out, "iconv") {
		t.Errorf("iconv --version under the tracer in the container: %q", out)
	}
	// A seccomp profile that refuses ptrace: one line naming why, exit 2.
	profile := filepath.Join(t.TempDir(), "noptrace.json")
	if err := os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ptrace"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err = runErr("", "docker", "run", "--rm", "--security-opt", "seccomp="+profile, "-v", bin+":/.fs/fromscratch:ro",
		"--entrypoint", "/.fs/fromscratch", tag, "trace", "--", iconv, "--version")
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || out != "" || strings.Count(errOut, "\n") != 1 ||
		!strings.HasPrefix(errOut, "fromscratch: trace: cannot trace: ptrace: operation not permitted") {
		t.Errorf("ptrace refused by seccomp: %v, stdout %q, stderr %q; want exit 2 and one line", err, out, errOut)
	}
	user := run(t, "", "docker", "image", "inspect", "-f", "{{.Config.User}}", tag)
	if !strings.HasPrefix(user, "65532") {
		t.Errorf("image user %q: the test means to run as 65532", user)
	}
}
