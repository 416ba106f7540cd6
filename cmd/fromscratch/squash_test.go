package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/fromscratch/fromscratch/internal/tartest"
)

// layeredDockerfile exercises every way a layer changes what is below it.
// Hand count of the wasted bytes (regular files' bytes not in the final
// filesystem):
//
//	/gone       100000  added, then deleted (whiteout)
//	/d/sub/f      3000  deleted with /d (rm -rf /d && mkdir /d: opaque or whiteouts)
//	/d/old           7  deleted with /d
//	/over         5000  overwritten by 6000 bytes
//	/e/sub/g      4000  the directory /e replaced by a file
//	total       112007
//
// /hl1 and /hl2 are hard links (600 bytes once), /sl a symbolic link to a
// directory, /keep a directory whose mode changes.
const layeredDockerfile = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /d/sub /e/sub /keep && head -c 100000 /dev/urandom > /gone && head -c 3000 /dev/urandom > /d/sub/f && head -c 7 /dev/zero > /d/old && head -c 5000 /dev/urandom > /over && head -c 4000 /dev/urandom > /e/sub/g && head -c 600 /dev/urandom > /hl1 && ln /hl1 /hl2 && ln -s /keep /sl && echo kept > /keep/k
RUN rm /gone
RUN rm -rf /d && mkdir /d && head -c 11 /dev/zero > /d/new
RUN head -c 6000 /dev/urandom > /over
RUN rm -rf /e && head -c 13 /dev/zero > /e
RUN chmod 700 /keep && ln -s ../keep/k /keep/rel && chmod 4755 /hl1
ENV FOO=bar
USER 1000:1000
LABEL org.example.test=squash
ENTRYPOINT ["/bin/busybox", "cat"]
CMD ["/keep/k"]
`

const layeredWaste = 112007

// squashDockerBuild builds dockerfile (with /bin/busybox from busybox-static in
// the context) and returns its tag, removed at the end of the test.
func squashDockerBuild(t *testing.T, name, dockerfile string) string {
	t.Helper()
	requireDocker(t)
	requireFile(t, "/bin/busybox") // busybox-static
	dir := t.TempDir()
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := uniqueTag(name)
	run(t, "", "docker", "build", "-q", "-t", tag, dir)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag
}

// sqExported is one path of `docker export`.
type sqExported struct {
	Type   byte
	Mode   int64
	UID    int
	GID    int
	Size   int64
	Link   string
	SHA256 string
}

// sqExportFS returns the filesystem of a container of image: every path but
// what Docker adds to every container.
func sqExportFS(t *testing.T, image string) map[string]sqExported {
	t.Helper()
	id := strings.TrimSpace(run(t, "", "docker", "create", image))
	defer exec.Command("docker", "rm", "-f", id).Run()
	cmd := exec.Command("docker", "export", id)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	files := map[string]sqExported{}
	for hdr, r := range tartest.Entries(t, out) {
		p := path.Clean("/" + hdr.Name)
		switch {
		case p == "/.dockerenv", p == "/etc/hosts", p == "/etc/hostname", p == "/etc/resolv.conf",
			p == "/dev" || strings.HasPrefix(p, "/dev/"), p == "/proc", p == "/sys":
			continue
		}
		e := sqExported{Type: hdr.Typeflag, Mode: hdr.Mode, UID: hdr.Uid, GID: hdr.Gid, Size: hdr.Size}
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			e.Link = hdr.Linkname
		case tar.TypeLink:
			// Compare a hard link as the file it names.
			target := files[path.Clean("/"+hdr.Linkname)]
			e = target
		case tar.TypeReg:
			h := sha256.New()
			if _, err := io.Copy(h, r); err != nil {
				t.Fatal(err)
			}
			e.SHA256 = hex.EncodeToString(h.Sum(nil))
		}
		files[p] = e
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("docker export %s: %v", image, err)
	}
	return files
}

// sqDiffFS returns the differences between two exports, one a line.
func sqDiffFS(want, got map[string]sqExported) []string {
	var out []string
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("missing %s", p))
		case g != w:
			out = append(out, fmt.Sprintf("%s: want %+v, got %+v", p, w, g))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			out = append(out, fmt.Sprintf("extra %s", p))
		}
	}
	sort.Strings(out)
	return out
}

func TestSquashSameFilesystem(t *testing.T) {
	if testing.Short() {
		t.Skip("docker build: not in -short")
	}
	src := squashDockerBuild(t, "layered", layeredDockerfile)
	bin := fromscratchBin(t)
	dir := t.TempDir()
	archive := filepath.Join(dir, "src.tar")
	run(t, "", "docker", "save", "-o", archive, src)
	want := sqExportFS(t, src)
	for _, p := range []string{"/gone", "/d/sub/f", "/e/sub"} {
		if _, ok := want[p]; ok {
			t.Fatalf("the source image has %s: the Dockerfile did not do what the test expects", p)
		}
	}

	// inspect: the hand count of the wasted bytes.
	out := run(t, "", bin, "inspect", "--json", "docker-archive:"+archive)
	var r inspectJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("inspect --json: %v\n%s", err, out)
	}
	if r.WastedBytes != layeredWaste {
		t.Errorf("inspect wasted_bytes = %d, want %d (by hand)\n%s", r.WastedBytes, layeredWaste, out)
	}
	if len(r.Layers) != 8 {
		t.Errorf("inspect: %d layers, want 8", len(r.Layers))
	}
	if r.Entrypoint.Kind != "static" || r.Entrypoint.Path != "/bin/busybox" {
		t.Errorf("inspect entrypoint = %+v, want /bin/busybox static", r.Entrypoint)
	}
	if r.Layers[3].Removed != 1 || r.Layers[5].Changed != 1 {
		t.Errorf("inspect: layer 3 removed %d (want 1), layer 5 changed %d (want 1)", r.Layers[3].Removed, r.Layers[5].Changed)
	}
	if !strings.Contains(r.Layers[3].CreatedBy, "rm /gone") {
		t.Errorf("layer 3 created_by = %q, want the rm /gone RUN", r.Layers[3].CreatedBy)
	}
	// The CI gates.
	if _, _, err := runErr("", bin, "inspect", "--max-waste", "112006", "docker-archive:"+archive); exitStatus(err) != 1 {
		t.Errorf("inspect --max-waste 112006: %v, want exit 1", err)
	}
	if _, _, err := runErr("", bin, "inspect", "--max-waste", "112007", "--min-efficiency", "0.5", "docker-archive:"+archive); err != nil {
		t.Errorf("inspect --max-waste 112007 --min-efficiency 0.5: %v, want exit 0", err)
	}
	if _, _, err := runErr("", bin, "inspect", "--min-efficiency", "0.99", "docker-archive:"+archive); exitStatus(err) != 1 {
		t.Errorf("inspect --min-efficiency 0.99: %v, want exit 1", err)
	}

	for _, from := range []int{0, 3} {
		t.Run(fmt.Sprintf("from%d", from), func(t *testing.T) {
			tag := uniqueTag("squashed")
			out := filepath.Join(t.TempDir(), "sq.tar")
			run(t, "", bin, "squash", "--from", fmt.Sprint(from), "-o", out, "-t", tag, "docker-archive:"+archive)
			run(t, "", "docker", "load", "-i", out)
			t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
			if d := sqDiffFS(want, sqExportFS(t, tag)); len(d) > 0 {
				t.Errorf("squash --from %d: the filesystem differs:\n%s", from, strings.Join(d, "\n"))
			}
			var got inspectJSON
			if err := json.Unmarshal([]byte(run(t, "", bin, "inspect", "--json", "docker-archive:"+out)), &got); err != nil {
				t.Fatal(err)
			}
			// Every wasted byte is in layer 2: kept by --from 3, dropped by
			// --from 0.
			wantWaste := int64(0)
			if from == 3 {
				wantWaste = layeredWaste
			}
			if len(got.Layers) != from+1 || got.WastedBytes != wantWaste {
				t.Errorf("squashed: %d layers (want %d), %d bytes wasted (want %d)", len(got.Layers), from+1, got.WastedBytes, wantWaste)
			}
			var cfg struct {
				Config struct {
					Entrypoint, Cmd, Env []string
					User                 string
					Labels               map[string]string
				}
			}
			if err := json.Unmarshal([]byte(run(t, "", "docker", "inspect", "-f", "{{json .}}", tag)), &cfg); err != nil {
				t.Fatal(err)
			}
			c := cfg.Config
			if strings.Join(c.Entrypoint, " ") != "/bin/busybox cat" || strings.Join(c.Cmd, " ") != "/keep/k" ||
				c.User != "1000:1000" || c.Labels["org.example.test"] != "squash" || !strings.Contains(strings.Join(c.Env, " "), "FOO=bar") {
				t.Errorf("squashed config = %+v", c)
			}
			if got := run(t, "", "docker", "run", "--rm", "--user", "0", tag); got != "kept\n" {
				t.Errorf("docker run = %q, want kept", got)
			}
		})
	}
}
