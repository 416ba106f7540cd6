package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const helloCpp = `#include <iostream>
int main() { std::cout << "Hello World!" << std::endl; return 0; }
`

// TestBuildHello: the seed's case. A C++ program dynamically linked needs
// libstdc++, libm, libgcc_s, libc and the loader; its image prints as it
// does on the host. The static build runs too.
func TestBuildHello(t *testing.T) {
	requireDocker(t)
	dir := t.TempDir()
	// g++ -o hello hello.cpp; g++ -static -o hello-static hello.cpp
	gcc(t, "g++", dir, "hello.cpp", helloCpp, "-o", "hello")
	gcc(t, "g++", dir, "hello.cpp", helloCpp, "-static", "-o", "hello-static")
	for _, prog := range []string{"hello", "hello-static"} {
		t.Run(prog, func(t *testing.T) {
			tag := buildAndLoad(t, prog, filepath.Join(dir, prog))
			if got := dockerRun(t, "", tag); got != "Hello World!\n" {
				t.Errorf("docker run %s = %q, want Hello World!", prog, got)
			}
		})
	}
}

// TestBuildPrivateLibrary: a program finding its own library through
// $ORIGIN in DT_RUNPATH, and a musl program.
func TestBuildPrivateLibrary(t *testing.T) {
	requireDocker(t)
	dir := t.TempDir()
	app := filepath.Join(dir, "app")
	os.MkdirAll(filepath.Join(app, "bin"), 0o755)
	os.MkdirAll(filepath.Join(app, "lib"), 0o755)
	// gcc -shared -fPIC -o app/lib/libgreet.so greet.c
	gcc(t, "gcc", filepath.Join(app, "lib"), "greet.c", `#include <stdio.h>
void greet(void) { puts("hello from a private library"); }
`, "-shared", "-fPIC", "-o", "libgreet.so")
	// gcc -o app/bin/greeter main.c -Lapp/lib -lgreet -Wl,-rpath,'$ORIGIN/../lib'
	gcc(t, "gcc", filepath.Join(app, "bin"), "main.c", "void greet(void); int main(void) { greet(); return 0; }\n",
		"-o", "greeter", "-L../lib", "-lgreet", "-Wl,-rpath,$ORIGIN/../lib", "-Wl,--enable-new-dtags")
	tag := buildAndLoad(t, "greeter", filepath.Join(app, "bin", "greeter"))
	if got := dockerRun(t, "", tag); got != "hello from a private library\n" {
		t.Errorf("docker run greeter = %q", got)
	}

	// The same tree added at another path (--add app:/opt/app) with its
	// program as the entrypoint: $ORIGIN is the image's /opt/app/bin, and
	// the library is found there at build time as at run time.
	t.Run("add elsewhere", func(t *testing.T) {
		tag := buildAndLoad(t, "greeter-opt", "--add", app+":/opt/app", "--entrypoint", "/opt/app/bin/greeter", "/bin/true")
		if got := dockerRun(t, "", tag); got != "hello from a private library\n" {
			t.Errorf("docker run greeter from /opt/app = %q", got)
		}
		// PROGRAM may be the added program itself, by its path in the image.
		tag = buildAndLoad(t, "greeter-opt2", "--add", app+":/opt/app", "/opt/app/bin/greeter")
		if got := dockerRun(t, "", tag); got != "hello from a private library\n" {
			t.Errorf("docker run of PROGRAM /opt/app/bin/greeter = %q", got)
		}
		// Without the library the build says so: exit 1 naming it.
		bare := filepath.Join(dir, "bare")
		os.MkdirAll(filepath.Join(bare, "bin"), 0o755)
		data, _ := os.ReadFile(filepath.Join(app, "bin", "greeter"))
		os.WriteFile(filepath.Join(bare, "bin", "greeter"), data, 0o755)
		_, stderr, err := runErr("", fromscratchBin(t), "build", "-o", filepath.Join(dir, "bare.tar"), "--add", bare+":/opt/app", "/bin/true")
		if exitStatus(err) != 1 || !strings.Contains(stderr, "libgreet.so") {
			t.Errorf("build --add without the library: exit %d, stderr %q: want exit 1 naming libgreet.so", exitStatus(err), stderr)
		}
	})

	t.Run("musl", func(t *testing.T) {
		requireTool(t, "musl-gcc")
		// musl-gcc -o hello-musl hello.c
		gcc(t, "musl-gcc", dir, "hello.c", "#include <stdio.h>\nint main(void) { puts(\"hello from musl\"); return 0; }\n", "-o", "hello-musl")
		tag := buildAndLoad(t, "hello-musl", filepath.Join(dir, "hello-musl"))
		if got := dockerRun(t, "", tag); got != "hello from musl\n" {
			t.Errorf("docker run hello-musl = %q", got)
		}
	})
}

// TestBuildLdSoConf: a library that only a directory of ld.so.conf.d holds
// is found at run time in the image (its ld.so.cache comes along).
func TestBuildLdSoConf(t *testing.T) {
	requireDocker(t)
	requireTool(t, "ldconfig")
	root := t.TempDir()
	work := t.TempDir()
	// gcc -shared -fPIC -o libconf.so.1 -Wl,-soname,libconf.so.1 conf.c
	gcc(t, "gcc", work, "conf.c", "#include <stdio.h>\nvoid conf(void) { puts(\"found through ld.so.conf.d\"); }\n",
		"-shared", "-fPIC", "-o", "libconf.so.1", "-Wl,-soname,libconf.so.1")
	// gcc -o confprog main.c -L. -l:libconf.so.1
	gcc(t, "gcc", work, "main.c", "void conf(void); int main(void) { conf(); return 0; }\n", "-o", "confprog", "-L.", "-l:libconf.so.1")
	copyInto(t, root, "/usr/bin/confprog", filepath.Join(work, "confprog"))
	copyInto(t, root, "/opt/conflib/libconf.so.1", filepath.Join(work, "libconf.so.1"))
	for _, p := range hostClosure(t, filepath.Join(work, "confprog")) {
		copyHostPath(t, root, p)
	}
	os.MkdirAll(filepath.Join(root, "etc/ld.so.conf.d"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/ld.so.conf"), []byte("include /etc/ld.so.conf.d/*.conf\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/ld.so.conf.d/conflib.conf"), []byte("/opt/conflib\n"), 0o644)
	run(t, "", "ldconfig", "-r", root)

	tag := buildAndLoad(t, "confprog", "--root", root, "/usr/bin/confprog")
	if got := dockerRun(t, "", tag); got != "found through ld.so.conf.d\n" {
		t.Errorf("docker run confprog = %q", got)
	}
}

// TestBuildDebianPrograms: real programs from Debian packages give in the
// container exactly what they give on the host.
func TestBuildDebianPrograms(t *testing.T) {
	requireDocker(t)
	tests := []struct {
		prog  string
		stdin string
		args  []string // to the program
	}{
		{"/usr/bin/jq", `{"a":[1,2,{"b":"c"}]}`, []string{"-c", ".a[2]"}},
		{"/usr/bin/sqlite3", "", []string{":memory:", "select 6*7, sqlite_version(), upper('x');"}},
		{"/usr/bin/curl", "", []string{"--version"}},
		{"/usr/bin/openssl", "hello\n", []string{"dgst", "-sha256", "-r"}},
		{"/usr/bin/ls", "", []string{"-ld", "/tmp"}},
		{"/usr/bin/sha256sum", "abc", nil},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.prog), func(t *testing.T) {
			if _, err := os.Stat(tt.prog); err != nil {
				requireTool(t, filepath.Base(tt.prog))
			}
			want := run(t, tt.stdin, tt.prog, tt.args...)
			tag := buildAndLoad(t, filepath.Base(tt.prog), tt.prog)
			got := dockerRun(t, tt.stdin, append([]string{tag}, tt.args...)...)
			if filepath.Base(tt.prog) == "ls" {
				// The image's /tmp has the host's mode but another date.
				want, got = strings.Fields(want)[0], strings.Fields(got)[0]
			}
			if got != want {
				t.Errorf("in the container: %q\non the host:       %q", got, want)
			}
		})
	}
}

// TestBuildServers: redis-server answers PING from redis-cli on the host,
// nginx serves a page to curl on the host, over published ports.
func TestBuildServers(t *testing.T) {
	requireDocker(t)
	t.Run("redis", func(t *testing.T) {
		requireTool(t, "redis-server")
		requireTool(t, "redis-cli")
		tag := buildAndLoad(t, "redis", "/usr/bin/redis-server")
		port := freePort(t)
		name := strings.NewReplacer("/", "-", ":", "-").Replace(tag)
		run(t, "", "docker", "run", "-d", "--rm", "--name", name, "-p", fmt.Sprintf("127.0.0.1:%d:6379", port), tag,
			"--protected-mode", "no", "--save", "")
		t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })
		var got string
		for i := 0; i < 50; i++ {
			out, _, err := runErr("", "redis-cli", "-h", "127.0.0.1", "-p", fmt.Sprint(port), "PING")
			if got = strings.TrimSpace(out); err == nil && got == "PONG" {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		logs, _, _ := runErr("", "docker", "logs", name)
		t.Errorf("redis-cli PING = %q, want PONG\n%s", got, logs)
	})
	t.Run("nginx", func(t *testing.T) {
		requireTool(t, "nginx")
		dir := t.TempDir()
		conf := filepath.Join(dir, "nginx.conf")
		os.WriteFile(conf, []byte(`daemon off;
error_log stderr;
pid /tmp/nginx.pid;
events {}
http {
    access_log off;
    client_body_temp_path /tmp/body;
    proxy_temp_path /tmp/proxy;
    fastcgi_temp_path /tmp/fastcgi;
    uwsgi_temp_path /tmp/uwsgi;
    scgi_temp_path /tmp/scgi;
    server {
        listen 8080;
        location / { return 200 "hello from nginx\n"; }
    }
}
`), 0o644)
		tag := buildAndLoad(t, "nginx", "--add", conf+":/etc/nginx/test.conf",
			"--cmd", `["-e", "stderr", "-c", "/etc/nginx/test.conf"]`, "/usr/sbin/nginx")
		port := freePort(t)
		name := strings.NewReplacer("/", "-", ":", "-").Replace(tag)
		run(t, "", "docker", "run", "-d", "--rm", "--name", name, "-p", fmt.Sprintf("127.0.0.1:%d:8080", port), tag)
		t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })
		url := fmt.Sprintf("http://127.0.0.1:%d/", port)
		for i := 0; i < 50; i++ {
			resp, err := http.Get(url)
			if err == nil {
				b := make([]byte, 100)
				n, _ := resp.Body.Read(b)
				resp.Body.Close()
				if got := string(b[:n]); got != "hello from nginx\n" {
					t.Errorf("GET %s = %q", url, got)
				}
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		logs, errs, _ := runErr("", "docker", "logs", name)
		t.Errorf("nginx did not answer on %s\n%s%s", url, logs, errs)
	})
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// copyInto copies the host file src to ROOT/dst.
func copyInto(t *testing.T, root, dst, src string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(src)
	p := filepath.Join(root, dst)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, b, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}

// copyHostPath copies host path p into ROOT at the same path, recreating
// the symbolic links on the way (/lib64 -> usr/lib64 ...).
func copyHostPath(t *testing.T, root, p string) {
	t.Helper()
	cur := "/"
	for _, comp := range strings.Split(strings.Trim(p, "/"), "/") {
		next := filepath.Join(cur, comp)
		fi, err := os.Lstat(next)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(root, next)
		if fi.Mode()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(next)
			if _, err := os.Lstat(dst); err != nil {
				os.MkdirAll(filepath.Dir(dst), 0o755)
				if err := os.Symlink(target, dst); err != nil {
					t.Fatal(err)
				}
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(cur, target)
			}
			copyHostPath(t, root, target)
			resolved, err := filepath.EvalSymlinks(next)
			if err != nil {
				t.Fatal(err)
			}
			cur = resolved
			continue
		}
		if fi.IsDir() {
			os.MkdirAll(dst, 0o755)
		} else {
			copyInto(t, root, next, next)
		}
		cur = next
	}
}

// hostClosure lists the loader and library paths glibc's ldd prints.
func hostClosure(t *testing.T, prog string) []string {
	t.Helper()
	out := run(t, "", "ldd", prog)
	var paths []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			paths = append(paths, f[2])
		case len(f) == 2 && strings.HasPrefix(f[0], "/"):
			paths = append(paths, f[0])
		}
	}
	return paths
}
