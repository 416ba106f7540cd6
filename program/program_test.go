package program

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/internal/elfcraft"
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

func TestNotExecutable(t *testing.T) {
	fsys := root(t, map[string]string{
		"/app/data":  "#!/bin/sh\n",
		"/app/dir":   "",
		"/app/text":  "echo hi\n",
		"/app/crlf":  "#!/bin/sh\r\necho hi\r\n",
		"/app/empty": "#!  \n",
	}, map[string]os.FileMode{"/app/data": 0o644})
	for _, tt := range []struct {
		argv string
		want error
		path string
		role Role
	}{
		{"/app/data", ErrNotExecutable, "/app/data", Command},
		{"/app/dir", ErrNotExecutable, "/app/dir", Command},
		{"/app/none", ErrNotFound, "/app/none", Command},
		{"/app/text", ErrFormat, "/app/text", Command},
		{"/app/empty", ErrFormat, "/app/empty", Command},
		// The carriage return is part of the interpreter's name.
		{"/app/crlf", ErrNotFound, "/bin/sh\r", Interpreter},
	} {
		_, err := Resolve(fsys, []string{tt.argv}, nil)
		var ee *ExecError
		if !errors.As(err, &ee) || !errors.Is(err, tt.want) || ee.Path != tt.path || ee.Role != tt.role {
			t.Errorf("Resolve(%s) = %v, want %v at %q (%v)", tt.argv, err, tt.want, tt.path, tt.role)
		}
	}
	_, err := Resolve(fsys, []string{"/app/data"}, nil)
	var ee *ExecError
	if errors.As(err, &ee) && ee.Mode.Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644", ee.Mode)
	}
}

func TestShebangArgument(t *testing.T) {
	fsys := root(t, map[string]string{"/app/run": "#! /bin/sh  -e -x \t\necho\n"}, nil)
	ex, err := Resolve(fsys, []string{"/app/run", "1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ex.Program().Argv, []string{"/bin/sh", "-e -x", "/app/run", "1"}; !slices.Equal(got, want) {
		t.Errorf("sh's argv = %q, want %q (one argument, the rest of the line)", got, want)
	}
}

func TestParseShebang(t *testing.T) {
	long := "#!/" + strings.Repeat("x", 300)
	for _, tt := range []struct {
		head        string
		interp, arg string
		wantErr     bool
		description string
	}{
		{"#!/bin/sh\n", "/bin/sh", "", false, "plain"},
		{"#!/bin/sh", "/bin/sh", "", false, "no newline, short file"},
		{"#!\t/usr/bin/env  python3 -u  \n", "/usr/bin/env", "python3 -u", false, "one argument"},
		{"#!/bin/sh\x00-e\n", "/bin/sh", "", false, "NUL ends the name, no argument"},
		{"#!/bin/sh -e\x00x\n", "/bin/sh", "-e", false, "NUL ends the argument"},
		{"#!/bin/sh\r\n", "/bin/sh\r", "", false, "CRLF"},
		{"#!   \n", "", "", true, "empty"},
		{long, "", "", true, "name longer than the buffer"},
		{"#!/bin/sh " + strings.Repeat("a", 300), "/bin/sh", strings.Repeat("a", 256-1-len("#!/bin/sh ")), false, "argument cut at the buffer"},
		{"\x7fELF", "", "", true, "not a script"},
	} {
		sb, err := ParseShebang([]byte(tt.head))
		if tt.wantErr {
			if err == nil || !errors.Is(err, ErrFormat) {
				t.Errorf("%s: ParseShebang = %+v, %v; want ErrFormat", tt.description, sb, err)
			}
			continue
		}
		if err != nil || sb.Interpreter != tt.interp || sb.Arg != tt.arg {
			t.Errorf("%s: ParseShebang = %+v, %v; want %q %q", tt.description, sb, err, tt.interp, tt.arg)
		}
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

// TestEnvLoop: #!/usr/bin/env with no argument makes env run the script,
// which runs env again.
func TestEnvLoop(t *testing.T) {
	fsys := root(t, map[string]string{"/usr/bin/loop": "#!/usr/bin/env\n"}, nil)
	_, err := Resolve(fsys, []string{"loop"}, nil)
	if !errors.Is(err, ErrLoop) {
		t.Errorf("Resolve = %v, want ErrLoop", err)
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
		name := fmt.Sprintf("s%d", i)
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

// beELF is the header of an ELF executable of class, byte order data and
// machine, without program headers.
func beELF(class elf.Class, data elf.Data, machine elf.Machine) []byte {
	var bo binary.ByteOrder = binary.LittleEndian
	if data == elf.ELFDATA2MSB {
		bo = binary.BigEndian
	}
	b := make([]byte, 64)
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS], b[elf.EI_DATA], b[elf.EI_VERSION] = byte(class), byte(data), byte(elf.EV_CURRENT)
	bo.PutUint16(b[16:], uint16(elf.ET_EXEC))
	bo.PutUint16(b[18:], uint16(machine))
	bo.PutUint32(b[20:], uint32(elf.EV_CURRENT))
	if class == elf.ELFCLASS64 {
		bo.PutUint16(b[52:], 64) // e_ehsize
		bo.PutUint16(b[54:], 56) // e_phentsize
	} else {
		b = b[:52]
		bo.PutUint16(b[40:], 52)
		bo.PutUint16(b[42:], 32)
	}
	return b
}

func TestPlatform(t *testing.T) {
	files := map[string]string{
		"/bin/arm64be": string(beELF(elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_AARCH64)),
		"/bin/arm64":   string(beELF(elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_AARCH64)),
		"/bin/s390":    string(beELF(elf.ELFCLASS32, elf.ELFDATA2MSB, elf.EM_S390)),
		"/bin/s390x":   string(beELF(elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_S390)),
		"/bin/x32":     string(beELF(elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_X86_64)),
		"/bin/i386":    string(beELF(elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_386)),
		"/bin/dyn":     string(elfcraft.Needed("/lib/ld-linux-aarch64.so.1", "libc.so.6").Bytes()),
		"/bin/static":  string(elfcraft.Spec{Type: elf.ET_EXEC}.Bytes()),
	}
	fsys := root(t, files, nil)
	for _, tt := range []struct {
		prog, arch string
		ok         bool
	}{
		{"/bin/arm64be", "", false},
		{"/bin/arm64", "arm64", true},
		{"/bin/s390", "", false},
		{"/bin/s390x", "s390x", true},
		{"/bin/x32", "", false},
		{"/bin/i386", "386", true},
		{"/usr/bin/env", hostArch(t), true},
	} {
		ex, err := Resolve(fsys, []string{tt.prog}, nil)
		if err != nil {
			t.Errorf("Resolve(%s) = %v", tt.prog, err)
			continue
		}
		arch, _, ok := Platform(ex.Program().ELF)
		if arch != tt.arch || ok != tt.ok {
			t.Errorf("Platform(%s) = %q %v, want %q %v (%s)", tt.prog, arch, ok, tt.arch, tt.ok, Machine(ex.Program().ELF))
		}
	}
	ex, err := Resolve(fsys, []string{"/bin/dyn"}, nil)
	if err != nil || Static(ex.Program().ELF) || !errors.Is(CheckStatic(ex.Program().ELF), ErrNotStatic) {
		t.Errorf("/bin/dyn: %v, static %v", err, ex.Program() != nil && Static(ex.Program().ELF))
	}
	ex, err = Resolve(fsys, []string{"/bin/static"}, nil)
	if err != nil || CheckStatic(ex.Program().ELF) != nil {
		t.Errorf("/bin/static: %v", err)
	}
	for _, tt := range []struct {
		eflags  uint32
		variant string
	}{{0x5000400, "v7"}, {0x5000200, "v5"}, {0, "v5"}} {
		arch, variant, ok := Platform(&elfinfo.Info{Class: elf.ELFCLASS32, Data: elf.ELFDATA2LSB, Machine: elf.EM_ARM, EFlags: tt.eflags})
		if arch != "arm" || variant != tt.variant || !ok {
			t.Errorf("ARM e_flags %#x = %s/%s %v, want arm/%s", tt.eflags, arch, variant, ok, tt.variant)
		}
	}
}

func hostArch(t *testing.T) string {
	b, err := os.ReadFile("/usr/bin/env")
	if err != nil {
		t.Fatal(err)
	}
	info, err := elfinfo.Read(strings.NewReader(string(b)), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	arch, _, _ := Platform(info)
	return arch
}

func TestBadELF(t *testing.T) {
	fsys := root(t, map[string]string{
		"/bin/obj":    string(elfcraft.Spec{Type: elf.ET_REL}.Bytes()),
		"/bin/interp": string(elfcraft.Spec{Type: elf.ET_EXEC, Interp: []byte{}}.Bytes()),
	}, nil)
	for _, p := range []string{"/bin/obj", "/bin/interp"} {
		if _, err := Resolve(fsys, []string{p}, nil); !errors.Is(err, ErrFormat) {
			t.Errorf("Resolve(%s) = %v, want ErrFormat", p, err)
		}
	}
}

func TestPlatformTable(t *testing.T) {
	const hard, soft = 0x05000400, 0x05000200
	tests := []struct {
		class   elf.Class
		data    elf.Data
		machine elf.Machine
		flags   uint32
		arch    string
		variant string
		ok      bool
	}{
		{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_X86_64, 0, "amd64", "", true},
		{elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_X86_64, 0, "", "", false}, // x32
		{elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_386, 0, "386", "", true},
		{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_AARCH64, 0, "arm64", "", true},
		{elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_AARCH64, 0, "", "", false},
		{elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_ARM, hard, "arm", "v7", true},
		{elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_ARM, soft, "arm", "v5", true},
		{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_PPC64, 2, "ppc64le", "", true},
		{elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_PPC64, 1, "ppc64", "", true},
		{elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_S390, 0, "s390x", "", true},
		{elf.ELFCLASS32, elf.ELFDATA2MSB, elf.EM_S390, 0, "", "", false},
		{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_RISCV, 5, "riscv64", "", true},
		{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_MIPS, 0, "mips64le", "", true},
		{elf.ELFCLASS32, elf.ELFDATA2MSB, elf.EM_MIPS, 0, "mips", "", true},
		{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_LOONGARCH, 0, "loong64", "", true},
		{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_SPARCV9, 0, "", "", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v/%v/%v", tt.machine, tt.class, tt.data), func(t *testing.T) {
			arch, variant, ok := Platform(&elfinfo.Info{Class: tt.class, Data: tt.data, Machine: tt.machine, EFlags: tt.flags})
			if arch != tt.arch || variant != tt.variant || ok != tt.ok {
				t.Errorf("Platform() = %q, %q, %v; want %q, %q, %v", arch, variant, ok, tt.arch, tt.variant, tt.ok)
			}
		})
	}
}
