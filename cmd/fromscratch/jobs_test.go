package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fromscratch/fromscratch/internal/countio"
	"github.com/fromscratch/fromscratch/internal/tartest"
	"github.com/fromscratch/fromscratch/program"
)

// realJob is a real job of a Debian program that needs files no ELF
// header names: modules it dlopens, data and configuration files it
// reads, helper programs it runs.
type realJob struct {
	name string
	// argv[0] is the program, an absolute path of the host.
	argv  []string
	stdin string
	// env is set in the image (--env) and for the host's run.
	env []string
	// stderr: the job's standard error is compared too.
	stderr bool
	// clean are host paths the job creates, removed before each host run.
	clean []string
	// needs is the tool whose absence skips the job outside CI; needsFile
	// a file.
	needs, needsFile string
	// flags are build's further flags, for both images (--user 0).
	flags []string
	// exit is the job's exit status on the host (hunspell -D ends with 1
	// when no dictionary is named).
	exit int
	// wantOut, when set, is what the job's standard output must hold, for
	// a job the host cannot run as the image does (initdb refuses root,
	// and the host has no user 65532): the host is not asked.
	wantOut string
}

// ed25519Key is a fixed key: an Ed25519 signature is deterministic, so a
// certificate request made with it is the same on every run.
const ed25519Key = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIL7a3sM4cvqAYLBxTaCaZuhIX574FT+RnY8ZZ3FZUQEL
-----END PRIVATE KEY-----
`

// gzipEmpty is the gzip of nothing, for file(1) to name.
const gzipEmpty = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00"

// catalogDoc is an XML catalog whose DTD, named by public identifier and
// URL, xmllint finds through /etc/xml/catalog (xml-core's) with --nonet.
const catalogDoc = `<?xml version="1.0"?>
<!DOCTYPE catalog PUBLIC "-//OASIS//DTD XML Catalogs V1.0//EN" "http://www.oasis-open.org/committees/entity/release/1.0/catalog.dtd">
<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog"><public publicId="-//X//EN" uri="x.dtd"/></catalog>
`

func realJobs() []realJob {
	isrg, _ := os.ReadFile("/etc/ssl/certs/ISRG_Root_X1.pem")
	return []realJob{
		// character set conversion: glibc's gconv modules are dlopen'd
		{name: "iconv-latin1", argv: []string{"/usr/bin/iconv", "-f", "UTF-8", "-t", "ISO-8859-1"}, stdin: "héllo wörld\n"},
		{name: "iconv-utf16", argv: []string{"/usr/bin/iconv", "-f", "UTF-8", "-t", "UTF-16LE"}, stdin: "ça va\n"},
		// interpreters: the standard library, extension modules
		{name: "python-json", argv: []string{"/usr/bin/python3", "-c", `import json, decimal; print(json.dumps({"a": str(decimal.Decimal("1.1") * 3)}))`}},
		{name: "python-ext", argv: []string{"/usr/bin/python3", "-c", `import sqlite3, zlib, hashlib; c = sqlite3.connect(":memory:"); print(c.execute("select 6*7").fetchone()[0], zlib.crc32(b"a"), hashlib.sha256(b"a").hexdigest()[:8])`}},
		{name: "perl-xs", argv: []string{"/usr/bin/perl", "-MDigest::MD5=md5_hex", "-MPOSIX=floor", "-e", `print md5_hex("a"), " ", floor(2.5), "\n"`}},
		{name: "tclsh", argv: []string{"/usr/bin/tclsh"}, stdin: "puts [string toupper hello]\nputs [clock format 0 -gmt 1]\n", needs: "tclsh"},
		// plugin and coder modules
		{name: "imagemagick", argv: []string{"/usr/bin/convert", "-size", "2x1", "xc:red", "-depth", "8", "txt:-"}, needs: "/usr/bin/convert"},
		// data files read at start
		{name: "file-magic", argv: []string{"/usr/bin/file", "-b", "-"}, stdin: gzipEmpty},
		{name: "units", argv: []string{"/usr/bin/units", "-t", "1 mile", "km"}, needs: "units"},
		// configuration files
		{name: "openssl-req", argv: []string{"/usr/bin/openssl", "req", "-new", "-key", "/dev/stdin", "-subj", "/CN=fromscratch"}, stdin: ed25519Key},
		// TLS: the CA store, through hashed links
		{name: "openssl-verify", argv: []string{"/usr/bin/openssl", "verify"}, stdin: string(isrg)},
		// time zones
		{name: "date-tz", argv: []string{"/usr/bin/date", "-d", "@0", "+%H:%M%z %Z"}, env: []string{"TZ=Europe/Paris"}},
		// programs that run helper programs
		{name: "gcc-compile", argv: []string{"/usr/bin/gcc", "-x", "c", "-S", "-O2", "-o", "-", "-"}, stdin: "#include <stdio.h>\nint f(int x) { return x * 2 + (int)sizeof(FILE); }\n"},
		{name: "tar-gzip", argv: []string{"/usr/bin/tar", "-cz", "-f", "-", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "--mode=0644", "-C", "/usr/share/common-licenses", "GPL-3"}},
		{name: "git-templates", argv: []string{"/bin/sh", "-c", "git init -q /tmp/fromscratch-job-r && ls /tmp/fromscratch-job-r/.git/hooks | wc -l"},
			clean: []string{"/tmp/fromscratch-job-r"}, stderr: true},
		{name: "git-clone", argv: []string{"/bin/sh", "-c", "git init -q /tmp/fromscratch-job-a && git -C /tmp/fromscratch-job-a -c user.email=a@b -c user.name=a commit -q --allow-empty -m hello && git clone -q /tmp/fromscratch-job-a /tmp/fromscratch-job-b && git -C /tmp/fromscratch-job-b log --format=%s"},
			clean: []string{"/tmp/fromscratch-job-a", "/tmp/fromscratch-job-b"}, stderr: true},
		// a server's setup: initdb reads its share files and runs postgres
		// (as the image's user: initdb refuses root)
		{name: "initdb", argv: []string{"/usr/lib/postgresql/15/bin/initdb", "-D", "/tmp/fromscratch-job-pgdata"}, wantOut: "Success. You can now start the database server"},
		// a server's configuration, checked as root: it includes module
		// and site files and looks up its user, www-data (the image's
		// /etc/passwd gets the root's system accounts)
		{name: "nginx-t", argv: []string{"/usr/sbin/nginx", "-t"}, flags: []string{"--user", "0"}, stderr: true, needs: "nginx"},
		// the JVM: java dlopens lib/server/libjvm.so, which libjava.so
		// needs by a name no search finds; the module image lib/modules
		{name: "java-modules", argv: []string{"/usr/bin/java", "--list-modules"}, needs: "java"},
		// translated messages (gettext's .mo files) and a UTF-8 locale
		{name: "gettext-de", argv: []string{"/usr/bin/ls", "--help"}, env: []string{"LANG=C.UTF-8", "LANGUAGE=de"},
			needsFile: "/usr/share/locale/de/LC_MESSAGES/coreutils.mo"},
		{name: "sed-utf8", argv: []string{"/usr/bin/sed", "s/./X/g"}, stdin: "héllo wörld straße\n", env: []string{"LANG=C.UTF-8"}},
		// helpers (troff, grotty) and their data (macros, font tables)
		{name: "groff-man", argv: []string{"/usr/bin/groff", "-Tutf8", "-man"}, stdin: ".TH T 1\n.SH NAME\nt \\- a test \\(em page\n.SH DESCRIPTION\nHello \\fBworld\\fR.\n", needs: "groff"},
		// dictionaries
		{name: "aspell", argv: []string{"/usr/bin/aspell", "-a", "--lang=en"}, stdin: "helo wrld teh quick\n", needs: "aspell"},
		// directories listed for their names: the dictionaries aspell finds
		// in /usr/lib/aspell, hunspell in /usr/share/hunspell (on stderr),
		// the locales in /usr/lib/locale
		{name: "aspell-dicts", argv: []string{"/usr/bin/aspell", "dump", "dicts"}, needs: "aspell"},
		{name: "hunspell-dicts", argv: []string{"/usr/bin/hunspell", "-D"}, stderr: true, exit: 1, needs: "hunspell", needsFile: "/usr/share/hunspell/en_US.dic"},
		{name: "locale-a", argv: []string{"/usr/bin/locale", "-a"}},
		// an extension module named on the command line
		{name: "gawk-ext", argv: []string{"/usr/bin/gawk", "-l", "ordchr", `BEGIN { print ord("A"), chr(66) }`}, needs: "gawk"},
		// PHP: php.ini, conf.d's ini files and the extensions they load
		{name: "php-ext", argv: []string{"/usr/bin/php", "-r", `echo json_encode([bin2hex(iconv("UTF-8", "ISO-8859-1", "é")), cal_days_in_month(CAL_GREGORIAN, 2, 2020), ctype_digit("12")]), PHP_EOL;`}, needs: "php"},
		{name: "ruby-json", argv: []string{"/usr/bin/ruby", "-rjson", "-rdigest", "-e", `puts JSON.generate({a: Digest::MD5.hexdigest("a")})`}, needs: "ruby"},
		// fontconfig: fonts.conf, conf.d, the font directories and caches
		{name: "fc-match", argv: []string{"/usr/bin/fc-match", "sans"}, needs: "fc-match", needsFile: "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"},
		{name: "zdump", argv: []string{"/usr/bin/zdump", "-v", "-c", "2020,2021", "America/New_York"}},
		// XML catalogs: a DTD by its public identifier, no network
		{name: "xmllint-catalog", argv: []string{"/usr/bin/xmllint", "--valid", "--nonet", "--noout", "-"}, stdin: catalogDoc, stderr: true, needs: "xmllint", needsFile: "/etc/xml/catalog"},
		// man: its configuration, preconv, tbl, nroff and groff's helpers
		{name: "man-l", argv: []string{"/usr/bin/man", "-P", "cat", "-l", "-"}, env: []string{"MANWIDTH=60"}, stdin: ".TH T 1\n.SH NAME\nt \\- a test\n.SH DESCRIPTION\nHello \\fBworld\\fR.\n", needs: "man"},
	}
}

// TestRealJobs builds each job's image with the trace route (build
// --trace) and checks that it does the job in Docker exactly as the host
// does: same standard output (and error where asked), same exit status;
// that the image is no bigger than 1.1 times its files; and that the image
// built without the trace does not do the job (the job needs what only a
// run shows), and that doctor --run says so, naming a path the host has.
func TestRealJobs(t *testing.T) {
	requireDocker(t)
	bin := fromscratchBin(t)
	for _, j := range realJobs() {
		t.Run(j.name, func(t *testing.T) {
			requireTool(t, j.argv[0])
			if j.needs != "" {
				requireTool(t, j.needs)
			}
			if j.needsFile != "" {
				requireFile(t, j.needsFile)
			}
			var want runResult
			if j.wantOut == "" {
				want = hostRun(t, j)
				if want.code != j.exit {
					t.Fatalf("on the host: exit %d\n%s", want.code, want.stderr)
				}
			}

			traceArgs, err := json.Marshal(j.argv[1:])
			if err != nil {
				t.Fatal(err)
			}
			args := append([]string{"--trace", string(traceArgs)}, j.flags...)
			for _, e := range j.env {
				args = append(args, "--env", e)
			}
			for _, p := range j.clean {
				os.RemoveAll(p)
			}
			tag, tarPath := buildJobImage(t, bin, j, append(args, j.argv[0]))
			got := containerRun(t, tag, j)
			if j.wantOut != "" {
				if got.code != 0 || !strings.Contains(got.stdout, j.wantOut) {
					t.Errorf("traced image: exit %d, stdout without %q\nstdout: %s\nstderr: %s", got.code, j.wantOut, clip(got.stdout), clip(got.stderr))
				}
				want = got
			} else {
				compareRuns(t, "traced image", j, want, got)
			}
			checkImageOverhead(t, tarPath, 1.1)

			plainArgs := slices.Clone(j.flags)
			for _, e := range j.env {
				plainArgs = append(plainArgs, "--env", e)
			}
			plainTag, plainTar := buildJobImage(t, bin, j, append(plainArgs, j.argv[0]))
			plain := containerRun(t, plainTag, j)
			if plain.code == want.code && plain.stdout == want.stdout && (!j.stderr || plain.stderr == want.stderr) {
				t.Errorf("the image built without --trace does the job too: the job tests nothing\nstdout: %q", plain.stdout)
			}

			// doctor --run on that image names a path it lacks and the host has.
			cmd := exec.Command(bin, append([]string{"doctor", "--json", "docker-archive:" + plainTar, "--run", "--"}, j.argv[1:]...)...)
			r := runCmd(t, cmd, j.stdin)
			var rep doctorRunJSON
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 1 || rep.Healthy {
				t.Fatalf("doctor --run on the image built without --trace: exit %d (%v), want 1\nstdout: %s\nstderr: %s", r.code, err, clip(r.stdout), clip(r.stderr))
			}
			named := ""
			for _, m := range rep.Missing {
				if m.InRoot != "" {
					named = m.Path
					break
				}
			}
			if named == "" {
				t.Errorf("doctor --run names no missing path the host has: %+v", rep.Missing)
			} else {
				t.Logf("doctor --run names %s (%d missing paths the host has)", named, len(rep.Missing))
			}
		})
	}
}

type runResult struct {
	stdout, stderr string
	code           int
}

// jobEnv is the environment of a job on the host: the image's.
func jobEnv(j realJob) []string {
	return append([]string{"PATH=" + program.DefaultPath, "HOME=/home/nonroot"}, j.env...)
}

func hostRun(t *testing.T, j realJob) runResult {
	t.Helper()
	for _, p := range j.clean {
		os.RemoveAll(p)
	}
	t.Cleanup(func() {
		for _, p := range j.clean {
			os.RemoveAll(p)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, j.argv[0], j.argv[1:]...)
	cmd.Env = jobEnv(j)
	cmd.Dir = "/"
	return runCmd(t, cmd, j.stdin)
}

func runCmd(t *testing.T, cmd *exec.Cmd, stdin string) runResult {
	t.Helper()
	stdout, stderr, code := runCommand(t, cmd, stdin)
	return runResult{stdout, stderr, code}
}

// buildJobImage builds with args (the job's stdin is the traced run's),
// loads the image and returns its tag and archive.
func buildJobImage(t *testing.T, bin string, j realJob, args []string) (string, string) {
	t.Helper()
	tag := uniqueTag("job-" + j.name)
	tarPath := filepath.Join(t.TempDir(), j.name+".tar")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"build", "-o", tarPath, "-t", tag}, args...)...)
	cmd.Dir = "/"
	r := runCmd(t, cmd, j.stdin)
	if r.code != 0 {
		t.Fatalf("fromscratch build %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	run(t, "", "docker", "load", "-i", tarPath)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag, tarPath
}

func containerRun(t *testing.T, tag string, j realJob) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", append([]string{"run", "--rm", "-i", "--network", "none", tag}, j.argv[1:]...)...)
	return runCmd(t, cmd, j.stdin)
}

func compareRuns(t *testing.T, what string, j realJob, want, got runResult) {
	t.Helper()
	if got.code != want.code {
		t.Errorf("%s: exit %d, the host's %d\nstderr: %s", what, got.code, want.code, got.stderr)
	}
	if got.stdout != want.stdout {
		t.Errorf("%s: stdout differs from the host's\ngot:  %q\nwant: %q\nstderr: %s", what, clip(got.stdout), clip(want.stdout), got.stderr)
	}
	if j.stderr && got.stderr != want.stderr {
		t.Errorf("%s: stderr differs from the host's\ngot:  %q\nwant: %q", what, clip(got.stderr), clip(want.stderr))
	}
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "..."
	}
	return s
}

// checkImageOverhead checks that the image's layers (uncompressed) are at
// most max times the bytes of the files they hold.
func checkImageOverhead(t *testing.T, tarPath string, max float64) {
	t.Helper()
	img := archiveImage(t, tarPath)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var files, total int64
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		cr := &countio.Reader{R: rc}
		for h := range tartest.Entries(t, cr) {
			if h.Typeflag == tar.TypeReg {
				files += h.Size
			}
		}
		io.Copy(io.Discard, cr)
		rc.Close()
		total += cr.N
	}
	if files == 0 || float64(total) > max*float64(files) {
		t.Errorf("image layers hold %d bytes for %d bytes of files: more than %.2fx", total, files, max)
	}
	t.Logf("image: %d bytes of layers, %d bytes of files (%.3fx)", total, files, float64(total)/float64(files))
}

// TestRealJobRelativeProgram: a script of one's own, built by its relative
// path from its directory (a temporary one, under /tmp, as a checkout in
// CI is), imports a module and reads a data file beside it. Built with
// the trace route (--trace, and fromscratch trace -o with --files-from),
// its image does the job in Docker as the host does, with the module and
// the data under /app beside the script, and holds no path of the
// checkout's.
func TestRealJobRelativeProgram(t *testing.T) {
	requireDocker(t)
	requireTool(t, "python3")
	bin := fromscratchBin(t)
	dir := t.TempDir()
	writeFile(t, dir, "tool.py", `#!/usr/bin/env python3
import json, os, sys, zoneinfo, datetime
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "lib"))
import helper
data = json.load(open(os.path.join(here, "data.json")))
print(helper.greet(data["name"]), datetime.datetime(2020, 1, 1, tzinfo=zoneinfo.ZoneInfo(data["tz"])).utcoffset())
`)
	if err := os.Chmod(filepath.Join(dir, "tool.py"), 0o755); err != nil {
		t.Fatal(err)
	}
	mkdir(t, filepath.Join(dir, "lib"))
	writeFile(t, dir, "lib/helper.py", "def greet(n):\n    return 'hello ' + n\n")
	writeFile(t, dir, "data.json", `{"name": "job", "tz": "Asia/Kolkata"}`)
	j := realJob{name: "relative", argv: []string{"./tool.py"}}
	host := exec.Command("./tool.py")
	host.Dir, host.Env = dir, jobEnv(j)
	want := runCmd(t, host, "")
	if want.code != 0 || want.stdout != "hello job 5:30:00\n" {
		t.Fatalf("on the host: exit %d, %q\n%s", want.code, want.stdout, want.stderr)
	}

	list := filepath.Join(t.TempDir(), "tool.list")
	tr := exec.Command(bin, "trace", "-o", list, "--", "./tool.py")
	tr.Dir, tr.Env = dir, jobEnv(j)
	if r := runCmd(t, tr, ""); r.code != 0 {
		t.Fatalf("fromscratch trace: exit %d\n%s", r.code, r.stderr)
	}
	for _, route := range [][]string{{"--trace", "[]"}, {"--files-from", list}} {
		tag := uniqueTag("job-relative")
		tarPath := filepath.Join(t.TempDir(), "relative.tar")
		cmd := exec.Command(bin, append(append([]string{"build", "-o", tarPath, "-t", tag}, route...), "./tool.py")...)
		cmd.Dir = dir
		if r := runCmd(t, cmd, ""); r.code != 0 {
			t.Fatalf("fromscratch build %s: exit %d\n%s", route[0], r.code, r.stderr)
		}
		run(t, "", "docker", "load", "-i", tarPath)
		t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
		compareRuns(t, route[0], j, want, containerRun(t, tag, j))
		// Not /tmp/TestX/001 nor /tmp/TestX (/tmp is every image's).
		for _, name := range archiveNames(t, tarPath) {
			name = "/" + strings.TrimSuffix(name, "/")
			if d := filepath.Dir(dir); name == d || strings.HasPrefix(name, d+"/") {
				t.Errorf("%s: the image holds %s, a path of the checkout's %s", route[0], name, dir)
			}
		}
	}
}

// archiveNames lists every entry of a docker-archive's layers.
func archiveNames(t *testing.T, tarPath string) []string {
	t.Helper()
	var names []string
	for h := range tartest.Image(t, archiveImage(t, tarPath)) {
		names = append(names, h.Name)
	}
	return names
}
