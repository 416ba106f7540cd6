package main

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// slimFixture is a fat image: jq (the entrypoint), curl and its libraries
// as extra files, 20 MB of random junk, a config file under /etc and a data
// file elsewhere, a script entrypoint's script. The command, in short:
//
//	fromscratch build -o fat.tar --add junk:/opt/junk --add conf.json:/etc/app/conf.json \
//	  --add data:/opt/data --add run.sh:/app/run.sh --env FOO=bar --label org.example=slim \
//	  --user 1000:1000 --workdir /app /usr/bin/jq /usr/bin/curl /bin/dash
type slimFixture struct {
	dir, fat string
	data     string // content of /opt/data/d.txt
}

// slimScript runs with dash: longer than the 256 bytes imagefs keeps of a
// script, so slim must copy the rest from the layers.
var slimScript = "#!/bin/dash\n" + strings.Repeat("# padding, so the script is longer than what the view keeps of it\n", 6) +
	"read line < /opt/data/d.txt\necho \"script says: $line\"\n"

func makeSlimFixture(t *testing.T, extra ...string) *slimFixture {
	t.Helper()
	requireTool(t, "jq")
	requireTool(t, "curl")
	requireTool(t, "dash")
	bin := fromscratchBin(t)
	f := &slimFixture{dir: t.TempDir(), data: "data that is not ELF nor under /etc"}
	junk := filepath.Join(f.dir, "junk")
	os.MkdirAll(junk, 0o755)
	for i := 0; i < 20; i++ {
		b := make([]byte, 1<<20)
		rand.Read(b)
		writeFile(t, junk, "f"+string(rune('a'+i)), string(b))
	}
	writeFile(t, f.dir, "conf.json", `{"a":1}`)
	writeFile(t, filepath.Join(f.dir, "data"), "d.txt", f.data)
	writeFile(t, f.dir, "run.sh", slimScript)
	os.Chmod(filepath.Join(f.dir, "run.sh"), 0o755)
	f.fat = filepath.Join(f.dir, "fat.tar")
	args := []string{"build", "-o", f.fat, "-t", "fat:latest",
		"--add", junk + ":/opt/junk", "--add", filepath.Join(f.dir, "conf.json") + ":/etc/app/conf.json",
		"--add", filepath.Join(f.dir, "data") + ":/opt/data", "--add", filepath.Join(f.dir, "run.sh") + ":/app/run.sh",
		"--env", "FOO=bar", "--label", "org.example=slim", "--user", "1000:1000", "--workdir", "/app"}
	args = append(append(args, extra...), "/usr/bin/jq", "/usr/bin/curl", "/bin/dash")
	run(t, "", bin, args...)
	return f
}

// uncompressedBytes sums an archive image's layers' tar bytes.
func uncompressedBytes(t *testing.T, img v1.Image) int64 {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		c, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		n += c
	}
	return n
}

// TestSlim: a fat image loaded in Docker, slimmed from the daemon, gives
// the same jq output, is under a third of the size, keeps its config and
// the --keep'd files, and the same input gives the same digest.
func TestSlim(t *testing.T) {
	requireDocker(t)
	bin := fromscratchBin(t)
	f := makeSlimFixture(t)
	fatTag := uniqueTag("slim-fat")
	run(t, "", "docker", "load", "-i", f.fat)
	run(t, "", "docker", "tag", "fat:latest", fatTag)
	t.Cleanup(func() { runErr("", "docker", "rmi", "-f", fatTag, "fat:latest") })

	slimTar := filepath.Join(f.dir, "slim.tar")
	slimTag := uniqueTag("slim-slim")
	out, errOut, code := runFromscratch(t, bin, "slim", "-o", slimTar, "-t", slimTag, "--keep", "/opt/data", "docker-daemon:"+fatTag)
	if code != 0 {
		t.Fatalf("slim = exit %d\n%s", code, errOut)
	}
	if !strings.HasPrefix(out, "sha256:") || !strings.Contains(errOut, "slimmed") {
		t.Errorf("slim printed %q, %q", out, errOut)
	}
	t.Log(strings.TrimSpace(errOut))
	run(t, "", "docker", "load", "-i", slimTar)
	t.Cleanup(func() { runErr("", "docker", "rmi", "-f", slimTag) })

	input := `{"a":[1,2,{"b":"c"}],"d":null}`
	want := dockerRun(t, input, fatTag, "-c", ".a")
	if got := dockerRun(t, input, slimTag, "-c", ".a"); got != want || !strings.Contains(got, `"b":"c"`) {
		t.Errorf("slim jq printed %q, fat %q", got, want)
	}

	fat, thin := archiveImage(t, f.fat), archiveImage(t, slimTar)
	before, after := uncompressedBytes(t, fat), uncompressedBytes(t, thin)
	t.Logf("uncompressed: fat %d bytes, slim %d bytes", before, after)
	if after*3 >= before {
		t.Errorf("slim image is %d bytes, fat %d: want under a third", after, before)
	}
	fc, _ := fat.ConfigFile()
	sc, _ := thin.ConfigFile()
	if !reflect.DeepEqual(fc.Config, sc.Config) {
		a, _ := json.Marshal(fc.Config)
		b, _ := json.Marshal(sc.Config)
		t.Errorf("config changed:\nfat:  %s\nslim: %s", a, b)
	}
	if fc.Architecture != sc.Architecture || fc.OS != sc.OS {
		t.Errorf("platform %s/%s, want %s/%s", sc.OS, sc.Architecture, fc.OS, fc.Architecture)
	}
	// Up to three layers as build makes them, and the package records.
	if n := len(sc.History); n != len(sc.RootFS.DiffIDs) || n == 0 || n > 4 {
		t.Errorf("%d history entries for %d layers", n, len(sc.RootFS.DiffIDs))
	}
	files := imageFiles(t, thin)
	if got := files["/opt/data/d.txt"]; got != f.data {
		t.Errorf("/opt/data/d.txt = %q, want %q", got, f.data)
	}
	for _, p := range []string{"/usr/bin/jq", "/etc/passwd", "/etc/group"} {
		if _, ok := files[p]; !ok {
			t.Errorf("%s missing from the slim image", p)
		}
	}
	for p := range files {
		if strings.HasPrefix(p, "/opt/junk/") || p == "/usr/bin/curl" || p == "/etc/app/conf.json" || p == "/app/run.sh" {
			t.Errorf("%s kept, but nothing needs it", p)
		}
	}

	// Reproducible: once more, from the archive this time, the same image.
	again := filepath.Join(f.dir, "again.tar")
	out2 := run(t, "", bin, "slim", "-o", again, "-t", slimTag, "--keep", "/opt/data", "docker-archive:"+f.fat)
	if out2 != out {
		t.Errorf("second slim digest %q, first %q", out2, out)
	}
}

// TestSlimScript: a #! script entrypoint longer than what the view keeps
// of it keeps its interpreter, its whole text, and its --keep'd data.
func TestSlimScript(t *testing.T) {
	requireDocker(t)
	bin := fromscratchBin(t)
	f := makeSlimFixture(t, "--entrypoint", "/app/run.sh")
	slimTar := filepath.Join(f.dir, "slim.tar")
	oci := filepath.Join(f.dir, "oci")
	tag := uniqueTag("slim-script")
	run(t, "", bin, "slim", "-o", slimTar, "--oci-layout", oci, "-t", tag, "--keep", "/opt/data/d.txt", "docker-archive:"+f.fat)
	run(t, "", "docker", "load", "-i", slimTar)
	t.Cleanup(func() { runErr("", "docker", "rmi", "-f", tag) })
	if got, want := dockerRun(t, "", tag), "script says: "+f.data+"\n"; got != want {
		t.Errorf("slim script printed %q, want %q", got, want)
	}
	files := imageFiles(t, archiveImage(t, slimTar))
	if files["/app/run.sh"] != slimScript {
		t.Errorf("/app/run.sh = %q, want the whole script", files["/app/run.sh"])
	}
	if _, ok := files["/usr/bin/jq"]; ok {
		t.Errorf("/usr/bin/jq kept, but the script does not need it")
	}
	if _, errOut, code := runFromscratch(t, bin, "doctor", "oci-layout:"+oci); code != 0 {
		t.Errorf("doctor of the slim OCI layout = exit %d\n%s", code, errOut)
	}
}

// TestSlimExitCodes: bad input is 2, an entrypoint that cannot start 1.
func TestSlimExitCodes(t *testing.T) {
	bin := fromscratchBin(t)
	f := makeSlimFixture(t)
	broken := filepath.Join(f.dir, "broken.tar")
	run(t, "", fromscratchBin(t), "build", "-o", broken, "-t", "broken:latest", "--no-check", "--entrypoint", "/usr/bin/missing", "/usr/bin/jq")
	notImage := filepath.Join(f.dir, "conf.json")
	out := filepath.Join(f.dir, "out.tar")
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"not an image", []string{"-o", out, "docker-archive:" + notImage}, 2, notImage},
		{"no such archive", []string{"-o", out, "docker-archive:" + f.dir + "/nope.tar"}, 2, "nope.tar"},
		{"no output", []string{"docker-archive:" + f.fat}, 2, "no output"},
		{"keep missing", []string{"-o", out, "--keep", "/no/such", "docker-archive:" + f.fat}, 2, "/no/such"},
		{"keep relative", []string{"-o", out, "--keep", "opt/data", "docker-archive:" + f.fat}, 2, "absolute"},
		{"broken entrypoint", []string{"-o", out, "docker-archive:" + broken}, 1, "doctor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runFromscratch(t, bin, append([]string{"slim"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.msg) || stdout != "" {
				t.Errorf("slim %v = exit %d, stdout %q, stderr %q; want exit %d naming %q", tc.args, code, stdout, stderr, tc.code, tc.msg)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("slim %v wrote %s", tc.args, out)
			}
		})
	}
}

// TestSlimPush: slim pushes to a registry (in-process), and reads from one.
func TestSlimPush(t *testing.T) {
	bin := fromscratchBin(t)
	f := makeSlimFixture(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	fatRef, slimRef := host+"/fat:1", host+"/fat:slim"
	run(t, "", bin, "squash", "--insecure", "--push", fatRef, "docker-archive:"+f.fat)
	out := run(t, "", bin, "slim", "--insecure", "--push", slimRef, "--keep", "/opt/data", fatRef)
	if !strings.Contains(out, "@sha256:") {
		t.Errorf("slim --push printed %q, want a digest reference", out)
	}
	if _, errOut, code := runFromscratch(t, bin, "doctor", "--insecure", slimRef); code != 0 {
		t.Errorf("doctor of the pushed slim image = exit %d\n%s", code, errOut)
	}
}
