package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fromscratch/fromscratch/internal/tartest"
	"github.com/fromscratch/fromscratch/internal/testenv"
)

// The arm64 Debian 12 root the tests below use, made by debootstrap once and
// cached: /var/cache/fromscratch/arm64-bookworm.
const (
	arm64CacheDir  = "/var/cache/fromscratch"
	arm64RootName  = "arm64-bookworm"
	arm64Marker    = ".fromscratch-debootstrap" // in the root: the command line that made it
	arm64Mirror    = "http://deb.debian.org/debian"
	arm64BuildTime = 45 * time.Minute
)

// arm64DebootstrapArgs is the debootstrap command line, ROOT standing for the
// target directory; the cache is valid only for the same line.
var arm64DebootstrapArgs = []string{
	"--arch=arm64", "--variant=minbase", "--include=jq,curl,sqlite3",
	"bookworm", "ROOT", arm64Mirror,
}

var (
	arm64Once sync.Once
	arm64Root string
	arm64Err  error
)

// skipOrFail stops the test for what the machine lacks (see
// testenv.Missing: a failure in CI, a skip elsewhere).
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	testenv.Missing(t, format, args...)
}

// requireQemuAarch64 skips (fails in CI) unless binfmt_misc runs aarch64
// programs with qemu.
func requireQemuAarch64(t *testing.T) {
	t.Helper()
	st, err := os.ReadFile("/proc/sys/fs/binfmt_misc/qemu-aarch64")
	if err != nil || !strings.HasPrefix(string(st), "enabled") {
		skipOrFail(t, "binfmt_misc qemu-aarch64 is not enabled (scripts/test enables it)")
	}
	// Without the F flag the interpreter would be looked up inside the
	// chroot, where there is none.
	for _, line := range strings.Split(string(st), "\n") {
		if f, ok := strings.CutPrefix(line, "flags: "); ok && !strings.Contains(f, "F") {
			skipOrFail(t, "binfmt_misc qemu-aarch64 lacks the F flag: it cannot run programs in a chroot")
		}
	}
}

// arm64DebianRoot returns the cached arm64 Debian 12 root, making it first
// if needed (a few minutes: debootstrap's second stage runs under qemu).
func arm64DebianRoot(t *testing.T) string {
	t.Helper()
	requireDebootstrap(t)
	requireQemuAarch64(t)
	arm64Once.Do(func() {
		arm64Root, arm64Err = ensureDebootstrapRoot(t, arm64RootName, arm64DebootstrapArgs, arm64BuildTime)
	})
	if arm64Err != nil {
		t.Fatalf("arm64 root: %v", arm64Err)
	}
	return arm64Root
}

// requireDebootstrap stops the test unless it may make a debootstrap root:
// not -short (minutes), as root, with debootstrap.
func requireDebootstrap(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("slow: needs a debootstrap")
	}
	if os.Geteuid() != 0 {
		skipOrFail(t, "debootstrap and chroot need root")
	}
	requireTool(t, "debootstrap")
}

// debootstrapRoot returns the cached amd64 root rootName made by
// debootstrap with dargs, making it first if needed (minutes).
func debootstrapRoot(t *testing.T, rootName string, dargs []string) string {
	t.Helper()
	requireDebootstrap(t)
	root, err := ensureDebootstrapRoot(t, rootName, dargs, 30*time.Minute)
	if err != nil {
		t.Fatalf("%s root: %v", rootName, err)
	}
	return root
}

// debootstrapCmdline is the marker of a root made by debootstrap args.
func debootstrapCmdline(dargs []string) string {
	return "debootstrap " + strings.Join(dargs, " ") + "\n"
}

// ensureDebootstrapRoot returns arm64CacheDir/NAME, made by debootstrap
// with dargs (ROOT standing for the target) unless a root made by the same
// command line is there.
func ensureDebootstrapRoot(t *testing.T, rootName string, dargs []string, buildTime time.Duration) (string, error) {
	final := filepath.Join(arm64CacheDir, rootName)
	if err := os.MkdirAll(arm64CacheDir, 0o755); err != nil {
		return "", err
	}
	// One builder at a time, across processes too.
	lock, err := os.OpenFile(filepath.Join(arm64CacheDir, rootName+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	// Leftovers of interrupted builds (we hold the lock: nobody uses them).
	old, _ := filepath.Glob(filepath.Join(arm64CacheDir, rootName+".tmp-*"))
	if m, err := os.ReadFile(filepath.Join(final, arm64Marker)); err == nil && string(m) == debootstrapCmdline(dargs) {
		for _, d := range old {
			if err := removeUnmounted(d); err != nil {
				t.Logf("leaving %s: %v", d, err)
			}
		}
		return final, nil
	}
	if _, err := os.Lstat(final); err == nil {
		t.Logf("%s was made by another command line: rebuilding it", final)
		stale := filepath.Join(arm64CacheDir, fmt.Sprintf("%s.tmp-stale%d", rootName, os.Getpid()))
		if err := os.Rename(final, stale); err != nil {
			return "", err
		}
		old = append(old, stale)
	}
	for _, d := range old {
		if err := removeUnmounted(d); err != nil {
			t.Logf("leaving %s: %v", d, err)
		}
	}

	tmp, err := os.MkdirTemp(arm64CacheDir, rootName+".tmp-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	args := make([]string, len(dargs))
	for i, a := range dargs {
		if a == "ROOT" {
			a = tmp
		}
		args[i] = a
	}
	t.Logf("making the root %s: debootstrap %s", rootName, strings.Join(args, " "))
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), buildTime)
	defer cancel()
	cmd := exec.CommandContext(ctx, "debootstrap", args...)
	// On a timeout, or when the test process dies, stop debootstrap and
	// what it started (dpkg under qemu in the chroot) rather than leave them
	// writing into a directory that the next run removes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if rerr := removeUnmounted(tmp); rerr != nil {
			t.Logf("leaving %s: %v", tmp, rerr)
		}
		log := out.String()
		if len(log) > 4000 {
			log = "..." + log[len(log)-4000:]
		}
		return "", fmt.Errorf("debootstrap: %v\n%s", err, log)
	}
	if err := os.WriteFile(filepath.Join(tmp, arm64Marker), []byte(debootstrapCmdline(dargs)), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	t.Logf("root %s made in %v", rootName, time.Since(start).Round(time.Second))
	return final, nil
}

// removeUnmounted removes dir, after detaching whatever an interrupted
// debootstrap left mounted in it (/proc, /sys, a bind-mounted /dev): a
// recursive removal must never walk into those.
func removeUnmounted(dir string) error {
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return err
	}
	var under []string
	for _, line := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		mp := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\134`, `\`).Replace(f[1])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			under = append(under, mp)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(under))) // deepest first
	for _, mp := range under {
		if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %v", mp, err)
		}
	}
	return os.RemoveAll(dir)
}

// arm64Loader is the loader of the arm64 root, as its programs name it.
const arm64Loader = "/lib/ld-linux-aarch64.so.1"

// TestArm64LddOracle compares `fromscratch ldd --root ROOT --json` with the
// arm64 root's own loader, run under qemu in a chroot of ROOT in trace mode
// (what ldd does), on every ELF file under ROOT's /usr/bin, /usr/sbin and
// /usr/lib: the sets of real paths (resolved inside ROOT) and of names not
// found must be identical for every file the loader can read.
func TestArm64LddOracle(t *testing.T) {
	root := arm64DebianRoot(t)
	if _, err := realpathIn(root, arm64Loader); err != nil {
		t.Fatalf("the arm64 root has no loader %s: %v", arm64Loader, err)
	}
	corpus := elfCorpusIn(t, root, "/usr/bin", "/usr/sbin", "/usr/lib")
	if len(corpus) < 100 {
		t.Fatalf("only %d ELF files in %s: not a Debian root?", len(corpus), root)
	}
	want := arm64Oracle(t, root, corpus)
	// The packages added to minbase were compared, with their libraries.
	for file, lib := range map[string]string{
		"/usr/bin/jq":      "/usr/lib/aarch64-linux-gnu/libonig.so.5.3.0",
		"/usr/bin/curl":    "/usr/lib/aarch64-linux-gnu/libcurl.so.4.8.0",
		"/usr/bin/sqlite3": "/usr/lib/aarch64-linux-gnu/libsqlite3.so.0.8.6",
	} {
		if w := want[file]; w == nil || !w.set[lib] {
			t.Errorf("%s: the loader's answer %v lacks %s", file, w, lib)
		}
	}
}

// TestArm64LddOracleChanged runs the same comparison on a changed copy of
// the arm64 root (hard links: cheap): libsqlite3 removed (not found), and
// libonig moved to a directory that only ld.so.conf names, so that only the
// root's ld.so.cache, regenerated by the root's ldconfig, finds it.
func TestArm64LddOracleChanged(t *testing.T) {
	src := arm64DebianRoot(t)
	root := filepath.Join(t.TempDir(), "root")
	run(t, "", "cp", "-al", src, root)
	lib := filepath.Join(root, "usr/lib/aarch64-linux-gnu")
	for _, f := range []string{"libsqlite3.so.0", "libsqlite3.so.0.8.6"} {
		if err := os.Remove(filepath.Join(lib, f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "opt/onig"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"libonig.so.5", "libonig.so.5.3.0"} {
		if err := os.Rename(filepath.Join(lib, f), filepath.Join(root, "opt/onig", f)); err != nil {
			t.Fatal(err)
		}
	}
	// A new file, not a write through a hard link into the cached root.
	conf := filepath.Join(root, "etc/ld.so.conf.d/onig.conf")
	os.Remove(conf)
	if err := os.WriteFile(conf, []byte("/opt/onig\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := chrootRun(root, "", "/sbin/ldconfig"); err != nil {
		t.Fatalf("ldconfig in the arm64 root = %v\n%s%s", err, out, errOut)
	}
	want := arm64Oracle(t, root, elfCorpusIn(t, root, "/usr/bin", "/opt"))
	if w := want["/usr/bin/sqlite3"]; w == nil || !w.set["not found: libsqlite3.so.0"] {
		t.Errorf("/usr/bin/sqlite3: the loader's answer %v lacks libsqlite3.so.0 not found", w)
	}
	if w := want["/usr/bin/jq"]; w == nil || !w.set["/opt/onig/libonig.so.5.3.0"] {
		t.Errorf("/usr/bin/jq: the loader's answer %v lacks /opt/onig/libonig.so.5.3.0", w)
	}
}

// arm64Oracle compares fromscratch's answer for each of files (paths inside
// root) with the root's loader's and returns the loader's answers by file,
// their paths resolved inside root.
func arm64Oracle(t *testing.T, root string, corpus []string) map[string]*oracleAnswer {
	t.Helper()
	bin := fromscratchBin(t)
	start := time.Now()
	want := loaderAnswers(corpus, func(f string) *oracleAnswer { return chrootLoaderTrace(root, f) })
	loaderTime := time.Since(start)

	got := lddCorpus(t, bin, corpus, "--root", root)

	real := func(p string) string {
		if r, err := realpathIn(root, p); err == nil {
			return r
		}
		return p
	}
	answers := map[string]*oracleAnswer{}
	compared, static, skipped := 0, 0, 0
	skips := map[string]int{}
	var bad []string
	for i, f := range corpus {
		w := want[i]
		if w.skip != "" {
			skipped++
			skips[w.skip]++
			continue
		}
		compared++
		ws := map[string]bool{}
		for k := range w.set {
			if !strings.HasPrefix(k, "not found: ") {
				k = real(k)
			}
			ws[k] = true
		}
		answers[f] = &oracleAnswer{set: ws, static: w.static}
		g, ok := got[f]
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: not in fromscratch's answer", f))
			continue
		}
		if g.Error != "" {
			bad = append(bad, fmt.Sprintf("%s: fromscratch error %q, loader: %v", f, g.Error, keys(ws)))
			continue
		}
		gs := resultSet(g, real)
		if w.static {
			static++
			// The loader says "statically linked" for anything it has
			// nothing to load for, itself included.
			if len(g.Libraries) != 0 {
				bad = append(bad, fmt.Sprintf("%s: the loader says statically linked, fromscratch %v", f, keys(gs)))
			}
			continue
		}
		if d := diffSets(ws, gs); d != "" {
			bad = append(bad, fmt.Sprintf("%s: %s", f, d))
		}
	}
	t.Logf("%d ELF files in %s: %d compared with its loader under qemu (%d statically linked), %d it cannot read skipped %v; loader runs %v, total %v",
		len(corpus), root, compared, static, skipped, skips, loaderTime.Round(time.Second), time.Since(start).Round(time.Second))
	if compared < len(corpus)*3/4 || compared-static < len(corpus)/2 {
		t.Errorf("only %d of %d files compared (%d with libraries)", compared, len(corpus), compared-static)
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		if len(bad) > 40 {
			bad = append(bad[:40], fmt.Sprintf("... and %d more", len(bad)-40))
		}
		t.Errorf("%d files differ from the arm64 loader:\n%s", len(bad), strings.Join(bad, "\n"))
	}
	return answers
}

// chrootLoaderTrace runs the root's loader on file (a path inside root) in
// trace mode, chrooted in root, and parses its answer like ldd's; the paths
// in the set are as the loader printed them, inside root.
func chrootLoaderTrace(root, file string) *oracleAnswer {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, arm64Loader, file)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir = "/"
	cmd.Env = []string{"LD_TRACE_LOADED_OBJECTS=1", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	a := &oracleAnswer{set: map[string]bool{}}
	all := stdout.String() + stderr.String()
	if ctx.Err() != nil {
		a.skip = "timeout"
		return a
	}
	if strings.TrimSpace(stdout.String()) == "statically linked" {
		a.static = true
		return a
	}
	lines := 0
	for _, line := range strings.Split(stdout.String(), "\n") {
		if m := lddArrow.FindStringSubmatch(line); m != nil {
			lines++
			if m[2] == "not found" {
				a.set["not found: "+m[1]] = true
			} else if m[2] != "" {
				a.set[m[2]] = true
			}
			continue
		}
		if m := lddLoader.FindStringSubmatch(line); m != nil {
			lines++
			a.set[m[1]] = true
		}
	}
	if lines == 0 {
		// Not something the loader can load: an ET_REL object, a
		// static-pie (the loader crashes on it)...
		switch {
		case strings.Contains(all, "only ET_DYN and ET_EXEC"):
			a.skip = "not ET_DYN or ET_EXEC"
		case err != nil:
			a.skip = "no listing, " + err.Error()
		default:
			a.skip = "no listing"
		}
	}
	return a
}

// TestArm64Build builds images of the arm64 root's jq and curl: the image
// config says linux/arm64, and each runs in Docker (under qemu) as the same
// program does in a chroot of the root.
func TestArm64Build(t *testing.T) {
	root := arm64DebianRoot(t)
	requireDocker(t)
	bin := fromscratchBin(t)

	for _, tc := range []struct {
		name, program string
		args          []string
		stdin         string
		firstLine     bool   // compare the first line only
		want          string // in the chroot's answer too
	}{
		{"jq", "/usr/bin/jq", []string{"-c", ".a"}, `{"a":[1,2]}`, false, "[1,2]\n"},
		{"curl", "/usr/bin/curl", []string{"--version"}, "", true, "(aarch64-unknown-linux-gnu)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tag := uniqueTag("arm64-" + tc.name)
			tar := filepath.Join(t.TempDir(), "img.tar")
			run(t, "", bin, "build", "--root", root, "-o", tar, "-t", tag, tc.program)

			cfg := imageTarConfig(t, tar)
			if cfg.OS != "linux" || cfg.Architecture != "arm64" {
				t.Errorf("image config platform: %s/%s, want linux/arm64", cfg.OS, cfg.Architecture)
			}
			if len(cfg.Config.Entrypoint) == 0 || cfg.Config.Entrypoint[0] != tc.program {
				t.Errorf("image entrypoint %q, want %s first", cfg.Config.Entrypoint, tc.program)
			}

			want, errOut, err := chrootRun(root, tc.stdin, tc.program, tc.args...)
			if err != nil {
				t.Fatalf("chroot %s %s %v = %v\n%s", root, tc.program, tc.args, err, errOut)
			}
			run(t, "", "docker", "load", "-i", tar)
			t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
			a := []string{"run", "--platform", "linux/arm64", "--rm"}
			if tc.stdin != "" {
				a = append(a, "-i")
			}
			got := run(t, tc.stdin, "docker", append(append(a, tag), tc.args...)...)
			if tc.firstLine {
				want, _, _ = strings.Cut(want, "\n")
				got, _, _ = strings.Cut(got, "\n")
			}
			if !strings.Contains(want, tc.want) {
				t.Errorf("in the chroot, %s %v printed %q, want it to hold %q", tc.program, tc.args, want, tc.want)
			}
			if got != want {
				t.Errorf("in Docker, %s %v printed %q; in the chroot %q", tc.program, tc.args, got, want)
			}
		})
	}
}

// chrootRun runs program (a path inside root) with args in a chroot of root.
func chrootRun(root, stdin, program string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/root"}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// imageConfig is the part of an image config the tests read.
type imageConfig struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Config       struct {
		Entrypoint []string `json:"Entrypoint"`
	} `json:"config"`
}

// imageTarConfig reads the config of the one image of a `docker load`
// tarball.
func imageTarConfig(t *testing.T, path string) imageConfig {
	t.Helper()
	files := map[string][]byte{}
	for h, r := range tartest.File(t, path) {
		if h.Typeflag == tar.TypeReg && h.Size < 1<<20 { // not a layer
			b, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			files[strings.TrimPrefix(h.Name, "./")] = b
		}
	}
	var manifest []struct{ Config string }
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("%s: manifest.json: %v, %d images", path, err, len(manifest))
	}
	var cfg imageConfig
	b, ok := files[manifest[0].Config]
	if !ok {
		t.Fatalf("%s: no config %s", path, manifest[0].Config)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%s: config: %v", path, err)
	}
	return cfg
}
