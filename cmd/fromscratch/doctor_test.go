package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// doctorFixtures are the programs the doctor images are made of, compiled
// once for all the cases.
type doctorFixtures struct {
	dir         string
	hello       string // glibc, dynamic
	helloStatic string
	helloMusl   string
	greeter     string // finds libgreet.so through $ORIGIN/../lib
	libgreet    string
	fooProg     string // needs libfoo.so.1
	verProg     string // needs h@VER_2 of libver.so.1
	libverOld   string // libver.so.1 defining only VER_1
	libverNone  string // libver.so.1 without symbol versions
	riscv64     string // helloStatic with e_machine patched to EM_RISCV
	loader      string // the host's glibc loader (real file)
	libc        string
}

const doctorHelloC = "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n"

func makeDoctorFixtures(t *testing.T) *doctorFixtures {
	t.Helper()
	d := t.TempDir()
	fx := &doctorFixtures{dir: d}
	// gcc -o hello hello.c; gcc -static -o hello-static hello.c; musl-gcc -o hello-musl hello.c
	gcc(t, "gcc", d, "hello.c", doctorHelloC, "-o", "hello")
	gcc(t, "gcc", d, "hello.c", doctorHelloC, "-static", "-o", "hello-static")
	gcc(t, "musl-gcc", d, "hello.c", doctorHelloC, "-o", "hello-musl")
	fx.hello, fx.helloStatic, fx.helloMusl = filepath.Join(d, "hello"), filepath.Join(d, "hello-static"), filepath.Join(d, "hello-musl")

	// gcc -shared -fPIC -o app/lib/libgreet.so greet.c
	// gcc -o app/bin/greeter main.c -Lapp/lib -lgreet -Wl,-rpath,'$ORIGIN/../lib' -Wl,--enable-new-dtags
	app := filepath.Join(d, "app")
	os.MkdirAll(filepath.Join(app, "bin"), 0o755)
	os.MkdirAll(filepath.Join(app, "lib"), 0o755)
	gcc(t, "gcc", filepath.Join(app, "lib"), "greet.c", "#include <stdio.h>\nvoid greet(void) { puts(\"greetings\"); }\n",
		"-shared", "-fPIC", "-o", "libgreet.so")
	gcc(t, "gcc", filepath.Join(app, "bin"), "main.c", "void greet(void); int main(void) { greet(); return 0; }\n",
		"-o", "greeter", "-L../lib", "-lgreet", "-Wl,-rpath,$ORIGIN/../lib", "-Wl,--enable-new-dtags")
	fx.greeter, fx.libgreet = filepath.Join(app, "bin", "greeter"), filepath.Join(app, "lib", "libgreet.so")

	// gcc -shared -fPIC -Wl,-soname,libfoo.so.1 -o libfoo.so.1 foo.c; gcc -o fooprog main.c -L. -l:libfoo.so.1
	foo := filepath.Join(d, "foo")
	os.MkdirAll(foo, 0o755)
	gcc(t, "gcc", foo, "foo.c", "int foo(void) { return 0; }\n", "-shared", "-fPIC", "-Wl,-soname,libfoo.so.1", "-o", "libfoo.so.1")
	gcc(t, "gcc", foo, "main.c", "int foo(void); int main(void) { return foo(); }\n", "-o", "fooprog", "-L.", "-l:libfoo.so.1")
	fx.fooProg = filepath.Join(foo, "fooprog")

	// Three libver.so.1: the new one (h in VER_2) the program links
	// against, an old one (g and h in VER_1 only) and one without versions.
	//   gcc -shared -fPIC -Wl,-soname,libver.so.1 -Wl,--version-script,new.map -o new/libver.so.1 ver.c
	//   gcc -shared -fPIC -Wl,-soname,libver.so.1 -Wl,--version-script,old.map -o old/libver.so.1 ver.c
	//   gcc -shared -fPIC -Wl,-soname,libver.so.1 -o none/libver.so.1 ver.c
	//   gcc -o verprog main.c -Lnew -l:libver.so.1
	const verC = "int g(void) { return 1; }\nint h(void) { return 2; }\n"
	for _, v := range []struct{ dir, script string }{
		{"new", "VER_1 { global: g; local: *; };\nVER_2 { global: h; } VER_1;\n"},
		{"old", "VER_1 { global: g; h; local: *; };\n"},
		{"none", ""},
	} {
		vd := filepath.Join(d, "ver", v.dir)
		os.MkdirAll(vd, 0o755)
		args := []string{"-shared", "-fPIC", "-Wl,-soname,libver.so.1", "-o", "libver.so.1"}
		if v.script != "" {
			os.WriteFile(filepath.Join(vd, "ver.map"), []byte(v.script), 0o644)
			args = append(args, "-Wl,--version-script,ver.map")
		}
		gcc(t, "gcc", vd, "ver.c", verC, args...)
	}
	gcc(t, "gcc", filepath.Join(d, "ver"), "main.c", "#include <stdio.h>\nint h(void);\nint main(void) { printf(\"h=%d\\n\", h()); return 0; }\n",
		"-o", "verprog", "-Lnew", "-l:libver.so.1")
	fx.verProg = filepath.Join(d, "ver", "verprog")
	fx.libverOld, fx.libverNone = filepath.Join(d, "ver", "old", "libver.so.1"), filepath.Join(d, "ver", "none", "libver.so.1")

	// A copy of hello-static with e_machine (offset 18) set to EM_RISCV
	// (243): not EM_AARCH64, for which hosts often have qemu-user.
	b, err := os.ReadFile(fx.helloStatic)
	if err != nil {
		t.Fatal(err)
	}
	b[18], b[19] = 243, 0
	fx.riscv64 = filepath.Join(d, "hello-riscv64")
	if err := os.WriteFile(fx.riscv64, b, 0o755); err != nil {
		t.Fatal(err)
	}

	for _, p := range []*string{&fx.loader, &fx.libc} {
		src := map[*string]string{&fx.loader: "/lib64/ld-linux-x86-64.so.2", &fx.libc: "/lib/x86_64-linux-gnu/libc.so.6"}[p]
		if *p, err = filepath.EvalSymlinks(src); err != nil {
			skipOrFail(t, "host glibc: %v", err)
		}
	}
	return fx
}

// doctorFile is a file of a Docker build context, copied to dst in the image.
type doctorFile struct {
	dst  string
	src  string // a host file, or
	data string // the content
	mode os.FileMode
	dir  bool
}

// doctorDockerBuild builds an image from "FROM base", a COPY of files and the
// extra Dockerfile lines, and returns its tag; the image is removed at the
// end of the test.
func doctorDockerBuild(t *testing.T, name, base string, files []doctorFile, lines ...string) string {
	t.Helper()
	ctx := t.TempDir()
	root := filepath.Join(ctx, "root")
	for _, f := range files {
		p := filepath.Join(root, f.dst)
		if f.dir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		data := []byte(f.data)
		if f.src != "" {
			var err error
			if data, err = os.ReadFile(f.src); err != nil {
				t.Fatal(err)
			}
		}
		mode := f.mode
		if mode == 0 {
			mode = 0o755
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	df := "FROM " + base + "\n"
	if len(files) > 0 {
		df += "COPY root/ /\n"
	}
	df += strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := uniqueTag(name)
	// The legacy builder can lose a race with another build or rmi of the
	// engine ("layer does not exist"): try twice.
	if _, errOut, err := runErr("", "docker", "build", "-q", "-t", tag, ctx); err != nil {
		t.Logf("docker build %s = %v (trying again)\n%s", name, err, errOut)
		run(t, "", "docker", "build", "-q", "-t", tag, ctx)
	}
	t.Cleanup(func() {
		// A container of the image may still be going away (docker run
		// --rm of a container that never started): try again.
		for i := 0; i < 5 && exec.Command("docker", "rmi", "-f", tag).Run() != nil; i++ {
			time.Sleep(time.Second)
		}
	})
	return tag
}

// dockerStartFailure is how Docker, the kernel, the loader or env say a
// container's command could not start.
var dockerStartFailure = regexp.MustCompile(`(?i)exec format error|no such file or directory|permission denied|` +
	`error while loading shared libraries|version .* not found|unable to find (user|group)|` +
	`no command specified|executable file not found|not a directory|Inconsistency detected by ld\.so`)

// binfmtHandler says why a program for ELF machine m would run here
// anyway: binfmt_misc has a handler (qemu-user) for it; "" if none.
func binfmtHandler(m uint16) string {
	entries, _ := filepath.Glob("/proc/sys/fs/binfmt_misc/*")
	want := fmt.Sprintf("%02x%02x", m&0xff, m>>8)
	for _, e := range entries {
		b, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			// magic 7f454c46...: the ELF header up to e_machine (bytes 18, 19).
			if hex, ok := strings.CutPrefix(l, "magic "); ok && len(hex) >= 40 && strings.HasPrefix(hex, "7f454c46") && hex[36:40] == want &&
				strings.Contains(string(b), "enabled") {
				return fmt.Sprintf("binfmt_misc handler %s runs ELF machine %d here", filepath.Base(e), m)
			}
		}
	}
	return ""
}

// doctorDockerRun runs the image as `docker run --rm IMG` does and reports
// whether its command failed to start.
func doctorDockerRun(t *testing.T, tag string) (failed bool, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "run", "--rm", tag)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("docker run %s = %v", tag, err)
	}
	return err != nil && dockerStartFailure.MatchString(e.String()), o.String(), e.String()
}

type doctorJSON struct {
	Image    string   `json:"image"`
	Healthy  bool     `json:"healthy"`
	Command  []string `json:"command"`
	Chain    []string `json:"chain"`
	Problems []struct {
		Check   string `json:"check"`
		Path    string `json:"path"`
		Message string `json:"message"`
		Fix     string `json:"fix"`
		Warning bool   `json:"warning"`
	} `json:"problems"`
}

// runDoctorJSON runs `fromscratch doctor --json REF`, checks that its exit
// status agrees with its verdict, and returns the report.
func runDoctorJSON(t *testing.T, ref string) doctorJSON {
	t.Helper()
	out, errOut, err := runErr("", fromscratchBin(t), "doctor", "--json", ref)
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("fromscratch doctor %s = %v", ref, err)
	}
	var rep doctorJSON
	if jerr := json.Unmarshal([]byte(out), &rep); jerr != nil {
		t.Fatalf("fromscratch doctor --json %s: exit %d, %v\nstdout: %s\nstderr: %s", ref, code, jerr, out, errOut)
	}
	if want := map[bool]int{true: 0, false: 1}[rep.Healthy]; code != want {
		t.Errorf("fromscratch doctor %s: exit %d with healthy=%v, want exit %d\nstderr: %s", ref, code, rep.Healthy, want, errOut)
	}
	return rep
}

// firstProblem is the first problem that stops the start, or nil.
func (r doctorJSON) firstProblem() (check, message string, ok bool) {
	for _, p := range r.Problems {
		if !p.Warning {
			return p.Check, p.Message, true
		}
	}
	return "", "", false
}

// doctorSave writes the image as a docker archive and returns its path.
func doctorSave(t *testing.T, tag string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.tar")
	run(t, "", "docker", "save", "-o", p, tag)
	return p
}

// doctorOCILayout converts a docker archive into an OCI layout (with
// go-containerregistry) and returns the layout's directory.
func doctorOCILayout(t *testing.T, archive string) string {
	t.Helper()
	img := archiveImage(t, archive)
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatalf("layout.Write() = %v", err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatalf("layout.AppendImage() = %v", err)
	}
	return dir
}

// TestDoctorAgainstDocker: for broken and healthy images made here, doctor
// says the entrypoint cannot start exactly when `docker run` fails to start
// it, and its first problem names the cause Docker (or the kernel, the
// loader, env) gives.
func TestDoctorAgainstDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs about 30 images")
	}
	requireDocker(t)
	requireTool(t, "musl-gcc")
	busybox := requireTool(t, "busybox")
	if out, err := exec.Command("file", "-L", busybox).Output(); err == nil && !strings.Contains(string(out), "statically linked") {
		skipOrFail(t, "%s is not static (apt-get install busybox-static)", busybox)
	}
	fx := makeDoctorFixtures(t)
	glibcBase := []doctorFile{
		{dst: "/lib64/ld-linux-x86-64.so.2", src: fx.loader},
		{dst: "/lib/x86_64-linux-gnu/libc.so.6", src: fx.libc},
	}
	with := func(base []doctorFile, more ...doctorFile) []doctorFile {
		return append(append([]doctorFile{}, base...), more...)
	}
	scratch := func(files []doctorFile, lines ...string) func(t *testing.T, name string) string {
		return func(t *testing.T, name string) string { return doctorDockerBuild(t, name, "scratch", files, lines...) }
	}
	// fromscratch builds args, loads the image, then derives an image from
	// it with files and lines (none: the image itself).
	fromscratch := func(args []string, files []doctorFile, lines ...string) func(t *testing.T, name string) string {
		return func(t *testing.T, name string) string {
			tag := buildAndLoad(t, name, args...)
			if len(files) == 0 && len(lines) == 0 {
				return tag
			}
			return doctorDockerBuild(t, name+"-derived", tag, files, lines...)
		}
	}

	tests := []struct {
		name    string
		image   func(t *testing.T, name string) string
		healthy bool
		// docker: a substring of docker run's stderr (broken) or stdout (healthy)
		docker string
		// check and message: doctor's first problem (broken images)
		check, message string
		// forms: other references to check than docker-daemon:
		forms []string
		skip  string // why the case cannot run here
	}{
		// Broken.
		{
			name:  "glibc-on-scratch",
			image: scratch([]doctorFile{{dst: "/hello", src: fx.hello}}, `ENTRYPOINT ["/hello"]`),
			// The seed's case: the kernel cannot find the loader, and says the program is missing.
			docker: "exec /hello: no such file or directory",
			check:  "loader", message: "/lib64/ld-linux-x86-64.so.2",
			forms: []string{"docker-archive", "oci-layout"},
		},
		{
			name: "glibc-on-musl",
			image: fromscratch([]string{fx.helloMusl}, []doctorFile{{dst: "/hello-glibc", src: fx.hello}},
				`ENTRYPOINT ["/hello-glibc"]`),
			docker: "exec /hello-glibc: no such file or directory",
			check:  "loader", message: "the image has /lib/ld-musl-x86_64.so.1",
		},
		{
			name: "musl-on-glibc",
			image: fromscratch([]string{fx.hello}, []doctorFile{{dst: "/hello-musl", src: fx.helloMusl}},
				`ENTRYPOINT ["/hello-musl"]`),
			docker: "exec /hello-musl: no such file or directory",
			check:  "loader", message: "/lib/ld-musl-x86_64.so.1 is not in the image (the image has /lib64/ld-linux-x86-64.so.2",
		},
		{
			// fromscratch build, then the private library deleted in a
			// later layer (a whiteout), by a static busybox.
			name: "library-deleted",
			image: fromscratch([]string{fx.greeter}, []doctorFile{{dst: "/busybox", src: busybox}},
				"USER 0", `RUN ["/busybox", "rm", "`+fx.libgreet+`"]`, "USER 65532:65532"),
			docker: "libgreet.so: cannot open shared object file",
			check:  "library", message: "libgreet.so: cannot open shared object file",
			forms: []string{"docker-archive", "oci-layout"},
		},
		{
			name:   "library-not-copied",
			image:  scratch(with(glibcBase, doctorFile{dst: "/fooprog", src: fx.fooProg}), `ENTRYPOINT ["/fooprog"]`),
			docker: "libfoo.so.1: cannot open shared object file",
			check:  "library", message: "libfoo.so.1",
		},
		{
			name: "symbol-version",
			image: scratch(with(glibcBase, doctorFile{dst: "/verprog", src: fx.verProg},
				doctorFile{dst: "/lib/x86_64-linux-gnu/libver.so.1", src: fx.libverOld}), `ENTRYPOINT ["/verprog"]`),
			docker: "version `VER_2' not found",
			check:  "version", message: "libver.so.1: version `VER_2' not found",
		},
		{
			name:   "not-executable",
			image:  scratch([]doctorFile{{dst: "/hello", src: fx.helloStatic, mode: 0o644}}, `ENTRYPOINT ["/hello"]`),
			docker: "permission denied",
			check:  "program", message: "permission denied",
		},
		{
			// root:root 0700, run as 1000: the kernel refuses.
			name:   "owner-only",
			image:  scratch([]doctorFile{{dst: "/hello", src: fx.helloStatic, mode: 0o700}}, "USER 1000", `ENTRYPOINT ["/hello"]`),
			docker: "permission denied",
			check:  "program", message: "permission denied",
		},
		{
			name:   "directory",
			image:  scratch([]doctorFile{{dst: "/app", dir: true}, {dst: "/app/hello", src: fx.helloStatic}}, `ENTRYPOINT ["/app"]`),
			docker: "permission denied",
			check:  "program", message: "is a directory",
		},
		{
			name:   "missing",
			image:  scratch([]doctorFile{{dst: "/hello", src: fx.helloStatic}}, `ENTRYPOINT ["/nope"]`),
			docker: "no such file or directory",
			check:  "program", message: "exec /nope: no such file or directory",
		},
		{
			name:   "no-command",
			image:  scratch([]doctorFile{{dst: "/hello", src: fx.helloStatic}}),
			docker: "No command specified",
			check:  "command", message: "no command specified",
			forms: []string{"docker-archive"},
		},
		{
			name:   "not-in-path",
			image:  scratch([]doctorFile{{dst: "/opt/hello", src: fx.helloStatic}}, `ENTRYPOINT ["hello"]`),
			docker: `"hello": executable file not found in $PATH`,
			check:  "command", message: `"hello": executable file not found in $PATH`,
		},
		{
			name:   "shebang-missing",
			image:  scratch([]doctorFile{{dst: "/app.sh", data: "#!/bin/bash\necho hi\n"}}, `ENTRYPOINT ["/app.sh"]`),
			docker: "exec /app.sh: no such file or directory",
			check:  "interpreter", message: "/bin/bash",
		},
		{
			name: "env-python3",
			image: scratch([]doctorFile{{dst: "/usr/bin/env", src: busybox}, {dst: "/app.py", data: "#!/usr/bin/env python3\nprint('hi')\n"}},
				`ENTRYPOINT ["/app.py"]`),
			docker: "python3",
			check:  "interpreter", message: "'python3': No such file or directory",
		},
		{
			name: "shebang-crlf",
			image: scratch([]doctorFile{{dst: "/bin/sh", src: busybox}, {dst: "/app.sh", data: "#!/bin/sh\r\necho hi\r\n"}},
				`ENTRYPOINT ["/app.sh"]`),
			docker: "exec /app.sh: no such file or directory",
			check:  "interpreter", message: "carriage return",
		},
		{
			// The kernel passes "python3 -u" to env as one argument.
			name: "env-two-words",
			image: scratch([]doctorFile{{dst: "/usr/bin/env", src: busybox}, {dst: "/usr/bin/python3", src: fx.helloStatic},
				{dst: "/app.py", data: "#!/usr/bin/env python3 -u\nprint('hi')\n"}}, `ENTRYPOINT ["/app.py"]`),
			docker: "python3 -u",
			check:  "interpreter", message: "'python3 -u': No such file or directory",
		},
		{
			name:   "riscv64",
			image:  scratch([]doctorFile{{dst: "/hello", src: fx.riscv64}}, `ENTRYPOINT ["/hello"]`),
			docker: "exec format error",
			check:  "architecture", message: "the program is for riscv64, the image for amd64",
			skip: binfmtHandler(243),
		},
		{
			name:   "workdir-file",
			image:  fromscratch([]string{"--no-check", "--workdir", fx.helloStatic, fx.helloStatic}, nil),
			docker: "is not a directory",
			check:  "workdir", message: "is not a directory",
		},
		{
			// A library without symbol versions where the program needs
			// one: glibc's loader warns, then aborts binding the symbol.
			name: "unversioned-library",
			image: scratch(with(glibcBase, doctorFile{dst: "/verprog", src: fx.verProg},
				doctorFile{dst: "/lib/x86_64-linux-gnu/libver.so.1", src: fx.libverNone}), `ENTRYPOINT ["/verprog"]`),
			docker: "libver.so.1: no version information available (required by /verprog)",
			check:  "version", message: "libver.so.1: no version information available",
		},
		{
			name:   "user-no-passwd",
			image:  scratch([]doctorFile{{dst: "/hello", src: fx.helloStatic}}, "USER nobody", `ENTRYPOINT ["/hello"]`),
			docker: "unable to find user nobody",
			check:  "user", message: "unable to find user nobody",
		},
		{
			name: "user-not-in-passwd",
			image: scratch([]doctorFile{{dst: "/hello", src: fx.helloStatic}, {dst: "/etc/passwd", data: "root:x:0:0:root:/root:/sbin/nologin\n", mode: 0o644}},
				"USER app", `ENTRYPOINT ["/hello"]`),
			docker: "unable to find user app: no matching entries in passwd file",
			check:  "user", message: "unable to find user app: no matching entries in passwd",
		},

		// Healthy.
		{
			name:    "jq",
			image:   fromscratch([]string{"--cmd", `["--version"]`, "/usr/bin/jq"}, nil),
			healthy: true, docker: "jq-",
			forms: []string{"docker-archive", "oci-layout"},
		},
		{
			name:    "curl",
			image:   fromscratch([]string{"--cmd", `["--version"]`, "/usr/bin/curl"}, nil),
			healthy: true, docker: "curl ",
		},
		{
			name:    "ls",
			image:   fromscratch([]string{"--cmd", `["-ld", "/"]`, "/usr/bin/ls"}, nil),
			healthy: true, docker: " /\n",
		},
		{
			name:    "sqlite3",
			image:   fromscratch([]string{"--cmd", `[":memory:", "select 6*7;"]`, "/usr/bin/sqlite3"}, nil),
			healthy: true, docker: "42",
		},
		{
			name:    "private-library",
			image:   fromscratch([]string{fx.greeter}, nil),
			healthy: true, docker: "greetings",
		},
		{
			name:    "musl",
			image:   fromscratch([]string{fx.helloMusl}, nil),
			healthy: true, docker: "hello",
		},
		{
			name:    "static",
			image:   scratch([]doctorFile{{dst: "/hello", src: fx.helloStatic}}, `ENTRYPOINT ["/hello"]`),
			healthy: true, docker: "hello",
		},
		{
			name: "shebang-sh",
			image: scratch([]doctorFile{{dst: "/bin/sh", src: busybox}, {dst: "/app.sh", data: "#!/bin/sh\necho from a script\n"}},
				`ENTRYPOINT ["/app.sh"]`),
			healthy: true, docker: "from a script",
		},
		{
			name: "env-sh",
			image: scratch([]doctorFile{{dst: "/usr/bin/env", src: busybox}, {dst: "/bin/sh", src: busybox},
				{dst: "/app.sh", data: "#!/usr/bin/env sh\necho through env\n"}}, `ENTRYPOINT ["/app.sh"]`),
			healthy: true, docker: "through env",
		},
		{
			name: "env-python3-found",
			image: scratch([]doctorFile{{dst: "/usr/bin/env", src: busybox}, {dst: "/usr/bin/python3", src: fx.helloStatic},
				{dst: "/app.py", data: "#!/usr/bin/env python3\nprint('hi')\n"}}, `ENTRYPOINT ["/app.py"]`),
			healthy: true, docker: "hello",
		},
		{
			name:    "numeric-user",
			image:   scratch([]doctorFile{{dst: "/hello", src: fx.helloStatic}}, "USER 1000:1000", `ENTRYPOINT ["/hello"]`),
			healthy: true, docker: "hello",
		},
		{
			name:    "owner-only-as-root",
			image:   scratch([]doctorFile{{dst: "/hello", src: fx.helloStatic, mode: 0o700}}, `ENTRYPOINT ["/hello"]`),
			healthy: true, docker: "hello",
		},
		{
			name: "named-user",
			image: scratch([]doctorFile{{dst: "/hello", src: fx.helloStatic}, {dst: "/etc/passwd", data: "root:x:0:0:root:/root:/sbin/nologin\napp:x:1000:1000::/:/sbin/nologin\n", mode: 0o644}},
				"USER app", `ENTRYPOINT ["/hello"]`),
			healthy: true, docker: "hello",
		},
		{
			name:    "in-path",
			image:   scratch([]doctorFile{{dst: "/usr/local/bin/hello", src: fx.helloStatic}}, `ENTRYPOINT ["hello"]`),
			healthy: true, docker: "hello",
		},
		{
			// Docker creates a missing working directory; doctor warns.
			name:    "workdir-missing",
			image:   fromscratch([]string{"--workdir", "/var/lib/app", fx.helloStatic}, nil),
			healthy: true, docker: "hello",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			tag := tt.image(t, tt.name)
			failed, stdout, stderr := doctorDockerRun(t, tag)
			switch {
			case failed == tt.healthy:
				t.Fatalf("docker run %s: failed to start = %v, want %v (the fixture is wrong)\nstdout: %s\nstderr: %s", tt.name, failed, !tt.healthy, stdout, stderr)
			case tt.healthy && !strings.Contains(stdout, tt.docker):
				t.Fatalf("docker run %s: stdout %q, want %q\nstderr: %s", tt.name, stdout, tt.docker, stderr)
			case !tt.healthy && !strings.Contains(stderr, tt.docker):
				t.Fatalf("docker run %s: stderr %q, want %q", tt.name, stderr, tt.docker)
			}

			refs := []string{"docker-daemon:" + tag}
			var archive string
			for _, form := range tt.forms {
				if archive == "" {
					archive = doctorSave(t, tag)
				}
				switch form {
				case "docker-archive":
					refs = append(refs, "docker-archive:"+archive)
				case "oci-layout":
					refs = append(refs, "oci-layout:"+doctorOCILayout(t, archive))
				}
			}
			var daemonRep doctorJSON
			for i, ref := range refs {
				rep := runDoctorJSON(t, ref)
				if i == 0 {
					daemonRep = rep
				}
				if rep.Healthy != !failed {
					t.Errorf("doctor %s: healthy = %v, docker run failed to start = %v\ndocker: %s\ndoctor: %+v", ref, rep.Healthy, failed, stderr, rep.Problems)
					continue
				}
				if tt.healthy {
					continue
				}
				check, msg, _ := rep.firstProblem()
				if check != tt.check || !strings.Contains(msg, tt.message) {
					t.Errorf("doctor %s: first problem = %s: %q, want %s: ...%q...\ndocker: %s", ref, check, msg, tt.check, tt.message, stderr)
				}
			}
			t.Logf("docker: %s| doctor: %s", doctorFirstLine(stderr+stdout), doctorSummary(daemonRep))
		})
	}
}

func doctorFirstLine(s string) string {
	s = strings.TrimSpace(s)
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "Run 'docker run --help'") {
			return l
		}
	}
	return ""
}

func doctorSummary(r doctorJSON) string {
	if check, msg, ok := r.firstProblem(); ok {
		return check + ": " + msg
	}
	return "healthy"
}
