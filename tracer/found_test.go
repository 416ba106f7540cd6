//go:build linux && (amd64 || arm64)

package tracer

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// foundC makes the calls whose "found" the tracer decides at the call's
// entry, by looking the path up itself (probe), and prints for each the
// path and whether the call's own result says found (success, or an error
// other than ENOENT and ENOTDIR): the program is its own oracle. Every
// path is used by one call only, so that no other call's result merges
// into its record.
const foundC = `#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static char cwd[4096];

static void say(const char *op, const char *path, int rc) {
	int found = rc >= 0 || (errno != ENOENT && errno != ENOTDIR);
	if (path[0] == '/')
		printf("%s %s %d\n", op, path, found);
	else
		printf("%s %s/%s %d\n", op, cwd, path, found);
}

int main(void) {
	struct stat st;
	char buf[64];
	getcwd(cwd, sizeof cwd);
	say("stat", "dangling1", stat("dangling1", &st));
	say("stat", "dangling2", lstat("dangling2", &st));
	say("stat", "dangling3", fstatat(AT_FDCWD, "dangling3", &st, AT_SYMLINK_NOFOLLOW));
	say("stat", "file1/x", stat("file1/x", &st));
	say("stat", "missing1", stat("missing1", &st));
	say("open", "file2/", open("file2/", O_RDONLY));
	say("open", "file3", open("file3", O_RDONLY | O_DIRECTORY));
	say("open", "link4", open("link4", O_RDONLY | O_NOFOLLOW));
	say("open", "dangling5", open("dangling5", O_RDONLY));
	say("open", "dir6", open("dir6", O_RDONLY | O_DIRECTORY));
	int d = open("dir7", O_RDONLY | O_DIRECTORY);
	say("open", "dir7/in", openat(d, "in", O_RDONLY));
	say("open", "dir7/no", openat(d, "no", O_RDONLY));
	say("readlink", "file8", readlink("file8", buf, sizeof buf));
	say("readlink", "missing9", readlink("missing9", buf, sizeof buf));
	say("access", "dangling10", access("dangling10", F_OK));
	say("access", "dangling11", syscall(SYS_faccessat2, AT_FDCWD, "dangling11", F_OK, AT_SYMLINK_NOFOLLOW));
	say("access", "/no/such/dir/x", access("/no/such/dir/x", F_OK));
	char *argv[] = {"x", NULL};
	say("exec", "missing12", execve("missing12", argv, argv + 1));
	say("exec", "file13", execve("file13", argv, argv + 1)); /* not executable: EACCES, found */
	return 0;
}
`

// TestFoundAsTheCallSays: for each call whose result the tracer decides
// at its entry, found or not is what the call itself returned.
func TestFoundAsTheCallSays(t *testing.T) {
	gcc := requireTool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "found.c")
	if err := os.WriteFile(src, []byte(foundC), 0o644); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "found")
	if out, err := exec.Command(gcc, "-o", prog, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	work := filepath.Join(dir, "work")
	for _, d := range []string{"dir6", "dir7"} {
		if err := os.MkdirAll(filepath.Join(work, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"file1", "file2", "file3", "file4", "file8", "file13", "dir7/in"} {
		if err := os.WriteFile(filepath.Join(work, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{"link4": "file4"}
	for _, n := range []string{"dangling1", "dangling2", "dangling3", "dangling5", "dangling10", "dangling11"} {
		links[n] = "nowhere"
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(work, name)); err != nil {
			t.Fatal(err)
		}
	}

	res, out := traceRun(t, work, "", prog)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d", res.ExitCode)
	}
	got := map[string]bool{} // op path -> found
	for _, a := range res.Accesses {
		got[string(a.Op)+" "+a.Path] = a.Found
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			t.Fatalf("bad line %q", sc.Text())
		}
		n++
		key := f[0] + " " + filepath.Clean(f[1])
		found, seen := got[key]
		switch {
		case !seen:
			t.Errorf("%s: not recorded", key)
		case found != (f[2] == "1"):
			t.Errorf("%s: found %v; the call says %s", key, found, f[2])
		}
	}
	if n != 19 {
		t.Errorf("%d calls reported, want 19:\n%s", n, out)
	}
}
