//go:build linux && (amd64 || arm64)

package tracer

import (
	"bufio"
	"bytes"
	"context"
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

static char cwd[4096], full[4096];
static const char *prefix = "";

/* P is name under the prefix (argv[1]): "" for paths relative to the
   working directory, else an absolute directory ending in '/'. */
static const char *P(const char *name) {
	if (name[0] == '/')
		return name;
	snprintf(full, sizeof full, "%s%s", prefix, name);
	return full;
}

static void say(const char *op, const char *path, int rc) {
	int found = rc >= 0 || (errno != ENOENT && errno != ENOTDIR);
	if (path[0] == '/' || prefix[0] == '/')
		printf("%s %s%s %d\n", op, path[0] == '/' ? "" : prefix, path, found);
	else
		printf("%s %s/%s %d\n", op, cwd, path, found);
}

int main(int argc, char **argv) {
	struct stat st;
	char buf[64];
	if (argc > 1)
		prefix = argv[1];
	getcwd(cwd, sizeof cwd);
	say("stat", "dangling1", stat(P("dangling1"), &st));
	say("stat", "dangling2", lstat(P("dangling2"), &st));
	say("stat", "dangling3", fstatat(AT_FDCWD, P("dangling3"), &st, AT_SYMLINK_NOFOLLOW));
	say("stat", "file1/x", stat(P("file1/x"), &st));
	say("stat", "missing1", stat(P("missing1"), &st));
	say("open", "file2/", open(P("file2/"), O_RDONLY));
	say("open", "file3", open(P("file3"), O_RDONLY | O_DIRECTORY));
	say("open", "link4", open(P("link4"), O_RDONLY | O_NOFOLLOW));
	say("open", "dangling5", open(P("dangling5"), O_RDONLY));
	say("open", "dir6", open(P("dir6"), O_RDONLY | O_DIRECTORY));
	int d = open(P("dir7"), O_RDONLY | O_DIRECTORY);
	say("open", "dir7/in", openat(d, "in", O_RDONLY));
	say("open", "dir7/no", openat(d, "no", O_RDONLY));
	say("readlink", "file8", readlink(P("file8"), buf, sizeof buf));
	say("readlink", "missing9", readlink(P("missing9"), buf, sizeof buf));
	say("access", "dangling10", access(P("dangling10"), F_OK));
	say("access", "dangling11", syscall(SYS_faccessat2, AT_FDCWD, P("dangling11"), F_OK, AT_SYMLINK_NOFOLLOW));
	say("access", "/no/such/dir/x", access(P("/no/such/dir/x"), F_OK));
	char *xargv[] = {"x", NULL};
	say("exec", "missing12", execve(P("missing12"), xargv, xargv + 1));
	say("exec", "file13", execve(P("file13"), xargv, xargv + 1)); /* not executable: EACCES, found */
	say("stat", "abslink14", stat(P("abslink14"), &st)); /* -> /work/file1: found only inside the root */
	say("open", "abslink15/in", open(P("abslink15/in"), O_RDONLY)); /* -> /work/dir7 */
	return 0;
}
`

// TestFoundAsTheCallSays: for each call whose result the tracer decides
// at its entry, found or not is what the call itself returned: with paths
// relative to the working directory, absolute, and absolute in a chroot
// (where absolute symbolic links must stay inside the root).
func TestFoundAsTheCallSays(t *testing.T) {
	gcc := requireTool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "found.c")
	if err := os.WriteFile(src, []byte(foundC), 0o644); err != nil {
		t.Fatal(err)
	}
	// Static, to run in a root that holds nothing else.
	prog := filepath.Join(dir, "found")
	if out, err := exec.Command(gcc, "-static", "-o", prog, src).CombinedOutput(); err != nil {
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
	links := map[string]string{"link4": "file4", "abslink14": "/work/file1", "abslink15": "/work/dir7"}
	for _, n := range []string{"dangling1", "dangling2", "dangling3", "dangling5", "dangling10", "dangling11"} {
		links[n] = "nowhere"
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(work, name)); err != nil {
			t.Fatal(err)
		}
	}
	mechanisms(t, func(t *testing.T, m Mechanism) {
		testFound(t, m, dir, work, prog)
	})
}

func testFound(t *testing.T, m Mechanism, dir, work, prog string) {
	t.Run("relative", func(t *testing.T) {
		res, out := traceRun(t, m, work, "", prog)
		checkFound(t, res, out, "")
	})
	t.Run("absolute", func(t *testing.T) {
		res, out := traceRun(t, m, "/", "", prog, work+"/")
		checkFound(t, res, out, "")
	})
	t.Run("root", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("chroot needs root")
		}
		if err := os.Rename(prog, filepath.Join(dir, "prog")); err != nil {
			t.Fatal(err)
		}
		defer os.Rename(filepath.Join(dir, "prog"), prog)
		var stdout bytes.Buffer
		res, err := Run(context.Background(), Options{Mechanism: m, Argv: []string{"/prog", "/work/"}, Root: dir, Dir: "/work", Stdout: &stdout, Stderr: os.Stderr})
		if err != nil {
			t.Fatal(err)
		}
		checkFound(t, res, stdout.String(), "found stat /work/abslink14")
	})
}

// checkFound compares the tracer's record of each call foundC reports with
// the call's own result; want is a line that must be among them.
func checkFound(t *testing.T, res *Result, out, want string) {
	t.Helper()
	if res.ExitCode != 0 {
		t.Fatalf("exit %d", res.ExitCode)
	}
	got := map[string]bool{} // op path -> found
	for _, a := range res.Accesses {
		got[string(a.Op)+" "+a.Path] = a.Found
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	seen := map[string]bool{}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			t.Fatalf("bad line %q", sc.Text())
		}
		n++
		key := f[0] + " " + filepath.Clean(f[1])
		found, ok := got[key]
		switch {
		case !ok:
			t.Errorf("%s: not recorded", key)
		case found != (f[2] == "1"):
			t.Errorf("%s: found %v; the call says %s", key, found, f[2])
		}
		if f[2] == "1" {
			seen["found "+key] = true
		}
	}
	if n != 21 {
		t.Errorf("%d calls reported, want 21:\n%s", n, out)
	}
	if want != "" && !seen[want] {
		t.Errorf("%q not among the calls' results:\n%s", want, out)
	}
}
