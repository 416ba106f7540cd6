package tracer

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fakeELF writes an ELF64 executable header for machine with one
// PT_INTERP program header naming interp, the bytes the kernel and
// debug/elf read.
func fakeELF(t *testing.T, path string, machine uint16, interp string) {
	t.Helper()
	b := make([]byte, 64+56)
	copy(b, "\x7fELF\x02\x01\x01")
	le := binary.LittleEndian
	le.PutUint16(b[16:], 2) // ET_EXEC
	le.PutUint16(b[18:], machine)
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[32:], 64) // e_phoff
	le.PutUint16(b[52:], 64) // e_ehsize
	le.PutUint16(b[54:], 56) // e_phentsize
	le.PutUint16(b[56:], 1)  // e_phnum
	ph := b[64:]
	le.PutUint32(ph[0:], 3)                      // PT_INTERP
	le.PutUint64(ph[8:], 120)                    // p_offset
	le.PutUint64(ph[32:], uint64(len(interp)+1)) // p_filesz
	le.PutUint64(ph[40:], uint64(len(interp)+1)) // p_memsz
	b = append(b, interp+"\x00"...)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestForeignExec: the reasons given for a failed exec of an ELF program
// of another machine, as the kernel fails it.
func TestForeignExec(t *testing.T) {
	root := t.TempDir()
	const aarch64, ia64 = 183, 50
	fakeELF(t, filepath.Join(root, "bin/arm"), aarch64, "/lib/ld-linux-aarch64.so.1")
	fakeELF(t, filepath.Join(root, "bin/arm-noloader"), aarch64, "/lib/ld-missing.so.1")
	fakeELF(t, filepath.Join(root, "bin/ia64"), ia64, "/lib/ld-linux-aarch64.so.1")
	if err := os.Mkdir(filepath.Join(root, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "lib/ld-linux-aarch64.so.1"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/script"), []byte("echo hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		root, path string
		err        error
		want       string // "" for no reason of foreignExec's
	}{
		// No binfmt_misc handler: ENOEXEC, in a root or not.
		{root, "/bin/ia64", syscall.ENOEXEC, "/bin/ia64: exec format error: a program for ia_64, which this kernel runs only through a binfmt_misc handler"},
		{"", root + "/bin/arm", syscall.ENOEXEC, root + "/bin/arm: exec format error: a program for aarch64"},
		// A handler without the F flag: its interpreter is not in the root.
		{root, "/bin/arm", syscall.ENOENT, "/bin/arm: a program for aarch64, run by a binfmt_misc handler whose interpreter is not in the root"},
		// The program's own loader is missing: the usual reason.
		{root, "/bin/arm-noloader", syscall.ENOENT, ""},
		// Not in a root: the host's interpreter was looked up.
		{"", root + "/bin/arm", syscall.ENOENT, ""},
		// Not an ELF file: run as a script by the caller.
		{root, "/bin/script", syscall.ENOEXEC, ""},
		{root, "/bin/arm", syscall.EACCES, ""},
	} {
		err := foreignExec(tc.root, tc.path, tc.err)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("foreignExec(%q, %q, %v) = %v, want nil", tc.root, tc.path, tc.err, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("foreignExec(%q, %q, %v) = %v, want it to hold %q", tc.root, tc.path, tc.err, err, tc.want)
		}
	}
}
