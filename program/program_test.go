package program

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fromscratch/fromscratch/internal/testenv"
	"github.com/fromscratch/fromscratch/rootfs"
)

// root makes a directory root holding the host's env, python3 (a symbolic
// link to the real file, as Debian has it) and sh, and the files given
// (path: content; a content of "" makes a directory).
func root(t *testing.T, files map[string]string, modes map[string]os.FileMode) rootfs.FS {
	t.Helper()
	dir := t.TempDir()
	copyHost := func(host, p string) {
		t.Helper()
		real, err := filepath.EvalSymlinks(host)
		if err != nil {
			testenv.Missing(t, "%s: %v", host, err)
		}
		b, err := os.ReadFile(real)
		if err != nil {
			t.Fatal(err)
		}
		write(t, dir, p, string(b), 0o755)
	}
	copyHost("/usr/bin/env", "/usr/bin/env")
	copyHost("/bin/sh", "/bin/sh")
	testenv.File(t, "/usr/bin/python3")
	real, err := filepath.EvalSymlinks("/usr/bin/python3")
	if err != nil {
		t.Fatal(err)
	}
	copyHost(real, "/usr/bin/"+filepath.Base(real))
	if filepath.Base(real) != "python3" {
		if err := os.Symlink(filepath.Base(real), filepath.Join(dir, "usr/bin/python3")); err != nil {
			t.Fatal(err)
		}
	}
	for p, content := range files {
		mode, ok := modes[p]
		if !ok {
			mode = 0o755
		}
		if content == "" {
			if err := os.MkdirAll(filepath.Join(dir, p), mode); err != nil {
				t.Fatal(err)
			}
			continue
		}
		write(t, dir, p, content, mode)
	}
	fsys, err := rootfs.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

func write(t *testing.T, dir, p, content string, mode os.FileMode) {
	t.Helper()
	host := filepath.Join(dir, p)
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(host, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(host, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

// paths lists the files an exec ran.
func paths(ex *Exec) []string {
	var out []string
	for _, f := range ex.Files {
		out = append(out, f.Path)
	}
	return out
}

func TestPathSearch(t *testing.T) {
	fsys := root(t, map[string]string{
		"/usr/local/bin/tool": "#!/bin/sh\n", // not executable: skipped
		"/usr/sbin/tool":      "",            // a directory: skipped
		"/usr/bin/tool":       "#!/bin/sh\n",
		"/opt/bin/tool":       "#!/bin/sh\n",
	}, map[string]os.FileMode{"/usr/local/bin/tool": 0o644})
	ex, err := Resolve(fsys, []string{"tool"}, nil)
	if err != nil || ex.Files[0].Path != "/usr/bin/tool" {
		t.Fatalf("Resolve(tool) = %q, %v; want /usr/bin/tool", paths(ex), err)
	}
	if got := ex.Program(); got == nil || got.Path != "/bin/sh" || !slices.Equal(got.Argv, []string{"/bin/sh", "/usr/bin/tool"}) {
		t.Errorf("program = %+v, want /bin/sh /usr/bin/tool", got)
	}
	// The image's PATH replaces the default; empty and relative entries
	// are not searched.
	ex, err = Resolve(fsys, []string{"tool"}, []string{"PATH=:.:bin:/opt/bin"})
	if err != nil || ex.Files[0].Path != "/opt/bin/tool" {
		t.Errorf("Resolve(tool) with PATH=/opt/bin = %q, %v", paths(ex), err)
	}
	_, err = Resolve(fsys, []string{"tool"}, []string{"PATH=/nowhere"})
	var ee *ExecError
	if !errors.As(err, &ee) || !errors.Is(err, ErrNotFound) || ee.SearchPath != "/nowhere" || ee.Role != Command {
		t.Errorf("Resolve(tool) with PATH=/nowhere = %v, want not found", err)
	}
	if p, err := LookPath(fsys, "python3", nil); err != nil || p != "/usr/bin/python3" {
		t.Errorf("LookPath(python3) = %q, %v", p, err)
	}
	// A relative path is the working directory's.
	ex, err = ResolveDir(fsys, "/usr", []string{"bin/tool"}, nil)
	if err != nil || ex.Files[0].Path != "/usr/bin/tool" {
		t.Errorf("ResolveDir(/usr, bin/tool) = %q, %v", paths(ex), err)
	}
}

// TestNotExecutable: what execve refuses, and where.
func TestNotExecutable(t *testing.T) {
	type want struct {
		err  error
		path string // the file that fails
		role Role
	}
	files := map[string]string{"/app/dir": ""}
	wants := map[string]want{"/app/dir": {ErrNotExecutable, "/app/dir", Command}, "/app/none": {ErrNotFound, "/app/none", Command}}
	add := func(p, content string, w want) { files[p], wants[p] = content, w }
	add("/app/data", "#!/bin/sh\n", want{ErrNotExecutable, "/app/data", Command}) // mode 0644
	add("/app/text", "echo hi\n", want{ErrFormat, "/app/text", Command})
	add("/app/empty", "#!  \n", want{ErrFormat, "/app/empty", Command})
	// The carriage return is part of the interpreter's name.
	add("/app/crlf", "#!/bin/sh\r\necho hi\r\n", want{ErrNotFound, "/bin/sh\r", Interpreter})
	fsys := root(t, files, map[string]os.FileMode{"/app/data": 0o644})
	for argv0, w := range wants {
		_, err := Resolve(fsys, []string{argv0}, nil)
		var ee *ExecError
		if !errors.As(err, &ee) || !errors.Is(err, w.err) || ee.Path != w.path || ee.Role != w.role {
			t.Errorf("Resolve(%s) = %v, want %v at %q (%v)", argv0, err, w.err, w.path, w.role)
		}
	}
	_, err := Resolve(fsys, []string{"/app/data"}, nil)
	var ee *ExecError
	if errors.As(err, &ee) && ee.Mode.Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644", ee.Mode)
	}
}

// TestDepthLimit checks the #! depth against the kernel that runs the
// tests: a chain of MaxInterpreters scripts runs, and one of
// MaxInterpreters+2 does not (ELOOP); the model refuses from
// MaxInterpreters+1 on, what kernels before 5.8 refuse.
func TestDepthLimit(t *testing.T) {
	dir := t.TempDir()
	sh := testenv.Tool(t, "sh")
	scripts := []string{filepath.Join(dir, "s1")}
	write(t, dir, "s1", "#!"+sh+"\necho ran\n", 0o755)
	for i := 2; i <= MaxInterpreters+2; i++ {
		name := "s" + strconv.Itoa(i)
		write(t, dir, name, "#!"+scripts[len(scripts)-1]+"\n", 0o755)
		scripts = append(scripts, filepath.Join(dir, name))
	}
	host, err := rootfs.Dir("/")
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= MaxInterpreters+2; n++ {
		s := scripts[n-1]
		out, runErr := exec.Command(s).CombinedOutput()
		ex, err := Resolve(host, []string{s}, nil)
		switch {
		case n <= MaxInterpreters:
			if runErr != nil || strings.TrimSpace(string(out)) != "ran" {
				t.Errorf("%d scripts: the kernel refuses: %v %s", n, runErr, out)
			}
			if err != nil || len(ex.Files) != n+1 || ex.Program() == nil {
				t.Errorf("%d scripts: Resolve = %q, %v; want %d scripts and sh", n, paths(ex), err, n)
			}
		default:
			if !errors.Is(err, ErrLoop) {
				t.Errorf("%d scripts: Resolve = %q, %v; want ErrLoop", n, paths(ex), err)
			}
			if n == MaxInterpreters+2 && runErr == nil {
				t.Errorf("%d scripts: the kernel runs them: %s", n, out)
			}
		}
	}
}

// TestShebangKernel runs #! scripts on the host's kernel and the argv the
// model plans for them directly: both print the same, so the kernel split
// the line as the model does. printf shows it: its format is the #!
// argument, spaces included.
func TestShebangKernel(t *testing.T) {
	printf := testenv.Tool(t, "printf")
	host, err := rootfs.Dir("/")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"<%s> <%s>\n",              // one argument with a space, not two
		" \t<%s>|  \t\n",           // spaces and tabs around the line dropped, inside kept
		"<%s>\x00<%s>\n",           // a NUL ends the argument
		"\t\n",                     // no argument
		strings.Repeat("<%s>", 80), // no newline: cut at the kernel's buffer
	} {
		script := filepath.Join(t.TempDir(), "script")
		if err := os.WriteFile(script, []byte("#!"+printf+" "+line), 0o755); err != nil {
			t.Fatal(err)
		}
		kernel, err := exec.Command(script, "x").Output()
		if err != nil {
			t.Errorf("%q: the kernel runs it: %v", line, err)
			continue
		}
		ex, err := Resolve(host, []string{script, "x"}, nil)
		if err != nil {
			t.Errorf("%q: Resolve = %v", line, err)
			continue
		}
		argv := ex.Program().Argv
		model, err := exec.Command(argv[0], argv[1:]...).Output()
		if err != nil || string(model) != string(kernel) {
			t.Errorf("%q: planned argv %q prints %q (%v), the kernel's run %q", line, argv, model, err, kernel)
		}
	}
}
