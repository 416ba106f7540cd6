package closure

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fromscratch/fromscratch/internal/testenv"
	"github.com/fromscratch/fromscratch/program"
	"github.com/fromscratch/fromscratch/rootfs"
)

func items(p *Plan) map[string]Item {
	m := map[string]Item{}
	for _, l := range p.Layers {
		for _, it := range l {
			m[it.Path] = it
		}
	}
	return m
}

// TestHostProgram: every path glibc's ldd prints for /bin/ls resolves
// inside the plan's filesystem to the same real file as on the host.
func TestHostProgram(t *testing.T) {
	fsys, err := rootfs.Dir("/")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compute(fsys, []Input{{Path: "/bin/ls", Layer: LayerApp}}, nil, Options{})
	if err != nil {
		t.Fatalf("Compute(/bin/ls) = %v", err)
	}
	out, err := exec.Command(testenv.Tool(t, "ldd"), "/bin/ls").Output()
	if err != nil {
		t.Fatalf("ldd /bin/ls: %v", err)
	}
	b := &builder{fsys: fsys, plan: plan}
	for i := range b.layers {
		b.layers[i] = map[string]*Item{}
		for _, it := range plan.Layers[i] {
			b.layers[i][it.Path] = &it
		}
	}
	tree := b.tree()
	checked := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		var p string
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			p = f[2]
		case len(f) == 2 && strings.HasPrefix(f[0], "/"):
			p = f[0]
		default:
			continue
		}
		want, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := rootfs.Realpath(tree, p)
		if err != nil || got != want {
			t.Errorf("in the image, %s -> %q, %v; on the host -> %q", p, got, err, want)
		}
		checked++
	}
	if checked < 2 {
		t.Fatalf("ldd /bin/ls listed %d paths", checked)
	}
	// The loader's path goes through symbolic links that must be kept.
	m := items(plan)
	if fi, err := os.Lstat("/lib64"); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if it, ok := m["/lib64"]; !ok || it.Kind != Symlink {
			t.Errorf("/lib64 (a symlink on the host) = %+v, want a symlink", it)
		}
	}
	// ls itself: its real path, a regular file (a path not in the plan
	// would read as the zero Item, whose Kind is File).
	real, err := filepath.EvalSymlinks("/bin/ls")
	if err != nil {
		t.Fatal(err)
	}
	if it, ok := m[real]; !ok || it.Kind != File {
		t.Errorf("%s (ls) = %+v, %v in the plan; want a file", real, it, ok)
	}
}

func TestMissingLibrary(t *testing.T) {
	gcc := testenv.Tool(t, "gcc")
	dir := t.TempDir()
	// gcc -shared -o libgone.so gone.c; gcc -o prog prog.c -L. -lgone; rm libgone.so
	os.WriteFile(filepath.Join(dir, "gone.c"), []byte("int gone(void){return 1;}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "prog.c"), []byte("int gone(void); int main(void){return gone();}\n"), 0o644)
	for _, args := range [][]string{
		{"-shared", "-fPIC", "-o", "libgone.so", "gone.c"},
		{"-o", "prog", "prog.c", "-L.", "-lgone"},
	} {
		cmd := exec.Command(gcc, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, out)
		}
	}
	os.Remove(filepath.Join(dir, "libgone.so"))
	fsys, _ := rootfs.Dir("/")
	prog := filepath.Join(dir, "prog")
	_, err := Compute(fsys, []Input{{Path: prog, Layer: LayerApp}}, nil, Options{})
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "libgone.so") {
		t.Errorf("Compute = %v, want libgone.so not found", err)
	}
	plan, err := Compute(fsys, []Input{{Path: prog, Layer: LayerApp}}, nil, Options{AllowMissing: true})
	if err != nil || len(plan.Missing) != 1 {
		t.Errorf("Compute(AllowMissing) = %v, %v", plan, err)
	}
}

// TestEnvSplitScript: a script run by `env -S python3 -u` brings env and
// python3 (the file its link names, with python3's libraries), and
// the link itself.
func TestEnvSplitScript(t *testing.T) {
	testenv.File(t, "/usr/bin/python3")
	testenv.File(t, "/usr/bin/env")
	script := filepath.Join(t.TempDir(), "run")
	if err := os.WriteFile(script, []byte("#!/usr/bin/env -S python3 -u\nprint(1)\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	fsys, err := rootfs.Dir("/")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compute(fsys, []Input{{Path: script, Layer: LayerApp}}, nil, Options{})
	if err != nil {
		t.Fatalf("Compute = %v", err)
	}
	m := items(plan)
	for _, p := range []string{"/usr/bin/env", "/usr/bin/python3"} {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Fatal(err)
		}
		if it, ok := m[real]; !ok || it.Kind != File {
			t.Errorf("%s (%s) = %+v, %v in the plan; want a file", real, p, it, ok)
		}
	}
	if len(plan.Results) != 2 {
		t.Errorf("%d ELF files resolved, want env and python3", len(plan.Results))
	}
	// A PATH of the image without python3: the plan fails.
	_, err = Compute(fsys, []Input{{Path: script, Layer: LayerApp}}, nil, Options{Env: []string{"PATH=/nowhere"}})
	if !errors.Is(err, program.ErrNotFound) {
		t.Errorf("Compute with PATH=/nowhere = %v, want python3 not found", err)
	}
}

// TestAddThroughSymlink: a file added at /var/run/x where the root has
// /var/run -> /run lands in /run/x, and the link comes along, so /var/run/x
// resolves in the image too.
func TestAddThroughSymlink(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "run"), 0o755)
	os.MkdirAll(filepath.Join(root, "var"), 0o755)
	os.Symlink("/run", filepath.Join(root, "var/run"))
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "data"), []byte("hi"), 0o644)
	fsys, err := rootfs.Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := rootfs.Dir("/")
	plan, err := Compute(fsys, []Input{{Path: "/var/run/ko/data", FS: host, SourcePath: filepath.Join(src, "data"), Layer: LayerApp}}, nil, Options{})
	if err != nil {
		t.Fatalf("Compute = %v", err)
	}
	m := items(plan)
	if it := m["/var/run"]; it.Kind != Symlink || it.Target != "/run" {
		t.Errorf("/var/run = %+v, want the symlink to /run", it)
	}
	if it := m["/run/ko/data"]; it.Kind != File {
		t.Errorf("/run/ko/data = %+v, want the file", it)
	}
}

func TestExcluded(t *testing.T) {
	for _, tt := range []struct {
		globs []string
		p     string
		want  bool
	}{
		{[]string{"llvmjit*.so"}, "/usr/lib/postgresql/15/lib/llvmjit.so", true},
		{[]string{"llvmjit*.so"}, "/usr/lib/postgresql/15/lib/plpgsql.so", false},
		{[]string{"__pycache__"}, "/usr/lib/python3/__pycache__/a.pyc", true},
		{[]string{"/usr/share/doc"}, "/usr/share/doc/x/copyright", true},
		{[]string{"/usr/share/doc"}, "/usr/share/docs", false},
		{[]string{"/usr/*/doc"}, "/usr/share/doc", true},
		{[]string{"/usr/share/doc"}, "/usr/share", false},
		{nil, "/a", false},
	} {
		if got := Excluded(tt.globs, tt.p); got != tt.want {
			t.Errorf("Excluded(%q, %s) = %v, want %v", tt.globs, tt.p, got, tt.want)
		}
	}
}

// TestRunLoadedSOName: a library a run loaded (a Shallow input) whose
// DT_NEEDED no search finds is complete when the run also loaded a library
// of that DT_SONAME, as the JVM's libjava.so takes the libjvm.so that java
// dlopened from lib/server; the rule is the run's only.
func TestRunLoadedSOName(t *testing.T) {
	gcc := testenv.Tool(t, "gcc")
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "server"), 0o755)
	os.WriteFile(filepath.Join(dir, "core.c"), []byte("int core(void){return 1;}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "plug.c"), []byte("int core(void); int plug(void){return core();}\n"), 0o644)
	for _, args := range [][]string{
		{"-shared", "-fPIC", "-Wl,-soname,libcore.so", "-o", "server/libcore.so", "core.c"},
		{"-shared", "-fPIC", "-o", "libplug.so", "plug.c", "server/libcore.so"},
	} {
		cmd := exec.Command(gcc, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, out)
		}
	}
	fsys, _ := rootfs.Dir("/")
	core, plug := filepath.Join(dir, "server/libcore.so"), filepath.Join(dir, "libplug.so")
	for _, c := range []struct {
		inputs  []Input
		missing bool
	}{
		{[]Input{{Path: core, Layer: LayerApp, Shallow: true}, {Path: plug, Layer: LayerApp, Shallow: true}}, false},
		{[]Input{{Path: plug, Layer: LayerApp, Shallow: true}, {Path: core, Layer: LayerApp, Shallow: true}}, false},
		{[]Input{{Path: plug, Layer: LayerApp, Shallow: true}}, true},
		{[]Input{{Path: core, Layer: LayerApp, Shallow: true}, {Path: plug, Layer: LayerApp}}, true},
	} {
		plan, err := Compute(fsys, c.inputs, nil, Options{})
		if c.missing != errors.Is(err, ErrMissing) || c.missing && !strings.Contains(err.Error(), "libcore.so (needed by "+plug) {
			t.Errorf("Compute(%+v) = %v, want missing %v", c.inputs, err, c.missing)
			continue
		}
		if !c.missing {
			if _, ok := items(plan)[plug]; !ok {
				t.Errorf("Compute(%+v): the plan lacks %s", c.inputs, plug)
			}
		}
	}
}
