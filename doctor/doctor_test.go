package doctor

import (
	"debug/elf"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fromscratch/fromscratch/internal/elfcraft"
	"github.com/fromscratch/fromscratch/internal/testenv"
	"github.com/fromscratch/fromscratch/rootfs"
)

// programs are compiled once for the package's tests:
//
//	gcc -o hello hello.c; gcc -static -o hello-static hello.c
//	gcc -shared -fPIC -Wl,-soname,libver.so.1 -Wl,--version-script,ver.map -o {new,old}/libver.so.1 ver.c
//	gcc -shared -fPIC -Wl,-soname,libver.so.1 -o none/libver.so.1 ver.c
//	gcc -o verprog main.c -Lnew -l:libver.so.1
var (
	progOnce sync.Once
	progDir  string
	progErr  error
)

func programs(t *testing.T) rootfs.FS {
	t.Helper()
	testenv.Tool(t, "gcc")
	progOnce.Do(func() {
		progDir, progErr = os.MkdirTemp("", "doctor-test-")
		if progErr != nil {
			return
		}
		files := map[string]string{
			"hello.c":     "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n",
			"ver.c":       "int g(void) { return 1; }\nint h(void) { return 2; }\n",
			"main.c":      "int h(void);\nint main(void) { return h(); }\n",
			"new/ver.map": "VER_1 { global: g; local: *; };\nVER_2 { global: h; } VER_1;\n",
			"old/ver.map": "VER_1 { global: g; h; local: *; };\n",
		}
		for name, data := range files {
			p := filepath.Join(progDir, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if progErr = os.WriteFile(p, []byte(data), 0o644); progErr != nil {
				return
			}
		}
		os.MkdirAll(filepath.Join(progDir, "none"), 0o755)
		lib := []string{"-shared", "-fPIC", "-Wl,-soname,libver.so.1", "../ver.c", "-o", "libver.so.1"}
		for _, c := range []struct {
			dir  string
			args []string
		}{
			{".", []string{"-o", "hello", "hello.c"}},
			{".", []string{"-static", "-o", "hello-static", "hello.c"}},
			{"new", append([]string{"-Wl,--version-script,ver.map"}, lib...)},
			{"old", append([]string{"-Wl,--version-script,ver.map"}, lib...)},
			{"none", lib},
			{".", []string{"-o", "verprog", "main.c", "-Lnew", "-l:libver.so.1"}},
		} {
			cmd := exec.Command("gcc", c.args...)
			cmd.Dir = filepath.Join(progDir, c.dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				progErr = &gccError{c.args, err, string(out)}
				return
			}
		}
	})
	if progErr != nil {
		t.Fatal(progErr)
	}
	fsys, err := rootfs.Dir(progDir)
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

type gccError struct {
	args []string
	err  error
	out  string
}

func (e *gccError) Error() string {
	return "gcc " + strings.Join(e.args, " ") + ": " + e.err.Error() + "\n" + e.out
}

// image is a tree under construction: files from the compiled programs
// ("prog:NAME"), from the host ("host:PATH"), or data.
type image struct {
	t    *testing.T
	tree *rootfs.Tree
	prog rootfs.FS
	host rootfs.FS
}

func newImage(t *testing.T) *image {
	host, err := rootfs.Dir("/")
	if err != nil {
		t.Fatal(err)
	}
	return &image{t: t, tree: rootfs.NewTree(), prog: programs(t), host: host}
}

// add adds src ("prog:NAME" or "host:PATH") at dst with perm.
func (im *image) add(dst, src string, perm fs.FileMode) *image {
	im.t.Helper()
	fsys, p := im.prog, strings.TrimPrefix(src, "prog:")
	if h, ok := strings.CutPrefix(src, "host:"); ok {
		fsys, p = im.host, h
	}
	real, err := rootfs.Realpath(fsys, p)
	if err != nil {
		testenv.Missing(im.t, "%s: %v", src, err)
	}
	fi, err := fsys.Lstat(real)
	if err != nil {
		im.t.Fatal(err)
	}
	im.tree.AddFile(dst, perm, fsys, real, fi.Size())
	return im
}

func (im *image) data(dst, data string, perm fs.FileMode) *image {
	im.tree.AddData(dst, perm, []byte(data))
	return im
}

// glibc adds the host's loader and libc where Debian has them.
func (im *image) glibc() *image {
	im.tree.AddSymlink("/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
	im.add("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "host:/lib64/ld-linux-x86-64.so.2", 0o755)
	return im.add("/lib/x86_64-linux-gnu/libc.so.6", "host:/lib/x86_64-linux-gnu/libc.so.6", 0o755)
}

// wantRemedy checks a problem's remedy: its values, and of its rebuild
// the program, entrypoint, cmd and libc.
func wantRemedy(t *testing.T, got, want Remedy) {
	t.Helper()
	g, w := got, want
	g.Rebuild, w.Rebuild = nil, nil
	if g != w || (got.Rebuild == nil) != (want.Rebuild == nil) {
		t.Fatalf("Remedy = %+v, want %+v", got, want)
	}
	if r, wr := got.Rebuild, want.Rebuild; r != nil && (r.Program != wr.Program || !slices.Equal(r.Entrypoint, wr.Entrypoint) || !slices.Equal(r.Cmd, wr.Cmd) || r.Musl != wr.Musl) {
		t.Errorf("Rebuild = %+v, want %+v", *r, *wr)
	}
}

func TestDiagnose(t *testing.T) {
	tests := []struct {
		name    string
		image   func(*image)
		cfg     Config
		check   string // the first problem's check; "" healthy
		message string // in its message
		program string // Report.Program, when checked
		warning string // the check of a warning expected
		chain   []string
		remedy  Remedy // the first problem's, when Kind is set
	}{
		{
			name:  "no command",
			image: func(im *image) { im.add("/hello", "prog:hello-static", 0o755) },
			check: "command", message: "no command specified",
			remedy: Remedy{Kind: SetEntrypoint},
		},
		{
			name:  "static",
			image: func(im *image) { im.add("/hello", "prog:hello-static", 0o755) },
			cfg:   Config{Entrypoint: []string{"/hello"}, Architecture: "amd64"},
		},
		{
			name: "loader missing: the loaders the image has",
			image: func(im *image) {
				im.add("/hello", "prog:hello", 0o755)
				im.data("/lib/ld-musl-x86_64.so.1", "\x7fELF", 0o755)
				im.tree.AddSymlink("/lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1")
			},
			cfg:   Config{Entrypoint: []string{"/hello"}},
			check: "loader", message: "its loader /lib64/ld-linux-x86-64.so.2 is not in the image (the image has /lib/ld-musl-x86_64.so.1)",
			remedy: Remedy{Kind: RebuildLoader, Rebuild: &Rebuild{Program: "/hello"}},
		},
		{
			name:    "glibc program with its loader and libc",
			image:   func(im *image) { im.glibc().add("/hello", "prog:hello", 0o755) },
			cfg:     Config{Entrypoint: []string{"/hello"}, Architecture: "amd64"},
			program: "/hello",
		},
		{
			name: "library missing",
			image: func(im *image) {
				im.glibc().add("/verprog", "prog:verprog", 0o755)
			},
			cfg:   Config{Entrypoint: []string{"/verprog"}, Cmd: []string{"-v"}},
			check: "library", message: "libver.so.1: cannot open shared object file",
			remedy: Remedy{Kind: RebuildLibraries, Rebuild: &Rebuild{Program: "/verprog", Cmd: []string{"-v"}}},
		},
		{
			name: "version met",
			image: func(im *image) {
				im.glibc().add("/verprog", "prog:verprog", 0o755).add("/usr/lib/x86_64-linux-gnu/libver.so.1", "prog:new/libver.so.1", 0o755)
			},
			cfg: Config{Entrypoint: []string{"/verprog"}},
		},
		{
			name: "version not met",
			image: func(im *image) {
				im.glibc().add("/verprog", "prog:verprog", 0o755).add("/usr/lib/x86_64-linux-gnu/libver.so.1", "prog:old/libver.so.1", 0o755)
			},
			cfg:   Config{Entrypoint: []string{"/verprog"}},
			check: "version", message: "libver.so.1: version `VER_2' not found (required by /verprog)",
		},
		{
			name: "library without versions",
			image: func(im *image) {
				im.glibc().add("/verprog", "prog:verprog", 0o755).add("/usr/lib/x86_64-linux-gnu/libver.so.1", "prog:none/libver.so.1", 0o755)
			},
			cfg:   Config{Entrypoint: []string{"/verprog"}},
			check: "version", message: "libver.so.1: no version information available (required by /verprog, which needs its version `VER_2')",
		},
		{
			// The kernel refuses both with ENOEXEC (see elfinfo's TestExecError).
			name: "empty PT_INTERP",
			image: func(im *image) {
				s := elfcraft.Needed("", "libc.so.6")
				s.Type, s.Interp = elf.ET_EXEC, []byte{}
				im.glibc().data("/app", string(s.Bytes()), 0o755)
			},
			cfg:   Config{Entrypoint: []string{"/app"}},
			check: "program", message: "exec /app: exec format error (malformed ELF: PT_INTERP of 0 bytes is empty",
		},
		{
			name: "PT_INTERP without its final NUL",
			image: func(im *image) {
				s := elfcraft.Needed("", "libc.so.6")
				s.Type, s.Interp = elf.ET_EXEC, []byte("/lib64/ld-linux-x86-64.so.2")
				im.glibc().data("/app", string(s.Bytes()), 0o755)
			},
			cfg:   Config{Entrypoint: []string{"/app"}},
			check: "program", message: "exec /app: exec format error (malformed ELF: PT_INTERP is not NUL-terminated",
		},
		{
			name: "crafted program, well-formed PT_INTERP",
			image: func(im *image) {
				im.glibc().data("/app", string(elfcraft.Needed("/lib64/ld-linux-x86-64.so.2", "libc.so.6").Bytes()), 0o755)
			},
			cfg: Config{Entrypoint: []string{"/app"}},
		},
		{
			name:  "another architecture",
			image: func(im *image) { im.add("/hello", "prog:hello-static", 0o755) },
			cfg:   Config{Entrypoint: []string{"/hello"}, Architecture: "arm64"},
			check: "architecture", message: "the program is for amd64, the image for arm64",
			remedy: Remedy{Kind: BuildFor, Want: "arm64"},
		},
		{
			name:  "user name without /etc/passwd",
			image: func(im *image) { im.add("/hello", "prog:hello-static", 0o755) },
			cfg:   Config{Entrypoint: []string{"/hello"}, User: "nobody"},
			check: "user", message: "unable to find user nobody: no /etc/passwd",
			remedy: Remedy{Kind: AddUserFile, File: "/etc/passwd"},
		},
		{
			name: "user in passwd, group not in group",
			image: func(im *image) {
				im.add("/hello", "prog:hello-static", 0o755).
					data("/etc/passwd", "root:x:0:0::/:/sbin/nologin\napp:x:1000:1000::/:/sbin/nologin\n", 0o644).
					data("/etc/group", "root:x:0:\n", 0o644)
			},
			cfg:   Config{Entrypoint: []string{"/hello"}, User: "app:staff"},
			check: "user", message: "unable to find group staff: no matching entries in group",
			remedy: Remedy{Kind: AddUser, Name: "staff", File: "/etc/group"},
		},
		{
			name:  "numeric user",
			image: func(im *image) { im.add("/hello", "prog:hello-static", 0o755) },
			cfg:   Config{Entrypoint: []string{"/hello"}, User: "1000:1000"},
		},
		{
			name:  "PATH lookup in the image's PATH",
			image: func(im *image) { im.add("/opt/bin/hello", "prog:hello-static", 0o755) },
			cfg:   Config{Entrypoint: []string{"hello"}, Env: []string{"PATH=/opt/bin"}},
			// found, as runc finds it
			program: "/opt/bin/hello",
		},
		{
			name:    "PATH lookup in Docker's default PATH",
			image:   func(im *image) { im.add("/usr/local/bin/hello", "prog:hello-static", 0o755) },
			cfg:     Config{Cmd: []string{"hello"}},
			program: "/usr/local/bin/hello",
		},
		{
			name: "PATH lookup skips what is not executable",
			image: func(im *image) {
				im.add("/usr/bin/hello", "prog:hello-static", 0o644)
				im.tree.AddDir("/usr/local/bin/hello", 0o755)
			},
			cfg:   Config{Entrypoint: []string{"hello"}},
			check: "command", message: `exec: "hello": executable file not found in $PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)`,
		},
		{
			name:    "relative entrypoint from the working directory",
			image:   func(im *image) { im.add("/opt/app/hello", "prog:hello-static", 0o755) },
			cfg:     Config{Entrypoint: []string{"./hello"}, WorkingDir: "/opt/app"},
			program: "/opt/app/hello",
		},
		{
			name: "#! through env to an interpreter in PATH",
			image: func(im *image) {
				im.add("/usr/bin/env", "prog:hello-static", 0o755).add("/usr/bin/python3", "prog:hello-static", 0o755).
					data("/app.py", "#!/usr/bin/env python3\nprint(1)\n", 0o755)
			},
			cfg:   Config{Entrypoint: []string{"/app.py"}},
			chain: []string{"/app.py", "/usr/bin/python3"},
		},
		{
			name: "#! through env -S to an interpreter in the image's PATH",
			image: func(im *image) {
				im.add("/usr/bin/env", "prog:hello-static", 0o755).add("/opt/py/python3", "prog:hello-static", 0o755).
					data("/app.py", "#!/usr/bin/env -S python3 -u\nprint(1)\n", 0o755)
			},
			cfg:   Config{Entrypoint: []string{"/app.py"}, Env: []string{"PATH=/opt/py"}},
			chain: []string{"/app.py", "/opt/py/python3"},
		},
		{
			name: "#! through env to an interpreter not in PATH",
			image: func(im *image) {
				im.add("/usr/bin/env", "prog:hello-static", 0o755).data("/app.py", "#!/usr/bin/env python3\nprint(1)\n", 0o755)
			},
			cfg:   Config{Entrypoint: []string{"/app.py"}},
			check: "interpreter", message: "'python3': No such file or directory",
		},
		{
			name: "#! line with a carriage return",
			image: func(im *image) {
				im.add("/bin/sh", "prog:hello-static", 0o755).data("/app.sh", "#!/bin/sh\r\necho\r\n", 0o755)
			},
			cfg:   Config{Entrypoint: []string{"/app.sh"}},
			check: "interpreter", message: "its #! line ends with a carriage return",
		},
		{
			// env gets "python3 -u" as one argument.
			name: "#! env with two words",
			image: func(im *image) {
				im.add("/usr/bin/env", "prog:hello-static", 0o755).add("/usr/bin/python3", "prog:hello-static", 0o755).
					data("/app.py", "#!/usr/bin/env python3 -u\nprint(1)\n", 0o755)
			},
			cfg:   Config{Entrypoint: []string{"/app.py"}},
			check: "interpreter", message: "'python3 -u': No such file or directory",
		},
		{
			name: "#! env -S",
			image: func(im *image) {
				im.add("/usr/bin/env", "prog:hello-static", 0o755).data("/app.py", "#!/usr/bin/env -S PYTHONUNBUFFERED=1 python3 -u\nprint(1)\n", 0o755)
			},
			cfg:   Config{Entrypoint: []string{"/app.py"}},
			check: "interpreter", message: "'python3': No such file or directory",
		},
		{
			name:  "#! interpreter missing",
			image: func(im *image) { im.data("/app.sh", "#!/bin/bash -e\necho\n", 0o755) },
			cfg:   Config{Entrypoint: []string{"/app.sh"}},
			check: "interpreter", message: "its #! interpreter /bin/bash is not in the image",
		},
		{
			name:  "not executable",
			image: func(im *image) { im.add("/hello", "prog:hello-static", 0o600) },
			cfg:   Config{Entrypoint: []string{"/hello"}},
			check: "program", message: "permission denied",
		},
		{
			// The view knows no owners: a warning, not a verdict.
			name:    "executable by its owner only, as another user",
			image:   func(im *image) { im.add("/hello", "prog:hello-static", 0o700) },
			cfg:     Config{Entrypoint: []string{"/hello"}, User: "65532"},
			warning: "permission",
		},
		{
			name:  "working directory is a file",
			image: func(im *image) { im.add("/hello", "prog:hello-static", 0o755) },
			cfg:   Config{Entrypoint: []string{"/hello"}, WorkingDir: "/hello"},
			check: "workdir", message: "is not a directory",
			remedy: Remedy{Kind: FixWorkdir},
		},
		{
			name:    "working directory missing: a warning",
			image:   func(im *image) { im.add("/hello", "prog:hello-static", 0o755) },
			cfg:     Config{Entrypoint: []string{"/hello"}, WorkingDir: "/data"},
			warning: "workdir",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im := newImage(t)
			tt.image(im)
			rep := Diagnose(im.tree, tt.cfg)
			var first *Problem
			for i := range rep.Problems {
				if !rep.Problems[i].Warning {
					first = &rep.Problems[i]
					break
				}
			}
			switch {
			case tt.check == "" && first != nil:
				t.Fatalf("Diagnose() = %s: %s, want healthy", first.Check, first.Message)
			case tt.check == "":
			case first == nil:
				t.Fatalf("Diagnose() = healthy (%+v), want %s: %q", rep.Problems, tt.check, tt.message)
			case first.Check != tt.check || !strings.Contains(first.Message, tt.message):
				t.Fatalf("Diagnose() = %s: %q, want %s: ...%q...", first.Check, first.Message, tt.check, tt.message)
			}
			if rep.Healthy() != (tt.check == "") {
				t.Errorf("Healthy() = %v with problems %+v", rep.Healthy(), rep.Problems)
			}
			if tt.warning != "" {
				found := false
				for _, p := range rep.Problems {
					found = found || p.Warning && p.Check == tt.warning
				}
				if !found {
					t.Errorf("Problems = %+v, want a %s warning", rep.Problems, tt.warning)
				}
			}
			if tt.program != "" && rep.Program != tt.program {
				t.Errorf("Program = %q, want %q", rep.Program, tt.program)
			}
			if tt.chain != nil && strings.Join(rep.Chain, " ") != strings.Join(tt.chain, " ") {
				t.Errorf("Chain = %q, want %q", rep.Chain, tt.chain)
			}
			if tt.remedy.Kind != NoRemedy {
				wantRemedy(t, first.Remedy, tt.remedy)
			}
		})
	}
}
