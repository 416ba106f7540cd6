package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fromscratch/fromscratch/internal/elfcraft"
)

// TestBuildBadInput: each bad input gives its exit code, one stderr line
// naming the file and the reason, and nothing at (or next to) the target.
func TestBuildBadInput(t *testing.T) {
	bin := fromscratchBin(t)
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("hello\n"), 0o755)
	noexec := filepath.Join(dir, "noexec")
	b, err := os.ReadFile("/bin/true")
	if err != nil {
		skipOrFail(t, "%v", err)
	}
	os.WriteFile(noexec, b, 0o644)
	// gcc -shared -o libgone.so gone.c; gcc -o needsgone prog.c -L. -lgone; rm libgone.so
	gcc(t, "gcc", dir, "gone.c", "int gone(void){return 1;}\n", "-shared", "-fPIC", "-o", "libgone.so")
	gcc(t, "gcc", dir, "prog.c", "int gone(void); int main(void){return gone();}\n", "-o", "needsgone", "-L.", "-lgone")
	os.Remove(filepath.Join(dir, "libgone.so"))
	// Crafted programs: an ELF header cut short, program headers out of
	// range, and a PT_INTERP the kernel refuses (it is empty).
	prog := elfcraft.Needed("/lib64/ld-linux-x86-64.so.2", "libc.so.6").Bytes()
	cut := filepath.Join(dir, "cut")
	os.WriteFile(cut, prog[:40], 0o755)
	badPh := filepath.Join(dir, "badph")
	bad := slices.Clone(prog)
	binary.LittleEndian.PutUint64(bad[0x20:], 1<<40) // e_phoff
	os.WriteFile(badPh, bad, 0o755)
	emptyInterp := filepath.Join(dir, "emptyinterp")
	s := elfcraft.Needed("", "libc.so.6")
	s.Type, s.Interp = elf.ET_EXEC, []byte{}
	os.WriteFile(emptyInterp, s.Bytes(), 0o755)
	out := t.TempDir()
	target := filepath.Join(out, "img.tar")
	// A root with /bin/true and its libraries, no CA bundle, no zoneinfo.
	root := filepath.Join(dir, "root")
	for _, p := range append(hostClosure(t, "/bin/true"), "/bin/true") {
		copyHostPath(t, root, p)
	}

	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // substring of the one line
	}{
		{"missing program", []string{"-o", target, filepath.Join(dir, "nope")}, 2, "no such file"},
		{"bare name in no PATH dir", []string{"-o", target, "fromscratch-no-such-program"}, 2, "no such file, nor in PATH /usr/local/sbin:"},
		{"not executable", []string{"-o", target, noexec}, 2, "not executable"},
		{"not ELF nor script", []string{"-o", target, text}, 2, "not an ELF program nor a #! script"},
		{"directory", []string{"-o", target, dir}, 2, "not a regular file"},
		{"ELF header cut short", []string{"-o", target, cut}, 2, cut + ": malformed ELF: file too short for the ELF header"},
		{"ELF header cut short, --platform", []string{"-o", target, "--platform", "linux/amd64", cut}, 2, "malformed ELF: file too short"},
		{"program headers out of range", []string{"-o", target, badPh}, 2, badPh + ": malformed ELF: program headers (3 of 56 bytes) out of range"},
		{"empty PT_INTERP", []string{"-o", target, emptyInterp}, 2, emptyInterp + ": malformed ELF: PT_INTERP of 0 bytes is empty"},
		{"no output", []string{"/bin/true"}, 2, "no output"},
		{"wrong platform", []string{"-o", target, "--platform", "linux/arm64", "/bin/true"}, 2, "not linux/arm64"},
		{"missing library", []string{"-o", target, filepath.Join(dir, "needsgone")}, 1, "libgone.so"},
		{"unwritable output", []string{"-o", filepath.Join(dir, "no/such/dir/img.tar"), "/bin/true"}, 2, "no/such/dir/img.tar: directory " + filepath.Join(dir, "no/such/dir") + ": no such file"},
		{"unwritable output, layout", []string{"-o", filepath.Join(dir, "no/such/dir/img.tar"), "--oci-layout", filepath.Join(out, "lay"), "/bin/true"}, 2, "no/such/dir/img.tar: directory " + filepath.Join(dir, "no/such/dir") + ": no such file"},
		{"--ca-certs, root without", []string{"-o", target, "--root", root, "--ca-certs", "/bin/true"}, 2, "--ca-certs: /etc/ssl/certs/ca-certificates.crt in the root " + root + ": no such file"},
		{"--tzdata, root without", []string{"-o", target, "--root", root, "--tzdata", "/bin/true"}, 2, "--tzdata: /usr/share/zoneinfo in the root " + root + ": no such file"},
		{"bad --add", []string{"-o", target, "--add", "nocolon", "/bin/true"}, 2, "--add"},
		// The image is checked as doctor would before it is written.
		{"entrypoint not in the image", []string{"-o", target, "--entrypoint", "/nope", "/bin/true"}, 1, "exec /nope: no such file"},
		{"unknown user", []string{"-o", target, "--user", "nobody", "/bin/true"}, 1, "unable to find user nobody"},
		{"unknown group", []string{"-o", target, "--user", "nonroot:staff", "/bin/true"}, 1, "unable to find group staff"},
		{"workdir a file", []string{"-o", target, "--workdir", "/etc/passwd", "/bin/true"}, 1, "is not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := runErr("", bin, append([]string{"build"}, tt.args...)...)
			code := 0
			if err != nil {
				code = exitStatus(err)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != tt.code || len(lines) != 1 || !strings.HasPrefix(lines[0], "fromscratch: ") || !strings.Contains(lines[0], tt.stderr) {
				t.Errorf("fromscratch build %v: exit %d, stderr %q (stdout %q); want exit %d and one line with %q",
					tt.args, code, stderr, stdout, tt.code, tt.stderr)
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
				t.Errorf("panic: %s", stderr)
			}
			ents, _ := os.ReadDir(out)
			if len(ents) != 0 {
				t.Errorf("left behind in the output directory: %v", ents)
			}
		})
	}

	t.Run("no check", func(t *testing.T) {
		stdout, stderr, err := runErr("", bin, "build", "-o", target, "--no-check", "--entrypoint", "/nope", "/bin/true")
		if err != nil || !strings.HasPrefix(stdout, "sha256:") || !strings.Contains(stderr, "warning: exec /nope: no such file") {
			t.Errorf("build --no-check = %v, stdout %q, stderr %q", err, stdout, stderr)
		}
		os.Remove(target)
	})

	t.Run("allow missing", func(t *testing.T) {
		stdout, stderr, err := runErr("", bin, "build", "-o", target, "--allow-missing", filepath.Join(dir, "needsgone"))
		if err != nil || !strings.HasPrefix(stdout, "sha256:") || !strings.Contains(stderr, "warning: libgone.so (needed by "+filepath.Join(dir, "needsgone")+") not found (--allow-missing)\n") {
			t.Errorf("build --allow-missing = %v, stdout %q, stderr %q", err, stdout, stderr)
		}
		if _, err := os.Stat(target); err != nil {
			t.Errorf("no image written: %v", err)
		}
	})
}

// TestBuildInterrupted: a build interrupted while it writes its archive
// leaves nothing in the output directory, neither the target nor the
// temporary file, and says why in one line.
func TestBuildInterrupted(t *testing.T) {
	bin := fromscratchBin(t)
	out := t.TempDir()
	target := filepath.Join(out, "img.tar")
	// Enough bytes that the archive is still being written when the signal
	// comes: a 2 GB file (sparse here, written out in the archive).
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 2<<30); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "build", "-o", target, "--add", big+":/big", "/bin/true")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		ents, _ := os.ReadDir(out)
		if len(ents) > 0 {
			break // the temporary archive exists: writing has begun
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no temporary archive after a minute")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if err == nil {
		t.Skipf("the build finished before the interrupt (%s)", strings.TrimSpace(stderr.String()))
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if code := exitStatus(err); code != 2 || len(lines) != 1 || !strings.Contains(lines[0], "canceled") {
		t.Errorf("interrupted build: exit %d, stderr %q: want exit 2 and one line saying it was canceled", code, stderr.String())
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("left behind after an interrupt: %v", ents)
	}
}
