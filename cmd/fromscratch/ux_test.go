package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestBuildFollowsLinks: a directory asked for brings the targets of the
// symbolic links inside it (Debian's /usr/lib/ssl is links into /etc/ssl),
// so openssl finds its configuration and certificates in the image.
func TestBuildFollowsLinks(t *testing.T) {
	requireDocker(t)
	requireTool(t, "openssl")
	requireFile(t, "/usr/lib/ssl/openssl.cnf")
	tag := buildAndLoad(t, "ux-ssl", "openssl", "/usr/lib/ssl")
	if out := dockerRun(t, "", tag, "version", "-d"); !strings.Contains(out, `"/usr/lib/ssl"`) {
		t.Errorf("openssl version -d = %q", out)
	}
	// req reads openssl.cnf: through the link, from /etc/ssl.
	out, stderr, err := runErr("", "docker", "run", "--rm", tag, "req", "-new", "-x509", "-nodes", "-subj", "/CN=fromscratch",
		"-keyout", "/tmp/key.pem", "-out", "/dev/stdout")
	if err != nil || !strings.Contains(out, "BEGIN CERTIFICATE") {
		t.Errorf("openssl req in the image = %v\nstdout: %s\nstderr: %s", err, out, stderr)
	}
	// The certificates the certs link names came too.
	if out := dockerRun(t, "", tag, "x509", "-noout", "-subject", "-in", "/usr/lib/ssl/cert.pem"); !strings.Contains(out, "subject") {
		t.Errorf("openssl x509 -in /usr/lib/ssl/cert.pem = %q", out)
	}
}

// TestBuildLinkOutOfRoot: a link in an added directory that leads nowhere
// in the root is kept and named in a warning; one that leads to a
// directory above it does not add the root.
func TestBuildLinkOutOfRoot(t *testing.T) {
	bin := fromscratchBin(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	for _, p := range append(hostClosure(t, "/bin/true"), "/bin/true") {
		copyHostPath(t, root, p)
	}
	mkdir(t, filepath.Join(root, "data"))
	writeFile(t, root, "etc/app.conf", "x\n")
	symlink(t, "/etc/app.conf", filepath.Join(root, "data/app.conf"))
	symlink(t, "/nowhere", filepath.Join(root, "data/dangling"))
	symlink(t, "..", filepath.Join(root, "data/up"))
	tar := filepath.Join(dir, "img.tar")
	_, stderr, code := runFromscratch(t, bin, "build", "--root", root, "-o", tar, "/bin/true", "/data")
	if code != 0 || !strings.Contains(stderr, "/data/dangling -> /nowhere") {
		t.Fatalf("build = %d, stderr %q", code, stderr)
	}
	layers, err := archiveImage(t, tar).Layers()
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, l := range layers {
		for _, p := range layerPaths(t, l) {
			paths[strings.TrimPrefix(p, "/")] = true
		}
	}
	for _, p := range []string{"etc/app.conf", "data/app.conf", "data/dangling", "data/up"} {
		if !paths[p] {
			t.Errorf("%s not in the image: %v", p, paths)
		}
	}
	if len(paths) > 30 {
		t.Errorf("data/up -> .. added the root: %d paths", len(paths))
	}
}

// TestBuildRelativeProgram: a program given by a relative path goes under
// /app at its path from the current directory, its $ORIGIN libraries with
// it; the image is the same from any checkout directory, and runs.
func TestBuildRelativeProgram(t *testing.T) {
	requireDocker(t)
	bin := fromscratchBin(t)
	var checkouts []string
	for _, d := range []string{"a", "deeper/b"} {
		src := filepath.Join(t.TempDir(), d)
		// gcc -shared -o build/lib/libgreet.so; gcc -o build/bin/app -Wl,-rpath,'$ORIGIN/../lib'
		mkdir(t, filepath.Join(src, "build/lib"))
		mkdir(t, filepath.Join(src, "build/bin"))
		gcc(t, "gcc", filepath.Join(src, "build/lib"), "greet.c", "#include <stdio.h>\nvoid greet(void) { puts(\"hello from /app\"); }\n",
			"-shared", "-fPIC", "-o", "libgreet.so")
		gcc(t, "gcc", filepath.Join(src, "build/bin"), "main.c", "void greet(void); int main(void) { greet(); return 0; }\n",
			"-o", "app", "-L../lib", "-lgreet", "-Wl,-rpath,$ORIGIN/../lib", "-Wl,--enable-new-dtags", "-ffile-prefix-map="+src+"=.")
		checkouts = append(checkouts, src)
	}
	tag := uniqueTag("ux-relative")
	var digests []string
	for i, src := range checkouts {
		tar := filepath.Join(t.TempDir(), "app.tar")
		cmd := exec.Command(bin, "build", "-o", tar, "-t", tag, "./build/bin/app")
		cmd.Dir = src
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("build ./build/bin/app in %s = %v\n%s", src, err, stderr.String())
		}
		if !strings.Contains(stderr.String(), "./build/bin/app is /app/build/bin/app in the image") {
			t.Errorf("build does not say where the program went: %q", stderr.String())
		}
		digests = append(digests, strings.TrimSpace(stdout.String()))
		files := imageFiles(t, archiveImage(t, tar))
		for p := range files {
			if strings.Contains(p, src) || strings.Contains(p, "tmp") {
				t.Errorf("the image holds the build directory: %s", p)
			}
		}
		if _, ok := files["/app/build/lib/libgreet.so"]; !ok {
			t.Errorf("no /app/build/lib/libgreet.so: %v", files)
		}
		if i == 0 {
			run(t, "", "docker", "load", "-i", tar)
			t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
			if got := dockerRun(t, "", tag); got != "hello from /app\n" {
				t.Errorf("docker run = %q", got)
			}
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("digests from two checkouts differ: %v", digests)
	}
}

// TestDoctorFixRuns: the fix doctor suggests for a glibc program copied
// into FROM scratch is a command that, run as it is, makes an image doctor
// accepts and Docker runs: from the program's copy here when there is one,
// else from a copy taken out of the engine's image.
func TestDoctorFixRuns(t *testing.T) {
	requireDocker(t)
	bin := fromscratchBin(t)
	dir := t.TempDir()
	gcc(t, "gcc", dir, "hello.c", "#include <stdio.h>\nint main(int c, char **v) { printf(\"hello %s\\n\", c > 1 ? v[1] : \"\"); return 0; }\n", "-o", "hello")
	tag := doctorDockerBuild(t, "ux-fix", "scratch", []doctorFile{{dst: "/app", src: filepath.Join(dir, "hello")}},
		`ENTRYPOINT ["/app"]`, `CMD ["doctor"]`)
	archive := doctorSave(t, tag)
	for _, tt := range []struct {
		name, wd, ref, want string
	}{
		{"host copy", dir, "docker-archive:" + archive, "--add " + filepath.Join(dir, "hello") + ":/app"},
		{"from the engine", t.TempDir(), "docker-daemon:" + tag, "docker cp"},
		{"from an archive", t.TempDir(), "docker-archive:" + archive, "docker load -qi"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, "doctor", "--json", tt.ref)
			cmd.Dir = tt.wd
			out, _ := cmd.Output()
			var rep doctorJSON
			if err := json.Unmarshal(out, &rep); err != nil || len(rep.Problems) == 0 {
				t.Fatalf("doctor %s = %s (%v)", tt.ref, out, err)
			}
			fix := rep.Problems[0].Fix
			_, command, ok := strings.Cut(fix, "`")
			command, _, ok2 := strings.Cut(command, "`")
			if !ok || !ok2 || !strings.Contains(command, "fromscratch build -o fixed.tar") || !strings.Contains(command, tt.want) {
				t.Fatalf("fix %q: want a command in backquotes with %q", fix, tt.want)
			}
			sh := exec.Command("sh", "-c", command)
			sh.Dir = tt.wd
			sh.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
			if out, err := sh.CombinedOutput(); err != nil {
				t.Fatalf("%s = %v\n%s", command, err, out)
			}
			fixed := filepath.Join(tt.wd, "fixed.tar")
			if _, stderr, code := runFromscratch(t, bin, "doctor", "docker-archive:"+fixed); code != 0 {
				t.Fatalf("doctor of the fixed image = %d\n%s", code, stderr)
			}
			// The image keeps its entrypoint and cmd.
			if cfg := archiveImage(t, fixed); cfg != nil {
				cf, err := cfg.ConfigFile()
				if err != nil || strings.Join(cf.Config.Entrypoint, " ") != "/app" || strings.Join(cf.Config.Cmd, " ") != "doctor" {
					t.Errorf("fixed image config = %+v, %v", cf.Config, err)
				}
			}
		})
	}
}

// TestExclude: --exclude leaves paths out of build and slim, and what they
// would have pulled in: python3's _ssl and _hashlib modules excluded, the
// image has no libssl nor libcrypto; the summary says what was excluded;
// python still runs.
func TestExclude(t *testing.T) {
	requireDocker(t)
	requireTool(t, "python3")
	lib := "/usr/lib/python3.11"
	requireFile(t, lib+"/lib-dynload")
	bin := fromscratchBin(t)
	excl := []string{"--exclude", "_ssl.*", "--exclude", "_hashlib.*", "--exclude", "__pycache__", "--exclude", lib + "/test"}
	check := func(t *testing.T, what, archive, stderr string) {
		t.Helper()
		if !strings.Contains(stderr, "excluded ") || !strings.Contains(stderr, "__pycache__") {
			t.Errorf("%s: the summary does not say what was excluded: %q", what, stderr)
		}
		for p := range imageFiles(t, archiveImage(t, archive)) {
			base := filepath.Base(p)
			if strings.HasPrefix(base, "libssl.so") || strings.HasPrefix(base, "libcrypto.so") || strings.HasPrefix(base, "_ssl.") ||
				strings.Contains(p, "/__pycache__/") || strings.HasPrefix(p, lib+"/test/") {
				t.Errorf("%s: %s is in the image", what, p)
			}
		}
	}
	dir := t.TempDir()
	tag := uniqueTag("ux-exclude")
	tar := filepath.Join(dir, "py.tar")
	_, stderr, err := runErr("", bin, append(append([]string{"build", "-o", tar, "-t", tag}, excl...), "python3", lib)...)
	if err != nil {
		t.Fatalf("build = %v\n%s", err, stderr)
	}
	check(t, "build", tar, stderr)
	run(t, "", "docker", "load", "-i", tar)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	if got := dockerRun(t, "", tag, "-c", "import json, zlib; print(json.dumps([1]))"); got != "[1]\n" {
		t.Errorf("python in the image = %q", got)
	}
	if out, _, err := runErr("", "docker", "run", "--rm", tag, "-c", "import ssl"); err == nil {
		t.Errorf("import ssl works in an image without _ssl: %q", out)
	}

	// slim: the whole library kept but for the excluded paths.
	fat := filepath.Join(dir, "fat.tar")
	run(t, "", bin, "build", "-o", fat, "-t", "fat:latest", "python3", lib)
	slimmed := filepath.Join(dir, "slim.tar")
	_, stderr, err = runErr("", bin, append(append([]string{"slim", "-o", slimmed, "--keep", lib}, excl...), "docker-archive:"+fat)...)
	if err != nil {
		t.Fatalf("slim = %v\n%s", err, stderr)
	}
	check(t, "slim", slimmed, stderr)
}

// TestInspectWasteAndConfig: inspect lists the wasted files (a file
// deleted by a later layer, a directory deleted whole, a file overwritten),
// lists hard-linked names as one largest file, gives --max-waste in the
// unit it was given, and shows the image's config.
func TestInspectWasteAndConfig(t *testing.T) {
	requireDocker(t)
	busybox := requireTool(t, "busybox")
	bin := fromscratchBin(t)
	bb := `RUN ["/busybox", "sh", "-c", "`
	tag := doctorDockerBuild(t, "ux-inspect", "scratch", []doctorFile{{dst: "/busybox", src: busybox}, {dst: "/data", dir: true}},
		bb+`/busybox dd if=/dev/zero of=/data/gone bs=1000 count=1000 && /busybox dd if=/dev/zero of=/data/twice bs=1000 count=300 && /busybox mkdir /data/dir && /busybox dd if=/dev/zero of=/data/dir/a bs=1000 count=200 && /busybox dd if=/dev/zero of=/data/dir/b bs=1000 count=100 && /busybox dd if=/dev/zero of=/data/h1 bs=1000 count=3000 && /busybox ln /data/h1 /data/h2"]`,
		bb+`/busybox rm -rf /data/gone /data/dir && /busybox dd if=/dev/zero of=/data/twice bs=1000 count=300"]`,
		"ENV FOO=bar", "EXPOSE 8080/tcp", "USER 1000:1000", "WORKDIR /data", `ENTRYPOINT ["/busybox"]`, `CMD ["true"]`)
	ref := "docker-daemon:" + tag
	out, stderr, code := runFromscratch(t, bin, "inspect", "--json", "--max-waste", "1MB", ref)
	if code != 1 || !strings.Contains(stderr, "wasted 1.6MB, more than --max-waste 1MB") {
		t.Errorf("inspect --max-waste 1MB = %d, stderr %q: want exit 1 and both sides in MB", code, stderr)
	}
	var r inspectJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("inspect --json: %v\n%s", err, out)
	}
	wasted := map[string]string{}
	for _, w := range r.WastedFiles {
		wasted[w.Path] = fmt.Sprintf("%d %d", w.Count, w.Bytes)
	}
	for p, want := range map[string]string{"/data/gone": "1 1000000", "/data/twice": "1 300000", "/data/dir/a": "1 200000", "/data/dir/b": "1 100000"} {
		if wasted[p] != want {
			t.Errorf("wasted %s = %q, want %q (all: %v)", p, wasted[p], want, r.WastedFiles)
		}
	}
	if r.WastedBytes != 1600000 {
		t.Errorf("wasted bytes = %d, want 1600000", r.WastedBytes)
	}
	var h1 int
	for _, f := range r.Largest {
		switch f.Path {
		case "/data/h1":
			h1++
			if strings.Join(f.Links, " ") != "/data/h2" {
				t.Errorf("largest /data/h1: links %v, want [/data/h2]", f.Links)
			}
		case "/data/h2":
			t.Errorf("the hard link /data/h2 is listed as a largest file of its own: %v", r.Largest)
		}
	}
	if h1 != 1 {
		t.Errorf("largest = %v, want /data/h1 once", r.Largest)
	}
	c := r.Config
	if strings.Join(c.Entrypoint, " ") != "/busybox" || strings.Join(c.Cmd, " ") != "true" || c.User != "1000:1000" || c.WorkingDir != "/data" ||
		strings.Join(c.ExposedPorts, " ") != "8080/tcp" || !strings.Contains(strings.Join(c.Env, " "), "FOO=bar") {
		t.Errorf("config = %+v", c)
	}
	text, _, _ := runFromscratch(t, bin, "inspect", ref)
	for _, want := range []string{"Wasted files", "/data/dir/a", "hard links: /data/h2", `entrypoint ["/busybox"], cmd ["true"]`, "user 1000:1000, workdir /data, ports 8080/tcp", "env FOO=bar"} {
		if !strings.Contains(text, want) {
			t.Errorf("inspect text lacks %q:\n%s", want, text)
		}
	}
}

// TestDoctorHelpExamples: each example of doctor --help, run against an
// app.tar (and an OCI layout ./out holding it as -t app writes it) whose
// entrypoint is not a shell, checks the command line it says: an example
// naming /bin/sh checks /bin/sh, not the entrypoint with /bin/sh as its
// arguments.
func TestDoctorHelpExamples(t *testing.T) {
	requireTool(t, "dash")
	bin := fromscratchBin(t)
	dir := t.TempDir()
	run(t, "", bin, "build", "-o", filepath.Join(dir, "app.tar"), "--oci-layout", filepath.Join(dir, "out"), "-t", "app", "/bin/true", "/bin/sh")
	help := run(t, "", bin, "doctor", "--help")
	n := 0
	for _, line := range strings.Split(help, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "fromscratch doctor ") || !strings.Contains(line, "docker-archive:app.tar") && !strings.Contains(line, "oci-layout:./out:app") {
			continue
		}
		n++
		cmd := exec.Command("sh", "-c", strings.Replace(line, "fromscratch doctor ", bin+" doctor --json ", 1))
		cmd.Dir = dir
		out, _ := cmd.Output()
		var rep doctorJSON
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
		if strings.Contains(line, "/bin/sh") && (len(rep.Command) == 0 || rep.Command[0] != "/bin/sh") {
			t.Errorf("%s checks %q, not /bin/sh", line, rep.Command)
		}
		if strings.Contains(line, "--cmd") && (len(rep.Command) == 0 || rep.Command[0] != "/bin/true") {
			t.Errorf("%s checks %q: want the image's entrypoint first", line, rep.Command)
		}
	}
	if n < 3 {
		t.Errorf("doctor --help has %d examples on docker-archive:app.tar and oci-layout:./out:app", n)
	}
}

// TestHelpFlagsReadable: every command's --help shows each flag on its own
// line with its value's name, with no control character: slim's --probe,
// which takes no value before --, is shown as --probe ARGS[=--].
func TestHelpFlagsReadable(t *testing.T) {
	bin := fromscratchBin(t)
	for _, c := range []string{"ldd", "build", "doctor", "inspect", "squash", "slim", "trace", "version"} {
		help := run(t, "", bin, c, "--help")
		if i := strings.IndexFunc(help, func(r rune) bool { return r < ' ' && r != '\n' && r != '\t' }); i >= 0 {
			t.Errorf("%s --help has a control character %q near %q", c, help[i], help[max(0, i-40):i])
		}
		if c == "slim" && !regexp.MustCompile(`(?m)^ +--probe ARGS\[=--\] +run `).MatchString(help) {
			t.Errorf("slim --help shows no line --probe ARGS[=--]:\n%s", help)
		}
	}
}

// TestVersionAndSuggestions: version and --version name the commit the
// binary was built from (built in a clone: go stamps no VCS data in a git
// worktree); completion is listed in the help; a mistyped command or flag
// gets the nearest one, in one line; a wrong number of arguments says what
// the command takes.
func TestVersionAndSuggestions(t *testing.T) {
	requireTool(t, "git")
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatal(err)
	}
	clone := filepath.Join(t.TempDir(), "src")
	run(t, "", "git", "clone", "-q", strings.TrimSpace(string(top)), clone)
	vbin := filepath.Join(t.TempDir(), "fromscratch")
	cmd := exec.Command("go", "build", "-buildvcs=true", "-o", vbin, "./cmd/fromscratch")
	cmd.Dir = clone
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build in a clone = %v\n%s", err, out)
	}
	want := "commit " + strings.TrimSpace(string(head))[:12]
	v := run(t, "", vbin, "version")
	if !strings.HasPrefix(v, "fromscratch ") || !strings.Contains(v, want) || !strings.Contains(v, "go1.") {
		t.Errorf("version = %q, want %q and the Go version", v, want)
	}
	if v2 := run(t, "", vbin, "--version"); v2 != v {
		t.Errorf("--version = %q, version = %q", v2, v)
	}

	bin := fromscratchBin(t)
	if help := run(t, "", bin, "--help"); !strings.Contains(help, "completion") || !strings.Contains(help, "version") {
		t.Errorf("--help lists no completion or version command:\n%s", help)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"buidl"}, `unknown command "buidl" for "fromscratch" (did you mean build?)`},
		{[]string{"build", "--outptu", "x.tar", "/bin/true"}, "unknown flag: --outptu (did you mean --output?)"},
		{[]string{"inspect", "--jsn", "x"}, "unknown flag: --jsn (did you mean --json?)"},
		{[]string{"slim", "--keepp", "/x", "x"}, "unknown flag: --keepp (did you mean --keep?)"},
		{[]string{"ldd"}, "ldd: want at least one FILE, got 0 arguments"},
		{[]string{"squash", "-o", "x.tar", "a", "b"}, "squash: want one IMAGE, got 2 arguments"},
	} {
		_, stderr, code := runFromscratch(t, bin, tt.args...)
		if code != 2 || strings.TrimSpace(stderr) != "fromscratch: "+tt.want {
			t.Errorf("fromscratch %v = %d, stderr %q; want exit 2 and one line %q", tt.args, code, stderr, tt.want)
		}
	}
}

// TestResultJSON: build, squash and slim --json print the digest, the tag,
// the layers, files and bytes of what they wrote, on stdout; a Go build
// says on stderr that it compiles when stderr is not a terminal.
func TestResultJSON(t *testing.T) {
	bin := fromscratchBin(t)
	dir := t.TempDir()
	parse := func(t *testing.T, out string) resultJSON {
		t.Helper()
		var r resultJSON
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("--json output %q: %v", out, err)
		}
		return r
	}
	// each runs the command with --json, then without: the same digest as
	// the plain line, the image's layers, files and bytes.
	each := func(t *testing.T, archive string, args ...string) resultJSON {
		t.Helper()
		out, stderr, code := runFromscratch(t, bin, append([]string{args[0], "--json", "-o", archive}, args[1:]...)...)
		if code != 0 {
			t.Fatalf("%v --json = %d\n%s", args, code, stderr)
		}
		r := parse(t, out)
		plain, _, _ := runFromscratch(t, bin, append([]string{args[0], "-o", archive}, args[1:]...)...)
		img := archiveImage(t, archive)
		layers, _ := img.Layers()
		files := imageFiles(t, img)
		var size int64
		for _, c := range files {
			size += int64(len(c))
		}
		if r.Digest != strings.TrimSpace(plain) || r.Layers != len(layers) || r.Files != len(files) || r.Size != size || r.Platform != "linux/amd64" || r.Tag == "" {
			t.Errorf("%v --json = %+v; the image: digest %s, %d layers, %d files, %d bytes", args, r, plain, len(layers), len(files), size)
		}
		return r
	}
	built := filepath.Join(dir, "built.tar")
	each(t, built, "build", "/bin/true")
	each(t, filepath.Join(dir, "squashed.tar"), "squash", "docker-archive:"+built)
	each(t, filepath.Join(dir, "slim.tar"), "slim", "docker-archive:"+built)

	if _, stderr, code := runFromscratch(t, bin, "build", "--json", "-o", "-", "/bin/true"); code != 2 || !strings.Contains(stderr, "--json") {
		t.Errorf("build --json -o - = %d, %q: want exit 2 naming --json", code, stderr)
	}

	mod := goModule(t, "hello", goServer)
	_, stderr, code := runIn(t, mod, nil, "build", "--go", "./cmd/hello", "-o", filepath.Join(dir, "go.tar"))
	if code != 0 || !strings.Contains(stderr, "fromscratch: compiling ./cmd/hello with go build (linux/") {
		t.Errorf("build --go = %d, stderr %q: want a line saying it compiles", code, stderr)
	}
}

// goTZCerts loads a time zone and the system's CA pool, as a Go server
// calling HTTPS or showing local times does.
const goTZCerts = `package main

import (
	"crypto/x509"
	"fmt"
	"os"
	"time"
)

func main() {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		fmt.Println("tz:", err)
		os.Exit(1)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || len(pool.Subjects()) == 0 {
		fmt.Println("certs: none", err)
		os.Exit(1)
	}
	fmt.Println(loc, "ok, certs ok")
}
`

// TestBuildGoCertsTzdata: a --go image has the CA bundle and the time
// zones by default, as ko's have; --no-ca-certs and --no-tzdata leave them
// out; a root without them gives a warning, not a failure.
func TestBuildGoCertsTzdata(t *testing.T) {
	requireDocker(t)
	requireFile(t, "/etc/ssl/certs/ca-certificates.crt")
	requireFile(t, "/usr/share/zoneinfo/Europe/Paris")
	mod := goModule(t, "tzcerts", goTZCerts)
	dir := t.TempDir()
	build := func(t *testing.T, name string, flags ...string) (string, string) {
		t.Helper()
		tag := uniqueTag(name)
		tar := filepath.Join(dir, name+".tar")
		_, stderr, code := runIn(t, mod, nil, append([]string{"build", "--go", "./cmd/tzcerts", "-o", tar, "-t", tag}, flags...)...)
		if code != 0 {
			t.Fatalf("build --go %v = %d\n%s", flags, code, stderr)
		}
		run(t, "", "docker", "load", "-i", tar)
		t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
		return tag, stderr
	}
	tag, _ := build(t, "ux-gotz")
	if got := dockerRun(t, "", tag); got != "Europe/Paris ok, certs ok\n" {
		t.Errorf("docker run of the --go image = %q", got)
	}
	tag, _ = build(t, "ux-gotz-none", "--no-ca-certs", "--no-tzdata")
	if out, _, err := runErr("", "docker", "run", "--rm", tag); err == nil || !strings.Contains(out, "tz:") {
		t.Errorf("docker run with --no-tzdata = %q, %v: want the time zone not found", out, err)
	}
	tag, _ = build(t, "ux-gotz-nocerts", "--no-ca-certs")
	if out, _, err := runErr("", "docker", "run", "--rm", tag); err == nil || !strings.Contains(out, "certs: none") {
		t.Errorf("docker run with --no-ca-certs = %q, %v: want no certificates", out, err)
	}
	// A root without them: a warning each, and an image.
	_, stderr := build(t, "ux-gotz-root", "--root", t.TempDir())
	if !strings.Contains(stderr, "warning: no /etc/ssl/certs/ca-certificates.crt in the root") || !strings.Contains(stderr, "warning: no /usr/share/zoneinfo in the root") {
		t.Errorf("build --go --root EMPTY: stderr %q, want a warning for each", stderr)
	}
}

// TestDoctorEmulated: an arm64 program in an image that says amd64 starts
// on this host, through binfmt_misc's qemu-aarch64, as docker run shows;
// doctor says so as a warning, not as exec format error.
func TestDoctorEmulated(t *testing.T) {
	requireDocker(t)
	requireQemuAarch64(t)
	mod := goModule(t, "hi", "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hi from arm64\") }\n")
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "hi"), "./cmd/hi")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build = %v\n%s", err, out)
	}
	tag := doctorDockerBuild(t, "ux-emulated", "scratch", []doctorFile{{dst: "/hi", src: filepath.Join(dir, "hi")}}, `ENTRYPOINT ["/hi"]`)
	if got := dockerRun(t, "", tag); got != "hi from arm64\n" {
		t.Fatalf("docker run = %q: the host does not run it", got)
	}
	out, stderr, code := runFromscratch(t, fromscratchBin(t), "doctor", "--json", "docker-daemon:"+tag)
	var rep doctorJSON
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor: %v\n%s%s", err, out, stderr)
	}
	if code != 0 || !rep.Healthy || len(rep.Problems) != 1 || !rep.Problems[0].Warning || !strings.Contains(rep.Problems[0].Message, "under emulation (binfmt_misc qemu-aarch64)") {
		t.Errorf("doctor = %d, %+v: want healthy with a warning that it runs under emulation", code, rep)
	}
}

// TestPushDefaultRepo: with FROMSCRATCH_REPO set, --push takes a short
// name, pushed under that repository, as ko's KO_DOCKER_REPO; a full
// reference is pushed as it is.
func TestPushDefaultRepo(t *testing.T) {
	host := startRegistry(t)
	repo := host + "/fromscratch-test-ux"
	mod := t.TempDir()
	out, stderr, code := runIn(t, mod, []string{"FROMSCRATCH_REPO=" + repo}, "build", "--push", "true:1", "--insecure", "/bin/true")
	if code != 0 || !strings.HasPrefix(out, repo+"/true:1@sha256:") {
		t.Fatalf("build --push true:1 with FROMSCRATCH_REPO=%s = %d, %q\n%s", repo, code, out, stderr)
	}
	for _, ref := range []string{repo + "/true:1", strings.TrimSpace(out)} {
		r, err := name.ParseReference(ref, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := remote.Head(r); err != nil {
			t.Errorf("%s is not in the registry: %v", ref, err)
		}
	}
	full := host + "/other/true:2"
	if out, stderr, code := runIn(t, mod, []string{"FROMSCRATCH_REPO=" + repo}, "build", "--push", full, "--insecure", "/bin/true"); code != 0 || !strings.HasPrefix(out, host+"/other/true:2@") {
		t.Errorf("build --push %s = %d, %q\n%s", full, code, out, stderr)
	}
}
