//go:build linux && (amd64 || arm64)

package tracer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fromscratch/fromscratch/internal/testenv"
)

// requireTool returns the path of a program the test needs, or stops the
// test (see testenv.Tool); scripts/test installs them all.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	return testenv.Tool(t, name)
}

// traceRun runs argv in dir under the tracer (mechanism m) with stdin,
// and fails the test on an error of the tracer.
func traceRun(t *testing.T, m Mechanism, dir, stdin string, argv ...string) (*Result, string) {
	t.Helper()
	var stdout bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{Argv: argv, Dir: dir, Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: os.Stderr, Mechanism: m})
	if err != nil {
		t.Fatalf("Run(%q) = %v", argv, err)
	}
	if res.Mechanism != m {
		t.Fatalf("Run(%q) traced with %q, want %q", argv, res.Mechanism, m)
	}
	return res, stdout.String()
}

// mechanisms runs f as a subtest for each mechanism. eBPF needs root
// and a kernel that loads the programs: required in CI (scripts/test runs
// the tests as root on a kernel with BTF).
func mechanisms(t *testing.T, f func(t *testing.T, m Mechanism)) {
	for _, m := range []Mechanism{Ptrace, EBPF} {
		t.Run(string(m), func(t *testing.T) {
			if m == EBPF {
				requireBPF(t)
			}
			f(t, m)
		})
	}
}

func requireBPF(t *testing.T) {
	t.Helper()
	b, err := loadBPF()
	if err != nil {
		testenv.Missing(t, "the eBPF tracer cannot load here (needs root and a kernel with BTF): %v", err)
	}
	b.close()
}

// found returns the set of paths found, by op, and every path.
func found(res *Result) (map[string]bool, map[Op]map[string]bool) {
	all := map[string]bool{}
	byOp := map[Op]map[string]bool{}
	for _, a := range res.Accesses {
		if !a.Found {
			continue
		}
		all[a.Path] = true
		if byOp[a.Op] == nil {
			byOp[a.Op] = map[string]bool{}
		}
		byOp[a.Op][a.Path] = true
	}
	return all, byOp
}

// straceLine is one line of strace -ff: NAME(ARGS) = RESULT.
var straceLine = regexp.MustCompile(`^(\w+)\((.*)\)\s+= (-?\d+|\?)`)

// straceArg is the path argument: the first string, after AT_FDCWD or
// nothing (a path relative to another fd is not checked).
var straceArg = regexp.MustCompile(`^(?:AT_FDCWD, )?"((?:[^"\\]|\\.)*)"`)

// straceOracle runs argv under strace -ff -e trace=file (in dir, with
// stdin) and returns the absolute paths it shows successfully opened,
// executed, stat'ed, checked with access or read as links, outside /proc,
// /sys and /dev and not created by the run (opened with O_CREAT, mkdir'd,
// renamed or linked to).
func straceOracle(t *testing.T, dir, stdin string, argv ...string) map[string]bool {
	t.Helper()
	strace := requireTool(t, "strace")
	out := filepath.Join(t.TempDir(), "st")
	cmd := exec.Command(strace, append([]string{"-ff", "-qq", "-s", "4096", "-e", "trace=file", "-e", "signal=none", "-o", out}, argv...)...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	if b, err := cmd.CombinedOutput(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("strace %q: %v\n%s", argv, err, b)
		}
	}
	files, _ := filepath.Glob(out + ".*")
	if len(files) == 0 {
		t.Fatalf("strace %q wrote no trace", argv)
	}
	used := map[string]bool{}
	created := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			m := straceLine.FindStringSubmatch(sc.Text())
			if m == nil || strings.HasPrefix(m[3], "-") {
				continue
			}
			name, args := m[1], m[2]
			switch name {
			case "mkdir", "mkdirat", "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat":
				// The path created is the last string.
				all := regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`).FindAllStringSubmatch(args, -1)
				if len(all) > 0 {
					created[filepath.Clean(all[len(all)-1][1])] = true
				}
				continue
			case "open", "openat", "openat2", "creat", "execve", "execveat", "stat", "lstat", "newfstatat", "statx",
				"access", "faccessat", "faccessat2", "readlink", "readlinkat":
			default:
				continue
			}
			a := straceArg.FindStringSubmatch(args)
			if a == nil || strings.Contains(a[1], `\`) || !strings.HasPrefix(a[1], "/") {
				continue
			}
			p := filepath.Clean(a[1])
			if name == "creat" || strings.Contains(args, "O_CREAT") {
				created[p] = true
				continue
			}
			used[p] = true
		}
	}
	for p := range used {
		if created[p] || p == "/proc" || p == "/sys" || p == "/dev" ||
			strings.HasPrefix(p, "/proc/") || strings.HasPrefix(p, "/sys/") || strings.HasPrefix(p, "/dev/") {
			delete(used, p)
		}
	}
	return used
}

// compareOracle checks that every path strace saw used is found in res: as
// it is, or (a path with "..") as the same real path.
func compareOracle(t *testing.T, oracle map[string]bool, res *Result) {
	t.Helper()
	got, _ := found(res)
	var real map[string]bool
	missing := 0
	for p := range oracle {
		if got[p] {
			continue
		}
		if real == nil {
			real = map[string]bool{}
			for g := range got {
				if r, err := filepath.EvalSymlinks(g); err == nil {
					real[r] = true
				}
			}
		}
		if r, err := filepath.EvalSymlinks(p); err == nil && real[r] {
			continue
		}
		missing++
		if missing <= 20 {
			t.Errorf("strace shows %s used; the tracer does not list it found", p)
		}
	}
	if missing > 20 {
		t.Errorf("... %d paths missing in all", missing)
	}
	if len(oracle) < 5 {
		t.Errorf("strace shows only %d paths: %v", len(oracle), oracle)
	}
}

func TestPythonImport(t *testing.T) {
	py := requireTool(t, "/usr/bin/python3")
	argv := []string{py, "-c", "import json, email.parser, decimal; print(json.dumps([1]))"}
	oracle := straceOracle(t, "/", "", argv...)
	mechanisms(t, func(t *testing.T, m Mechanism) {
		res, out := traceRun(t, m, "/", "", argv...)
		if res.ExitCode != 0 || out != "[1]\n" {
			t.Fatalf("exit %d, stdout %q; want 0, [1]", res.ExitCode, out)
		}
		compareOracle(t, oracle, res)
		got, byOp := found(res)
		if !byOp[OpExec][py] {
			t.Errorf("%s not recorded as exec", py)
		}
		var jsonInit, dynload bool
		for p := range got {
			jsonInit = jsonInit || strings.HasSuffix(p, "/json/__init__.py") || strings.Contains(p, "/json/__pycache__/__init__.")
			dynload = dynload || strings.Contains(p, "/lib-dynload/_decimal.")
		}
		if !jsonInit || !dynload {
			t.Errorf("json package found %v, lib-dynload/_decimal found %v: want both", jsonInit, dynload)
		}
		// Each (path, op) once; Pid set.
		seen := map[string]bool{}
		for _, a := range res.Accesses {
			k := a.Path + "\x00" + string(a.Op)
			if seen[k] {
				t.Errorf("%s %s recorded twice", a.Op, a.Path)
			}
			seen[k] = true
			if a.Pid <= 0 || !filepath.IsAbs(a.Path) || filepath.Clean(a.Path) != a.Path {
				t.Errorf("access %+v: want an absolute clean path and a pid", a)
			}
			if strings.HasPrefix(a.Path, "/proc/") || strings.HasPrefix(a.Path, "/dev/") || strings.HasPrefix(a.Path, "/sys/") {
				t.Errorf("access %+v: /proc, /sys and /dev are left out", a)
			}
		}
	})
}

func TestIconvGconv(t *testing.T) {
	iconv := requireTool(t, "iconv")
	argv := []string{iconv, "-f", "UTF-8", "-t", "ISO-8859-1"}
	oracle := straceOracle(t, "/", "hé\n", argv...)
	mechanisms(t, func(t *testing.T, m Mechanism) {
		res, out := traceRun(t, m, "/", "hé\n", argv...)
		if res.ExitCode != 0 || out != "h\xe9\n" {
			t.Fatalf("exit %d, stdout %q; want 0, h\\xe9", res.ExitCode, out)
		}
		compareOracle(t, oracle, res)
		got, _ := found(res)
		var module bool
		for p := range got {
			module = module || strings.HasSuffix(p, "/gconv/ISO8859-1.so")
		}
		if !module {
			t.Errorf("gconv/ISO8859-1.so not found in %v", got)
		}
	})
}

// A shell: forks, relative paths after chdir, a subshell in the
// background, files and directories it makes, a listing, an exit status.
func TestShellForksRelativePaths(t *testing.T) {
	sh := requireTool(t, "sh")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte("input\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "listed"), 0o755); err != nil {
		t.Fatal(err)
	}
	// link/.. is real, not dir: ".." after a symbolic link goes up from
	// where the link points, as the kernel walks it.
	if err := os.MkdirAll(filepath.Join(dir, "real/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "real/f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real/sub", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	script := `cat link/../f && mkdir made && cd made && echo x > new.txt && cat new.txt ../in.txt && ls ../listed >/dev/null
(cd /usr/share && cat ./common-licenses/GPL-3 >/dev/null) &
wait; test -e ../no-such-file; exit 7`
	argv := []string{sh, "-c", script}
	oracle := straceOracle(t, dir, "", argv...)
	mechanisms(t, func(t *testing.T, m Mechanism) {
		os.RemoveAll(filepath.Join(dir, "made"))
		res, out := traceRun(t, m, dir, "", argv...)
		if res.ExitCode != 7 || out != "x\ninput\n" {
			t.Fatalf("exit %d, stdout %q; want 7, x input", res.ExitCode, out)
		}
		compareOracle(t, oracle, res)
		got, byOp := found(res)
		for _, want := range []string{filepath.Join(dir, "in.txt"), "/usr/share/common-licenses/GPL-3", filepath.Join(dir, "real/f")} {
			if !byOp[OpOpen][want] {
				t.Errorf("%s (opened by a relative path) not found", want)
			}
		}
		if !byOp[OpList][filepath.Join(dir, "listed")] {
			t.Errorf("%s listed by ls: no list access", filepath.Join(dir, "listed"))
		}
		for p := range got {
			if strings.HasPrefix(p, filepath.Join(dir, "made")) {
				t.Errorf("%s was created by the run: it is listed", p)
			}
		}
		var notFound bool
		for _, a := range res.Accesses {
			if a.Path == filepath.Join(dir, "no-such-file") {
				notFound = !a.Found
			}
		}
		if !notFound {
			t.Errorf("%s: not recorded as not found", filepath.Join(dir, "no-such-file"))
		}
	})
}

// TestCreatedParent: the directories the run creates paths in are listed
// found (a server needs /run for its pid file), the created paths are not.
func TestCreatedParent(t *testing.T) {
	mechanisms(t, func(t *testing.T, m Mechanism) {
		sh := requireTool(t, "sh")
		dir := t.TempDir()
		for _, d := range []string{"run", "lib"} {
			if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		res, _ := traceRun(t, m, dir, "", sh, "-c", "echo 1 > run/x.pid && mkdir lib/body && mkdir -p new/a/b")
		if res.ExitCode != 0 {
			t.Fatalf("exit %d", res.ExitCode)
		}
		_, byOp := found(res)
		for _, d := range []string{"run", "lib"} {
			if !byOp[OpStat][filepath.Join(dir, d)] {
				t.Errorf("%s, a file or directory was created in, is not listed found", filepath.Join(dir, d))
			}
		}
		for _, a := range res.Accesses {
			if rel, _ := filepath.Rel(dir, a.Path); rel == "run/x.pid" || rel == "lib/body" || strings.HasPrefix(rel, "new") {
				t.Errorf("%s (%s) was created by the run: it is listed", a.Path, a.Op)
			}
		}
	})
}

// Threads open files; a thread that is not the leader executes a program.
func TestThreads(t *testing.T) {
	mechanisms(t, func(t *testing.T, m Mechanism) {
		py := requireTool(t, "/usr/bin/python3")
		dir := t.TempDir()
		var names []string
		for i := range 8 {
			n := filepath.Join(dir, "f"+string(rune('a'+i)))
			names = append(names, n)
			if err := os.WriteFile(n, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		script := `
import os, sys, threading
def work(names):
    for n in names:
        open(n).read()
ts = [threading.Thread(target=work, args=([n],)) for n in sys.argv[1:]]
for t in ts: t.start()
for t in ts: t.join()
e = threading.Thread(target=lambda: os.execv("/bin/sh", ["sh", "-c", "cat /etc/hostname >/dev/null; exit 5"]))
e.start()
e.join()
`
		res, _ := traceRun(t, m, "/", "", append([]string{py, "-c", script}, names...)...)
		if res.ExitCode != 5 {
			t.Errorf("exit %d, want 5 (the program a thread executed)", res.ExitCode)
		}
		_, byOp := found(res)
		for _, n := range append(names, "/etc/hostname") {
			if !byOp[OpOpen][n] {
				t.Errorf("%s not found", n)
			}
		}
		if !byOp[OpExec]["/bin/sh"] {
			t.Errorf("/bin/sh (executed by a thread) not recorded")
		}
	})
}

func TestGccCompile(t *testing.T) {
	gcc := requireTool(t, "gcc")
	dir := t.TempDir()
	src := "#include <stdio.h>\n#include <math.h>\nint main(void) { printf(\"%f\\n\", sqrt(2.0)); return 0; }\n"
	if err := os.WriteFile(filepath.Join(dir, "hello.c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	argv := []string{gcc, "-O1", "-o", "hello", "hello.c", "-lm"}
	oracle := straceOracle(t, dir, "", argv...)
	mechanisms(t, func(t *testing.T, m Mechanism) {
		os.Remove(filepath.Join(dir, "hello"))
		res, _ := traceRun(t, m, dir, "", argv...)
		if res.ExitCode != 0 {
			t.Fatalf("gcc exit %d", res.ExitCode)
		}
		if _, err := os.Stat(filepath.Join(dir, "hello")); err != nil {
			t.Fatalf("gcc made no program: %v", err)
		}
		compareOracle(t, oracle, res)
		got, byOp := found(res)
		var cc1, ld bool
		for p := range byOp[OpExec] {
			cc1 = cc1 || strings.HasSuffix(p, "/cc1")
			ld = ld || strings.HasSuffix(p, "/ld") || strings.Contains(p, "/ld.")
		}
		if !cc1 || !ld {
			t.Errorf("cc1 executed %v, ld executed %v: want both (%v)", cc1, ld, byOp[OpExec])
		}
		if got[filepath.Join(dir, "hello")] {
			t.Errorf("the output %s, created by the run, is listed", filepath.Join(dir, "hello"))
		}
		if !byOp[OpOpen][filepath.Join(dir, "hello.c")] || !got["/usr/include/stdio.h"] {
			t.Errorf("hello.c or /usr/include/stdio.h not found")
		}
	})
}

func TestTimeoutKillsTree(t *testing.T) {
	mechanisms(t, func(t *testing.T, m Mechanism) {
		sh := requireTool(t, "sh")
		start := time.Now()
		res, err := Run(context.Background(), Options{Mechanism: m,
			Argv:    []string{sh, "-c", "cat /etc/hostname >/dev/null; sleep 60 & sleep 60; wait"},
			Timeout: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("Run took %v with a 1 s timeout", d)
		}
		if !res.TimedOut || res.ExitCode != 128+9 {
			t.Errorf("TimedOut %v, exit %d; want true, 137", res.TimedOut, res.ExitCode)
		}
		if _, byOp := found(res); !byOp[OpOpen]["/etc/hostname"] {
			t.Errorf("the trace before the timeout is lost: %v", res.Accesses)
		}
	})
}

func TestCancel(t *testing.T) {
	mechanisms(t, func(t *testing.T, m Mechanism) {
		sh := requireTool(t, "sh")
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		res, err := Run(ctx, Options{Mechanism: m, Argv: []string{sh, "-c", "cat /etc/hostname >/dev/null; sleep 60"}})
		if !errors.Is(err, context.DeadlineExceeded) || res == nil {
			t.Fatalf("Run = %v, %v; want the trace and the context's error", res, err)
		}
		if _, byOp := found(res); !byOp[OpOpen]["/etc/hostname"] {
			t.Errorf("the trace before the cancel is lost: %v", res.Accesses)
		}
	})
}

func TestExitStatus(t *testing.T) {
	mechanisms(t, func(t *testing.T, m Mechanism) {
		sh := requireTool(t, "sh")
		for script, want := range map[string]int{"exit 0": 0, "exit 3": 3, "kill -TERM $$": 128 + 15} {
			res, _ := traceRun(t, m, "/", "", sh, "-c", script)
			if res.ExitCode != want {
				t.Errorf("sh -c %q: exit %d, want %d", script, res.ExitCode, want)
			}
		}
	})
}

func TestCannotStart(t *testing.T) {
	mechanisms(t, func(t *testing.T, m Mechanism) {
		dir := t.TempDir()
		notExec := filepath.Join(dir, "data")
		if err := os.WriteFile(notExec, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			argv []string
			want string
		}{
			{[]string{"no-such-program-fromscratch"}, "not found in PATH"},
			{[]string{"/no/such/program"}, "no such file"},
			{[]string{notExec}, "permission denied"},
			{nil, "no program"},
		} {
			res, err := Run(context.Background(), Options{Mechanism: m, Argv: tc.argv})
			if !errors.Is(err, ErrStart) || !strings.Contains(err.Error(), tc.want) || res != nil {
				t.Errorf("Run(%q) = %v, %v; want ErrStart saying %q", tc.argv, res, err, tc.want)
			}
		}
		if os.Geteuid() != 0 {
			if _, err := Run(context.Background(), Options{Mechanism: m, Argv: []string{"/bin/true"}, Root: dir}); !errors.Is(err, ErrStart) {
				t.Errorf("Root as a user: %v; want ErrStart", err)
			}
		}
	})
}

// Root: a busybox-static tree; paths are as the program sees them.
func TestRoot(t *testing.T) {
	mechanisms(t, func(t *testing.T, m Mechanism) {
		if os.Geteuid() != 0 {
			testenv.Missing(t, "chroot needs root")
		}
		busybox := "/bin/busybox"
		if _, err := os.Stat(busybox); err != nil {
			busybox = requireTool(t, "busybox")
		}
		root := t.TempDir()
		for _, d := range []string{"bin", "etc", "data"} {
			if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(busybox)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "bin/busybox"), b, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, applet := range []string{"sh", "cat", "touch"} {
			if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(root, "etc/motd"), []byte("hello\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout bytes.Buffer
		res, err := Run(context.Background(), Options{Mechanism: m,
			Argv:   []string{"sh", "-c", "cat /etc/motd; cat ../etc/motd; cat /etc/missing; touch new; exit 4"},
			Env:    []string{"PATH=/bin"},
			Root:   root,
			Dir:    "/data",
			Stdout: &stdout,
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 4 || stdout.String() != "hello\nhello\n" {
			t.Errorf("exit %d, stdout %q; want 4, hello twice", res.ExitCode, stdout.String())
		}
		got, byOp := found(res)
		if !byOp[OpOpen]["/etc/motd"] || !byOp[OpExec]["/bin/sh"] || !byOp[OpExec]["/bin/busybox"] {
			t.Errorf("want /etc/motd opened, /bin/sh and /bin/busybox executed, as inside the root: %v", res.Accesses)
		}
		for p := range got {
			if strings.HasPrefix(p, root) || p == "/data/new" {
				t.Errorf("%s listed: paths are inside the root, created files left out", p)
			}
		}
		var missing bool
		for _, a := range res.Accesses {
			missing = missing || (a.Path == "/etc/missing" && !a.Found)
		}
		if !missing {
			t.Errorf("/etc/missing not recorded as not found")
		}
	})
}

// All keeps /dev and the files the run created.
func TestAll(t *testing.T) {
	mechanisms(t, func(t *testing.T, m Mechanism) {
		sh := requireTool(t, "sh")
		dir := t.TempDir()
		res, err := Run(context.Background(), Options{Mechanism: m, Argv: []string{sh, "-c", "echo x >made; cat made </dev/null"}, Dir: dir, All: true})
		if err != nil {
			t.Fatal(err)
		}
		_, byOp := found(res)
		if !byOp[OpOpen][filepath.Join(dir, "made")] || !byOp[OpOpen]["/dev/null"] {
			t.Errorf("All: want %s and /dev/null: %v", filepath.Join(dir, "made"), res.Accesses)
		}
	})
}

// TestUserAndBinds: as root, a run as another user with a file mounted
// over /etc/passwd sees that user and that file, and records the path it
// used as /etc/passwd; the host's /etc/passwd is untouched, for the
// tracer as for everyone else.
func TestUserAndBinds(t *testing.T) {
	mechanisms(t, func(t *testing.T, m Mechanism) {
		if os.Geteuid() != 0 {
			testenv.Missing(t, "needs root (mount namespaces, another user); CI runs as root")
		}
		before, err := os.ReadFile("/etc/passwd")
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		mine := filepath.Join(dir, "passwd")
		if err := os.WriteFile(mine, []byte("nonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		res, err := Run(context.Background(), Options{Mechanism: m,
			Argv: []string{"/bin/sh", "-c", "id -u; id -g; cat /etc/passwd"}, Env: []string{"PATH=/usr/bin:/bin"},
			Stdout: &out, Stderr: &out, User: true, UID: 65532, GID: 65532,
			Binds: []Bind{{Source: mine, Target: "/etc/passwd"}},
		})
		if err != nil {
			t.Fatalf("Run() = %v", err)
		}
		if want := "65532\n65532\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n"; res.ExitCode != 0 || out.String() != want {
			t.Errorf("run: exit %d, output %q; want 0, %q", res.ExitCode, out.String(), want)
		}
		found := false
		for _, a := range res.Accesses {
			found = found || a.Path == "/etc/passwd" && a.Op == OpOpen && a.Found
		}
		if !found {
			t.Errorf("/etc/passwd not recorded as opened: %+v", res.Accesses)
		}
		after, err := os.ReadFile("/etc/passwd")
		if err != nil || !bytes.Equal(before, after) {
			t.Errorf("the host's /etc/passwd changed after the run (%v)", err)
		}
	})
}

// A script run by a relative path after a relative cd: its #! interpreter
// is recorded as executed, the paths relative to the new directory are
// resolved from it, a failed cd is not found.
func TestScriptAfterChdir(t *testing.T) {
	sh := requireTool(t, "sh")
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub/run.sh"), []byte("#!/bin/sh\ncat ../data.txt\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.txt"), []byte("data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mechanisms(t, func(t *testing.T, m Mechanism) {
		res, out := traceRun(t, m, dir, "", sh, "-c", "cd nosuch 2>/dev/null; cd sub && ./run.sh")
		if res.ExitCode != 0 || out != "data\n" {
			t.Fatalf("exit %d, stdout %q; want 0, data", res.ExitCode, out)
		}
		_, byOp := found(res)
		for op, p := range map[Op]string{OpExec: filepath.Join(dir, "sub/run.sh"), OpOpen: filepath.Join(dir, "data.txt"), OpChdir: filepath.Join(dir, "sub")} {
			if !byOp[op][p] {
				t.Errorf("%s %s not found: %v", op, p, res.Accesses)
			}
		}
		if !byOp[OpExec]["/bin/sh"] {
			t.Errorf("/bin/sh, run.sh's interpreter, not recorded as executed")
		}
		var missing bool
		for _, a := range res.Accesses {
			missing = missing || (a.Op == OpChdir && a.Path == filepath.Join(dir, "nosuch") && !a.Found)
		}
		if !missing {
			t.Errorf("chdir %s: not recorded as not found", filepath.Join(dir, "nosuch"))
		}
	})
}

// Traces at once: each sees its own process tree only.
func TestTracesAtOnce(t *testing.T) {
	sh := requireTool(t, "sh")
	dir := t.TempDir()
	mechanisms(t, func(t *testing.T, m Mechanism) {
		const n = 4
		results := make([]*Result, n)
		errs := make([]error, n)
		done := make(chan int)
		for i := range n {
			f := filepath.Join(dir, fmt.Sprintf("%s-%d", m, i))
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			go func() {
				defer func() { done <- i }()
				results[i], errs[i] = Run(context.Background(), Options{Mechanism: m,
					Argv: []string{sh, "-c", "for i in 1 2 3 4 5; do cat " + f + "; done; (cat " + f + ")"}})
			}()
		}
		for range n {
			<-done
		}
		for i, res := range results {
			if errs[i] != nil {
				t.Fatalf("run %d: %v", i, errs[i])
			}
			_, byOp := found(res)
			for p := range byOp[OpOpen] {
				if strings.HasPrefix(p, dir) && p != filepath.Join(dir, fmt.Sprintf("%s-%d", m, i)) {
					t.Errorf("run %d records %s, another run's", i, p)
				}
			}
			if !byOp[OpOpen][filepath.Join(dir, fmt.Sprintf("%s-%d", m, i))] {
				t.Errorf("run %d: its own file not recorded", i)
			}
		}
	})
}

// A call given a path it cannot read (EFAULT) is left out, and the trace
// goes on.
func TestUnreadablePath(t *testing.T) {
	py := requireTool(t, "/usr/bin/python3")
	mechanisms(t, func(t *testing.T, m Mechanism) {
		res, out := traceRun(t, m, "/", "", py, "-c", "import ctypes; print(ctypes.CDLL(None).access(ctypes.c_void_p(1), 0)); open('/etc/hostname')")
		if res.ExitCode != 0 || out != "-1\n" {
			t.Fatalf("exit %d, stdout %q; want 0, -1", res.ExitCode, out)
		}
		if _, byOp := found(res); !byOp[OpOpen]["/etc/hostname"] {
			t.Errorf("/etc/hostname, opened after the bad call, not recorded")
		}
	})
}

// TestMechanismsAgree: eBPF and ptrace list the same paths, ops and
// found, on a gcc compile and a shell script (forks, a relative cd,
// relative paths, a listing, files made and removed, a file used then
// replaced by a rename, a directory used, removed and made again).
func TestMechanismsAgree(t *testing.T) {
	gcc := requireTool(t, "gcc")
	requireBPF(t)
	dir := t.TempDir()
	src := "#include <stdio.h>\n#include <math.h>\nint main(void) { printf(\"%f\\n\", sqrt(2.0)); return 0; }\n"
	if err := os.WriteFile(filepath.Join(dir, "hello.c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "old"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, argv := range [][]string{
		{gcc, "-O2", "-o", "hello", "hello.c", "-lm"},
		{"/bin/sh", "-c", "cd /usr/share; ls doc >/dev/null; cat ./common-licenses/GPL-3 ../lib/os-release >/dev/null; cd " + dir + "; mkdir -p x/a; echo > x/a/b; rm -r x; test -e nosuch; " +
			"cat old; cp old new; mv new old; ls sub; rm -r sub; mkdir sub; exec ls hello.c >/dev/null"},
	} {
		lists := map[Mechanism][]string{}
		for _, m := range []Mechanism{Ptrace, EBPF} {
			os.Remove(filepath.Join(dir, "hello"))
			res, _ := traceRun(t, m, dir, "", argv...)
			if res.ExitCode != 0 {
				t.Fatalf("%s: %q: exit %d", m, argv, res.ExitCode)
			}
			for _, a := range res.Accesses {
				lists[m] = append(lists[m], fmt.Sprintf("%s %s %v", a.Op, a.Path, a.Found))
			}
			slices.Sort(lists[m])
		}
		if !slices.Equal(lists[Ptrace], lists[EBPF]) {
			p, e := strings.Join(lists[Ptrace], "\n"), strings.Join(lists[EBPF], "\n")
			t.Errorf("%q: ptrace and ebpf differ:\nptrace:\n%s\nebpf:\n%s", argv, p, e)
		}
	}
}

// Before Linux 6.9 (no may_goto) the walk is a counted loop: it loads
// and resolves relative paths as well.
func TestCountedLoop(t *testing.T) {
	sh := requireTool(t, "sh")
	requireBPF(t)
	before := noMayGoto.Load()
	noMayGoto.Store(true)
	defer noMayGoto.Store(before)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res, _ := traceRun(t, EBPF, dir, "", sh, "-c", "cat f")
	if _, byOp := found(res); !byOp[OpOpen][filepath.Join(dir, "f")] {
		t.Errorf("%s (a relative path) not found: %v", filepath.Join(dir, "f"), res.Accesses)
	}
}

// A relative path in a directory 100 levels deep is resolved.
func TestDeepDirectory(t *testing.T) {
	sh := requireTool(t, "sh")
	deep := t.TempDir()
	for range 100 {
		deep = filepath.Join(deep, "d")
	}
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(deep, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mechanisms(t, func(t *testing.T, m Mechanism) {
		res, _ := traceRun(t, m, deep, "", sh, "-c", "cat f")
		if _, byOp := found(res); !byOp[OpOpen][filepath.Join(deep, "f")] {
			t.Errorf("%s (a relative path, 100 levels down) not found", filepath.Join(deep, "f"))
		}
	})
}
