package program

import (
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fromscratch/fromscratch/internal/testenv"
)

func TestEnvSplitString(t *testing.T) {
	fsys := root(t, map[string]string{
		"/app/run": "#!/usr/bin/env -S python3 -u\nprint('hi')\n",
	}, nil)
	ex, err := Resolve(fsys, []string{"/app/run", "a b"}, []string{"PATH=" + DefaultPath})
	if err != nil {
		t.Fatalf("Resolve = %v", err)
	}
	if got, want := paths(ex), []string{"/app/run", "/usr/bin/env", "/usr/bin/python3"}; !slices.Equal(got, want) {
		t.Fatalf("files = %q, want %q", got, want)
	}
	prog := ex.Program()
	if prog == nil || prog.Role != EnvCommand || prog.ELF == nil {
		t.Fatalf("program = %+v, want python3's ELF, run by env", prog)
	}
	if want := []string{"python3", "-u", "/app/run", "a b"}; !slices.Equal(prog.Argv, want) {
		t.Errorf("python3's argv = %q, want %q", prog.Argv, want)
	}
	if want := []string{"/usr/bin/env", "-S python3 -u", "/app/run", "a b"}; !slices.Equal(ex.Files[1].Argv, want) {
		t.Errorf("env's argv = %q, want %q (the #! argument is one word)", ex.Files[1].Argv, want)
	}
	if sb := ex.Files[0].Script; sb == nil || sb.Interpreter != "/usr/bin/env" || sb.Arg != "-S python3 -u" {
		t.Errorf("script = %+v", sb)
	}
	if Static(prog.ELF) {
		t.Errorf("python3 reads as static")
	}

	// The same script from elsewhere, as closure plans an added file.
	ex, err = ResolveScript(fsys, "/added", []byte("#!/usr/bin/env -S python3 -u\n"), nil, nil)
	if err != nil || ex.Program() == nil || ex.Program().Path != "/usr/bin/python3" {
		t.Errorf("ResolveScript = %q, %v; want python3", paths(ex), err)
	}
}

func TestEnvCommandNotInPath(t *testing.T) {
	fsys := root(t, map[string]string{"/app/run": "#!/usr/bin/env ruby\n"}, nil)
	ex, err := Resolve(fsys, []string{"/app/run"}, nil)
	var ee *ExecError
	if !errors.As(err, &ee) || !errors.Is(err, ErrNotFound) || ee.Path != "ruby" || ee.Role != EnvCommand || ee.By != "/usr/bin/env" || ee.SearchPath != DefaultPath {
		t.Fatalf("Resolve = %#v, want ruby not found in the default PATH, as env's command", err)
	}
	if got := paths(ex); !slices.Equal(got, []string{"/app/run", "/usr/bin/env"}) {
		t.Errorf("files = %q, want the script and env", got)
	}
	if strings.Contains(err.Error(), "--") {
		t.Errorf("message %q names a flag", err)
	}
}

func TestParseEnv(t *testing.T) {
	env := []string{"PATH=/usr/bin", "HOME=/root"}
	for _, tt := range []struct {
		args    []string
		argv    []string
		path    string
		wantErr bool
	}{
		{[]string{"-S python3 -u", "/s", "a"}, []string{"python3", "-u", "/s", "a"}, "/usr/bin", false},
		{[]string{"python3", "/s"}, []string{"python3", "/s"}, "/usr/bin", false},
		{[]string{"-i", "A=1", "prog"}, []string{"prog"}, "/bin:/usr/bin", false},
		{[]string{"-S -i PATH=/opt/bin prog"}, []string{"prog"}, "/opt/bin", false},
		{[]string{"--split-string=prog 'a b' \"${HOME}\" x\\_y # comment", "/s"}, []string{"prog", "a b", "/root", "x", "y", "/s"}, "/usr/bin", false},
		{[]string{"-vS", "prog -x"}, []string{"prog", "-x"}, "/usr/bin", false},
		{[]string{"-u", "PATH", "prog"}, []string{"prog"}, "/bin:/usr/bin", false},
		{[]string{"--", "A=1", "prog"}, []string{"prog"}, "/usr/bin", false},
		{[]string{"A=1"}, nil, "/usr/bin", false},
		{[]string{"-Z", "prog"}, nil, "", true},
		{[]string{"-S 'prog"}, nil, "", true},
	} {
		c, err := ParseEnv(tt.args, env)
		if tt.wantErr {
			if !errors.Is(err, ErrEnvUsage) {
				t.Errorf("ParseEnv(%q) = %+v, %v; want ErrEnvUsage", tt.args, c, err)
			}
			continue
		}
		if err != nil || !slices.Equal(c.Argv, tt.argv) || c.path() != tt.path {
			t.Errorf("ParseEnv(%q) = %+v, %v; want %q with PATH %s", tt.args, c, err, tt.argv, tt.path)
		}
	}
}

// TestParseEnvHost runs the host's env with arguments and printf as the
// command, and the command ParseEnv plans directly: both print the same.
func TestParseEnvHost(t *testing.T) {
	env := testenv.Tool(t, "env")
	printf := testenv.Tool(t, "printf")
	environ := []string{"PATH=" + filepath.Dir(printf), "HOME=/home/x"}
	for _, args := range [][]string{
		{"-S printf <%s> 'a b' \"${HOME}\" x\\_y # a comment", "/script"},
		{"-S printf <%s>\\c ignored", "/script"},
		{"-i", "PATH=" + filepath.Dir(printf), "printf", "<%s>", "z"},
		{"-vS", "printf [%s] \\t"},
	} {
		cmd := exec.Command(env, args...)
		cmd.Env = environ
		host, err := cmd.Output()
		if err != nil {
			t.Errorf("env %q: %v", args, err)
			continue
		}
		c, err := ParseEnv(args, environ)
		if err != nil || len(c.Argv) == 0 {
			t.Errorf("ParseEnv(%q) = %+v, %v", args, c, err)
			continue
		}
		run := exec.Command(printf, c.Argv[1:]...)
		run.Env = c.Env
		model, err := run.Output()
		if err != nil || string(model) != string(host) {
			t.Errorf("env %q: planned %q prints %q (%v), env prints %q", args, c.Argv, model, err, host)
		}
	}
}

// TestEnvChdir: env -C changes the directory a relative command is
// found from.
func TestEnvChdir(t *testing.T) {
	fsys := root(t, map[string]string{"/opt/app/run": "#!/bin/sh\n", "/usr/bin/start": "#!/usr/bin/env -S -C /opt/app ./run\n"}, nil)
	ex, err := Resolve(fsys, []string{"start"}, nil)
	if err != nil || !slices.Equal(paths(ex), []string{"/usr/bin/start", "/usr/bin/env", "/opt/app/run", "/bin/sh"}) || ex.Dir != "/opt/app" {
		t.Errorf("Resolve = %q in %s, %v; want ./run from /opt/app", paths(ex), ex.Dir, err)
	}
}

// TestEnvLoop: #!/usr/bin/env with no argument makes env run the script,
// which runs env again.
func TestEnvLoop(t *testing.T) {
	fsys := root(t, map[string]string{"/usr/bin/loop": "#!/usr/bin/env\n"}, nil)
	_, err := Resolve(fsys, []string{"loop"}, nil)
	if !errors.Is(err, ErrLoop) {
		t.Errorf("Resolve = %v, want ErrLoop", err)
	}
}
