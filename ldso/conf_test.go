package ldso

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/fromscratch/fromscratch/internal/testenv"
	"github.com/fromscratch/fromscratch/rootfs"
)

// confTestMain is the top-level ld.so.conf of the ReadConf tests.
const confTestMain = `# libc default configuration
/usr/local/lib
include ld.so.conf.d/*.conf
/opt/typed=libc6
hwcap 1 /opt/hw
HWCAP 0 /opt/hw2
   /opt/slash//   # trailing slashes and a comment
/opt/space dir
/opt/c:/opt/d,/opt/e
include /etc/missing/*.conf /etc/nope.conf
include	/etc/tab.conf
/usr/local/lib
/
include
include linked.d/*.conf
`

// confTestFile is one file of a test root: contents, or a symbolic link
// (link), or a directory (dir).
type confTestFile struct {
	body string
	link string
	dir  bool
}

// confTestRoot writes files into a new temporary root.
func confTestRoot(t testing.TB, files map[string]confTestFile) (string, rootfs.FS) {
	t.Helper()
	dir := t.TempDir()
	for name, f := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case f.dir:
			err = os.MkdirAll(p, 0o755)
		case f.link != "":
			err = os.Symlink(f.link, p)
		default:
			err = os.WriteFile(p, []byte(f.body), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	fsys, err := rootfs.Dir(dir)
	if err != nil {
		t.Fatalf("rootfs.Dir(%s) = %v", dir, err)
	}
	return dir, fsys
}

// confTestFiles is a configuration with every kind of line: nested,
// relative and missing includes, a loop, hidden and non-regular matches.
func confTestFiles(loop bool) map[string]confTestFile {
	nested := "/n1\n"
	if loop {
		nested += "include /etc/ld.so.conf\n"
	}
	return map[string]confTestFile{
		"etc/ld.so.conf":                     {body: confTestMain},
		"etc/ld.so.conf.d/a.conf":            {body: "/a1\ninclude nested/*.conf\n"},
		"etc/ld.so.conf.d/nested/n.conf":     {body: nested},
		"etc/ld.so.conf.d/b.conf":            {body: "/b1\r\n"},
		"etc/ld.so.conf.d/.hidden.conf":      {body: "/hidden\n"},
		"etc/ld.so.conf.d/c.conf":            {dir: true},
		"etc/ld.so.conf.d/d.conf":            {link: "../other.conf"},
		"etc/other.conf":                     {body: "/d1 # via a symbolic link\n"},
		"etc/ld.so.conf.d/e.conf":            {link: "/etc/dangling.conf"},
		"etc/ld.so.conf.d/z.txt":             {body: "/not-conf\n"},
		"etc/tab.conf":                       {body: "/tab1"},
		"etc/ld.so.conf.d/crlf-include.conf": {body: "include /etc/tab2.conf\r\n"},
		"etc/tab2.conf":                      {body: "/tab2\n"},
		"etc/linked.d":                       {link: "/srv/conf"},
		"srv/conf/s.conf":                    {body: "include ../more/*.conf\n"},
		"srv/more/m.conf":                    {body: "/m-in-srv\n"},
		"etc/more/m.conf":                    {body: "/m-in-etc\n"},
	}
}

// confTestWant is what ldconfig reads from confTestFiles.
var confTestWant = []string{
	"/usr/local/lib", "/a1", "/n1", "/b1", "/d1", "/opt/typed", "/opt/slash",
	"/opt/space dir", "/opt/c:/opt/d,/opt/e", "/tab1", "include", "/m-in-srv",
}

func TestReadConf(t *testing.T) {
	_, fsys := confTestRoot(t, confTestFiles(true))
	got, err := ReadConf(fsys, "/etc/ld.so.conf")
	if err != nil {
		t.Fatalf("ReadConf() = %v", err)
	}
	if !reflect.DeepEqual(got, confTestWant) {
		t.Errorf("ReadConf() = %q\nwant %q", got, confTestWant)
	}
}

func TestReadConfCases(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]confTestFile
		want  []string
	}{
		{"empty", map[string]confTestFile{"etc/ld.so.conf": {}}, nil},
		{"only comments", map[string]confTestFile{"etc/ld.so.conf": {body: "# a\n\n   \t\n#b"}}, nil},
		{"no final newline", map[string]confTestFile{"etc/ld.so.conf": {body: "/a\n/b"}}, []string{"/a", "/b"}},
		{"self include", map[string]confTestFile{"etc/ld.so.conf": {body: "/a\ninclude /etc/ld.so.conf\n/b\n"}}, []string{"/a", "/b"}},
		{"include loop of two", map[string]confTestFile{
			"etc/ld.so.conf": {body: "include x.conf\n/top\n"},
			"etc/x.conf":     {body: "/x\ninclude y.conf\n"},
			"etc/y.conf":     {body: "/y\ninclude x.conf\ninclude /etc/ld.so.conf\n"},
		}, []string{"/x", "/y", "/top"}},
		{"several patterns", map[string]confTestFile{
			"etc/ld.so.conf": {body: "include  /etc/b.conf \t /etc/a.conf\n"},
			"etc/a.conf":     {body: "/a\n"},
			"etc/b.conf":     {body: "/b\n"},
		}, []string{"/b", "/a"}},
		{"matches sorted", map[string]confTestFile{
			"etc/ld.so.conf":    {body: "include /etc/d/*\n"},
			"etc/d/b":           {body: "/b\n"},
			"etc/d/a":           {body: "/a\n"},
			"etc/d/B":           {body: "/B\n"},
			"etc/d/.explicitly": {body: "/hidden\n"},
		}, []string{"/B", "/a", "/b"}},
		{"explicit dot pattern", map[string]confTestFile{
			"etc/ld.so.conf": {body: "include /etc/d/.*\n"},
			"etc/d/.h":       {body: "/hidden\n"},
		}, []string{"/hidden"}},
		{"include needs a blank", map[string]confTestFile{"etc/ld.so.conf": {body: "include/etc/x\nincludes\n"}}, []string{"include/etc/x", "includes"}},
		{"hwcap needs a blank", map[string]confTestFile{"etc/ld.so.conf": {body: "hwcap\nhwcaps 1 x\nHwCaP\t2 y\n"}}, []string{"hwcap", "hwcaps 1 x"}},
		{"type suffixes", map[string]confTestFile{"etc/ld.so.conf": {body: "/a=libc5\n/b = glibc2\n/c/=unknown\n=libc6\n"}}, []string{"/a", "/b", "/c"}},
		{"NUL ends a line", map[string]confTestFile{"etc/ld.so.conf": {body: "/a\x00/b\n/c\n"}}, []string{"/a", "/c"}},
		{"relative directory", map[string]confTestFile{"etc/ld.so.conf": {body: "lib/x\n./y/\n"}}, []string{"lib/x", "./y"}},
		{"slash then space", map[string]confTestFile{"etc/ld.so.conf": {body: "/a/ /\n"}}, []string{"/a/ "}},
		{"symlinked conf dir", map[string]confTestFile{
			"etc/ld.so.conf":   {body: "include conf.d/*.conf\n"},
			"etc/conf.d":       {link: "/srv/conf"},
			"srv/conf/a.conf":  {body: "include ../more/*.conf\n/a\n"},
			"srv/more/b.conf":  {body: "/b-in-srv\n"},
			"etc/more/b.conf":  {body: "/b-in-etc\n"},
			"etc/conf.d.other": {body: "/other\n"},
		}, []string{"/b-in-srv", "/a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, fsys := confTestRoot(t, tt.files)
			got, err := ReadConf(fsys, "/etc/ld.so.conf")
			if err != nil {
				t.Fatalf("ReadConf() = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReadConf() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadConfErrors(t *testing.T) {
	_, fsys := confTestRoot(t, map[string]confTestFile{"etc/ld.so.conf.d": {dir: true}})
	tests := []struct {
		name     string
		file     string
		notExist bool
	}{
		{"missing", "/etc/ld.so.conf", true},
		{"directory", "/etc/ld.so.conf.d", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadConf(fsys, tt.file)
			if err == nil || got != nil {
				t.Fatalf("ReadConf(%s) = %q, %v; want an error", tt.file, got, err)
			}
			if errors.Is(err, fs.ErrNotExist) != tt.notExist {
				t.Errorf("ReadConf(%s) = %v; errors.Is(err, fs.ErrNotExist) = %v, want %v", tt.file, err, !tt.notExist, tt.notExist)
			}
		})
	}

	t.Run("too many files", func(t *testing.T) {
		if testing.Short() {
			t.Skip("writes thousands of files")
		}
		files := map[string]confTestFile{"etc/ld.so.conf": {body: "include /etc/d/*\n"}}
		for i := range maxConfFiles + 1 {
			files[fmt.Sprintf("etc/d/%05d", i)] = confTestFile{}
		}
		_, fsys := confTestRoot(t, files)
		if got, err := ReadConf(fsys, "/etc/ld.so.conf"); !errors.Is(err, errConfTooLarge) {
			t.Errorf("ReadConf() = %q, %v; want errConfTooLarge", got, err)
		}
	})
}

// TestReadConfLdconfig compares ReadConf with the directories the host's
// ldconfig scans for the same files (ldconfig -v lists them), in a root
// where they all exist. ldconfig follows include loops forever, so the
// configuration has none.
func TestReadConfLdconfig(t *testing.T) {
	ldconfig := cacheTestLdconfig(t)
	if os.Geteuid() != 0 {
		testenv.Missing(t, "ldconfig -r takes relative includes only when it can chroot, as root")
	}
	files := confTestFiles(false)
	for _, d := range confTestWant {
		files[strings.TrimPrefix(d, "/")] = confTestFile{dir: true}
	}
	dir, fsys := confTestRoot(t, files)
	got, err := ReadConf(fsys, "/etc/ld.so.conf")
	if err != nil {
		t.Fatalf("ReadConf() = %v", err)
	}
	cmd := exec.Command(ldconfig, "-v", "-N", "-X", "-r", dir, "-f", "/etc/ld.so.conf")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", cmd, err)
	}
	var want []string
	re := regexp.MustCompile(`^(.*): \(from (.*):[0-9]+\)$`)
	for _, l := range strings.Split(string(out), "\n") {
		if m := re.FindStringSubmatch(l); m != nil && m[2] != "<builtin>" {
			want = append(want, m[1])
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadConf() = %q\nldconfig -v scans %q", got, want)
	}
}
