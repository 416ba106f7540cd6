package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRootClosure copies a real program and its whole closure (as the
// host's ldd lists it) into a root at the same paths, with ROOT/lib and
// ROOT/lib64 as absolute symbolic links (/usr/lib, /usr/lib64) and a cache
// made by `ldconfig -r ROOT`. `fromscratch ldd --root ROOT` must give the
// host's paths, every one a file inside ROOT, and the same answer as the
// root's own loader run in it (chrootTrace).
func TestRootClosure(t *testing.T) {
	requireChrootTools(t)
	bin := fromscratchBin(t)
	prog := ""
	for _, p := range []string{"/usr/bin/curl", "/usr/bin/wget", "/usr/bin/ls"} {
		if _, err := os.Stat(p); err == nil {
			prog = p
			break
		}
	}
	if prog == "" {
		skipOrFail(t, "no /usr/bin/curl, wget or ls")
	}
	host := traceLoader(t, "ldd", prog)
	root := newGlibcRoot(t)
	mirror(t, root, prog)
	for _, p := range host.paths {
		if p == "" {
			t.Fatalf("ldd %s: something is not found on the host:\n%s", prog, host.out)
		}
		mirror(t, root, p)
	}
	writeFile(t, root, "etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n")
	ldconfigRoot(t, root)

	res, stderr, code := runLddJSON(t, bin, 1, "ldd", "--root", root, "--json", prog)
	got := res[0]
	if code != 0 || got.Error != "" {
		t.Fatalf("fromscratch ldd --root %s %s: exit code %d, error %q, want 0\n%s", root, prog, code, got.Error, stderr)
	}
	wantInterpreter(t, got, glibcLoader, "glibc")
	real := rootRealpath(root)
	wantInRoot(t, root, got)
	if len(got.Libraries) < 2 {
		t.Errorf("fromscratch ldd --root %s %s: %d libraries, want the closure", root, prog, len(got.Libraries))
	}
	// The same path strings as on the host.
	comparePaths(t, host, got)
	// The same answer as the loader of the root.
	wantTrace(t, "the root's loader", chrootTrace(t, root, prog), got, real)
}

// TestRootLdSoConf: a library only in a directory named by
// ROOT/etc/ld.so.conf.d/x.conf is found through ROOT/etc/ld.so.cache made by
// `ldconfig -r ROOT`, and not at all once the cache is gone (the loader never
// reads ld.so.conf). A DF_1_NODEFLIB program still uses a cache entry
// outside the default directories, but not libc's. ROOT/etc/ld.so.preload
// comes first.
func TestRootLdSoConf(t *testing.T) {
	requireChrootTools(t)
	requireTool(t, "gcc")
	bin := fromscratchBin(t)
	dir := tempDir(t)
	root := newGlibcRoot(t)
	libc := traceLoader(t, "ldd", "/usr/bin/env").paths["libc.so.6"]
	if libc == "" {
		t.Fatal("ldd /usr/bin/env: no libc.so.6")
	}
	mirror(t, root, libc)

	// gcc -shared -fPIC -Wl,-soname,libfoo.so.1 -o libfoo.so.1 foo.c
	// gcc -o prog main.c ./libfoo.so.1
	// gcc -o prog-nodeflib main.c ./libfoo.so.1 -Wl,-z,nodefaultlib
	// gcc -shared -fPIC -o libbar.so bar.c
	writeFile(t, dir, "foo.c", fooC)
	writeFile(t, dir, "main.c", mainC)
	cc(t, dir, "gcc", "-shared", "-fPIC", "-Wl,-soname,libfoo.so.1", "-o", "libfoo.so.1", "foo.c")
	cc(t, dir, "gcc", "-o", "prog", "main.c", "./libfoo.so.1")
	cc(t, dir, "gcc", "-o", "prog-nodeflib", "main.c", "./libfoo.so.1", "-Wl,-z,nodefaultlib")
	writeFile(t, dir, "bar.c", barC)
	cc(t, dir, "gcc", "-shared", "-fPIC", "-o", "libbar.so", "bar.c")
	writeFile(t, root, "opt/bar/libbar.so", string(readFile(t, dir+"/libbar.so")))
	writeFile(t, root, "opt/foo/lib/libfoo.so.1", string(readFile(t, dir+"/libfoo.so.1")))
	writeFile(t, root, "usr/bin/prog", string(readFile(t, dir+"/prog")))
	writeFile(t, root, "usr/bin/prog-nodeflib", string(readFile(t, dir+"/prog-nodeflib")))
	writeFile(t, root, "etc/ld.so.conf", "# the default\ninclude /etc/ld.so.conf.d/*.conf\n")
	writeFile(t, root, "etc/ld.so.conf.d/x.conf", "/opt/foo/lib\n")
	ldconfigRoot(t, root)

	tests := []struct {
		name     string
		file     string
		noCache  bool
		preload  string // ROOT/etc/ld.so.preload for this case
		wantCode int
		check    func(t *testing.T, got lddJSON)
	}{{
		name: "cache",
		file: "/usr/bin/prog",
		check: func(t *testing.T, got lddJSON) {
			wantLib(t, got, "libfoo.so.1", "/opt/foo/lib/libfoo.so.1", "ld.so.cache")
			wantLib(t, got, "libc.so.6", "", "ld.so.cache")
		},
	}, {
		name:     "nodeflib",
		file:     "/usr/bin/prog-nodeflib",
		wantCode: 1,
		check: func(t *testing.T, got lddJSON) {
			wantLib(t, got, "libfoo.so.1", "/opt/foo/lib/libfoo.so.1", "ld.so.cache")
			wantMissing(t, got, "libc.so.6")
		},
	}, {
		name:    "preload",
		file:    "/usr/bin/prog",
		preload: "/opt/bar/libbar.so\n",
		check: func(t *testing.T, got lddJSON) {
			if len(got.Libraries) == 0 || got.Libraries[0].Name != "/opt/bar/libbar.so" || !got.Libraries[0].Found {
				t.Errorf("libraries = %v, want /opt/bar/libbar.so first", got.Libraries)
			}
			wantLib(t, got, "libfoo.so.1", "/opt/foo/lib/libfoo.so.1", "ld.so.cache")
		},
	}, {
		name:     "no cache",
		file:     "/usr/bin/prog",
		noCache:  true,
		wantCode: 1,
		check: func(t *testing.T, got lddJSON) {
			wantMissing(t, got, "libfoo.so.1")
			wantLib(t, got, "libc.so.6", "", "default")
		},
	}}
	real := rootRealpath(root)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.noCache {
				removeFile(t, root+"/etc/ld.so.cache")
			}
			if tc.preload != "" {
				writeFile(t, root, "etc/ld.so.preload", tc.preload)
				t.Cleanup(func() { os.Remove(root + "/etc/ld.so.preload") })
			}
			res, stderr, code := runLddJSON(t, bin, 1, "ldd", "--root", root, "--json", tc.file)
			got := res[0]
			if code != tc.wantCode || got.Error != "" {
				t.Errorf("fromscratch ldd --root %s %s: exit code %d, error %q, want %d\n%s", root, tc.file, code, got.Error, tc.wantCode, stderr)
			}
			wantInterpreter(t, got, glibcLoader, "glibc")
			tc.check(t, got)
			wantInRoot(t, root, got)
			wantTrace(t, "the root's loader", chrootTrace(t, root, tc.file), got, real)
		})
	}
}

// TestRootEscape: symbolic links and search paths that lead out of the root
// must not find the host's files.
//
//	ROOT/usr/lib/x86_64-linux-gnu/libevil.so.1 -> ../../../../../../../../OUT/libevil.so.1
//	ROOT/usr/lib/x86_64-linux-gnu/libevil2.so.1 -> OUT/libevil2.so.1 (absolute)
//	ROOT/lib/x86_64-linux-gnu/libc.so.6 -> /usr/lib/x86_64-linux-gnu/libc.so.6 (a file on the host only)
//	ROOT/etc/ld.so.cache: a copy of the host's (paths of files only the host has)
//	prog: DT_RUNPATH OUT, needs libevil.so.1, libevil2.so.1, libevil3.so.1 (only in OUT), libm.so.6, libc.so.6
//
// where OUT is a host directory outside ROOT that holds all the libevil.
func TestRootEscape(t *testing.T) {
	requireChrootTools(t)
	requireTool(t, "gcc")
	bin := fromscratchBin(t)
	dir := tempDir(t)
	out := dir + "/out"
	root := dir + "/root"
	mkdir(t, root+"/etc")
	mkdir(t, root+"/usr/lib/x86_64-linux-gnu")
	mkdir(t, root+"/lib/x86_64-linux-gnu")
	loaderReal, err := filepath.EvalSymlinks(glibcLoader)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, glibcLoader, string(readFile(t, loaderReal)))
	libcHost := "/usr/lib/x86_64-linux-gnu/libc.so.6"
	requireFile(t, libcHost)

	// gcc -shared -fPIC -Wl,-soname,libevilN.so.1 -o out/libevilN.so.1 foo.c (N = "", 2, 3)
	// gcc -o prog main.c -Wl,--no-as-needed out/libevil.so.1 out/libevil2.so.1 out/libevil3.so.1 -lm -Wl,--enable-new-dtags -Wl,-rpath,OUT
	writeFile(t, dir, "foo.c", fooC)
	writeFile(t, dir, "main.c", mainC)
	var libs []string
	for _, n := range []string{"", "2", "3"} {
		lib := "out/libevil" + n + ".so.1"
		cc(t, dir, "gcc", "-shared", "-fPIC", "-Wl,-soname,libevil"+n+".so.1", "-o", lib, "foo.c")
		libs = append(libs, lib)
	}
	cc(t, dir, "gcc", append(append([]string{"-o", "prog", "main.c", "-Wl,--no-as-needed"}, libs...), "-lm", "-Wl,--enable-new-dtags", "-Wl,-rpath,"+out)...)
	writeFile(t, root, "usr/bin/prog", string(readFile(t, dir+"/prog")))
	symlink(t, strings.Repeat("../", 8)+strings.TrimPrefix(out, "/")+"/libevil.so.1", root+"/usr/lib/x86_64-linux-gnu/libevil.so.1")
	symlink(t, out+"/libevil2.so.1", root+"/usr/lib/x86_64-linux-gnu/libevil2.so.1")
	symlink(t, libcHost, root+"/lib/x86_64-linux-gnu/libc.so.6")
	if b, err := os.ReadFile("/etc/ld.so.cache"); err == nil {
		writeFile(t, root, "etc/ld.so.cache", string(b))
	}

	res, stderr, code := runLddJSON(t, bin, 1, "ldd", "--root", root, "--json", "/usr/bin/prog")
	got := res[0]
	if code != 1 || got.Error != "" {
		t.Errorf("fromscratch ldd --root %s /usr/bin/prog: exit code %d, error %q, want 1\n%s", root, code, got.Error, stderr)
	}
	wantInterpreter(t, got, glibcLoader, "glibc")
	for _, name := range []string{"libevil.so.1", "libevil2.so.1", "libevil3.so.1", "libm.so.6", "libc.so.6"} {
		wantMissing(t, got, name)
	}
	wantInRoot(t, root, got)
	for _, l := range got.Libraries {
		for _, p := range []string{l.Path, l.Realpath} {
			if strings.HasPrefix(p, out) || strings.HasPrefix(p, root) {
				t.Errorf("%s => %q: a host path", l.Name, p)
			}
		}
	}
	real := rootRealpath(root)
	wantTrace(t, "the root's loader", chrootTrace(t, root, "/usr/bin/prog"), got, real)
}

// TestRootNoLoader: a root that holds only the program.
func TestRootNoLoader(t *testing.T) {
	requireTool(t, "gcc")
	bin := fromscratchBin(t)
	dir := tempDir(t)
	// gcc -o prog hello.c
	writeFile(t, dir, "hello.c", helloC)
	cc(t, dir, "gcc", "-o", "prog", "hello.c")
	root := dir + "/root"
	writeFile(t, root, "usr/bin/prog", string(readFile(t, dir+"/prog")))

	res, stderr, code := runLddJSON(t, bin, 1, "ldd", "--root", root, "--json", "/usr/bin/prog")
	got := res[0]
	if code != 1 {
		t.Errorf("fromscratch ldd --root %s /usr/bin/prog: exit code %d, want 1\n%s", root, code, stderr)
	}
	if got.Error != "" || got.Interpreter != glibcLoader || got.InterpreterFound == nil || *got.InterpreterFound {
		t.Errorf("fromscratch ldd --root = %+v, want interpreter %s not found", got, glibcLoader)
	}
	wantMissing(t, got, "libc.so.6")
}

func requireChrootTools(t *testing.T) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("the roots are written for x86-64")
	}
	requireTool(t, "ldd")
	requireTool(t, "ldconfig")
	requireFile(t, glibcLoader)
	if os.Geteuid() != 0 {
		skipOrFail(t, "chroot(2) needs root")
	}
}

// newGlibcRoot makes a root with ROOT/lib -> /usr/lib and ROOT/lib64 ->
// /usr/lib64, absolute on purpose, and the host's loader at
// /lib64/ld-linux-x86-64.so.2 (through the host's own links).
func newGlibcRoot(t *testing.T) string {
	t.Helper()
	root := tempDir(t)
	mkdir(t, root+"/etc")
	mkdir(t, root+"/usr/lib")
	mkdir(t, root+"/usr/lib64")
	symlink(t, "/usr/lib", root+"/lib")
	symlink(t, "/usr/lib64", root+"/lib64")
	mirror(t, root, glibcLoader)
	return root
}

// ldconfigRoot writes ROOT/etc/ld.so.cache (ldconfig -X: no links made).
func ldconfigRoot(t *testing.T, root string) {
	t.Helper()
	if out, err := command("/", "ldconfig", "-X", "-r", root); err != nil {
		t.Fatalf("ldconfig -r %s = %v\n%s", root, err, out)
	}
	if _, err := os.Stat(root + "/etc/ld.so.cache"); err != nil {
		t.Fatalf("ldconfig -r %s: %v", root, err)
	}
}

// chrootTrace lists what the root's own loader loads for file, run inside
// root as glibc's ldd runs it: LD_TRACE_LOADED_OBJECTS=1 ld.so FILE. (Not
// `chroot ROOT ld.so --list FILE`: glibc 2.36's --list stops at the first
// library not found instead of listing it as "not found"; and the host's
// chroot program must not see LD_TRACE_LOADED_OBJECTS itself.)
func chrootTrace(t *testing.T, root, file string) trace {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, glibcLoader, file)
	cmd.Env = []string{"LD_TRACE_LOADED_OBJECTS=1"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	return traceCmd(t, ctx, cmd)
}

// mirror copies the host file p into root at the same path, recreating
// every symbolic link met on the way (a link root already has is kept).
func mirror(t *testing.T, root, p string) {
	t.Helper()
	for hops := 0; hops < 40; hops++ {
		comps := strings.Split(path.Clean(p), "/")[1:]
		cur, next := "/", ""
		redirected := false
		for i, c := range comps {
			next = path.Join(cur, c)
			fi, err := os.Lstat(next)
			if err != nil {
				t.Fatalf("mirror %s: %v", p, err)
			}
			if fi.Mode()&fs.ModeSymlink != 0 {
				target, err := os.Readlink(next)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := os.Lstat(root + next); errors.Is(err, fs.ErrNotExist) {
					safeDir(t, root, path.Dir(next))
					symlink(t, target, root+next)
				}
				if !path.IsAbs(target) {
					target = path.Join(cur, target)
				}
				p = path.Join(append([]string{target}, comps[i+1:]...)...)
				redirected = true
				break
			}
			if i < len(comps)-1 {
				cur = next
				continue
			}
			if !fi.Mode().IsRegular() {
				t.Fatalf("mirror %s: %s is not a regular file", p, next)
			}
			safeDir(t, root, path.Dir(next))
			if err := os.WriteFile(root+next, readFile(t, next), fi.Mode().Perm()); err != nil {
				t.Fatal(err)
			}
		}
		if !redirected {
			return
		}
	}
	t.Fatalf("mirror %s: too many symbolic links", p)
}

// safeDir creates the directory d of root, refusing to go through a
// symbolic link of root (which the host would follow out of it).
func safeDir(t *testing.T, root, d string) {
	t.Helper()
	cur := root
	for _, c := range strings.Split(strings.Trim(d, "/"), "/") {
		if c == "" {
			continue
		}
		cur += "/" + c
		fi, err := os.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(cur, 0o755); err != nil {
				t.Fatal(err)
			}
		case err != nil:
			t.Fatal(err)
		case !fi.IsDir():
			t.Fatalf("mirror: %s is not a directory of the root", cur)
		}
	}
}

// rootRealpath returns a function giving the real path of a path inside
// root, symbolic links followed inside root (absolute ones re-rooted, ".."
// stopping at its top); a path that does not resolve is returned as it is.
func rootRealpath(root string) func(string) string {
	return func(p string) string {
		r, err := realpathIn(root, p)
		if err != nil {
			return p
		}
		return r
	}
}

// realpathIn resolves every symbolic link of p (a path inside root) inside
// root, as a chroot would: absolute targets start again at root and ".."
// stops at it. It returns the real path inside root. It is the tests' own,
// independent of package rootfs.
func realpathIn(root, p string) (string, error) {
	cur := "/"
	rest := strings.Split(p, "/")
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		fi, err := os.Lstat(root + next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > 40 {
			return "", errors.New("too many levels of symbolic links")
		}
		target, err := os.Readlink(root + next)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return cur, nil
}

// wantInRoot checks that every path fromscratch reports is a path inside
// root that leads to a regular file of root, and that its realpath is the
// one inside root.
func wantInRoot(t *testing.T, root string, got lddJSON) {
	t.Helper()
	check := func(what, p, realp string) {
		r, err := realpathIn(root, p)
		if err != nil {
			t.Errorf("%s => %q: not in the root: %v", what, p, err)
			return
		}
		if fi, err := os.Lstat(root + r); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s => %q: %s is not a file of the root (%v)", what, p, r, err)
		}
		if realp != "" && realp != r {
			t.Errorf("%s => %q: realpath %q, want %q", what, p, realp, r)
		}
	}
	if got.InterpreterFound != nil && *got.InterpreterFound {
		check("interpreter", got.Interpreter, "")
	}
	for _, l := range got.Libraries {
		if l.Found {
			check(l.Name, l.Path, l.Realpath)
		}
	}
}
