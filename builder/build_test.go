package builder

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/fromscratch/fromscratch/internal/tartest"
	"github.com/fromscratch/fromscratch/internal/testenv"
)

// requireELF skips when the host has no dynamic /bin/true to build from.
func requireELF(t *testing.T, p string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("needs a Linux host")
	}
	if _, err := os.Stat(p); err != nil {
		testenv.Missing(t, "%s: %v", p, err)
	}
}

// layerFiles lists the paths of a layer's tar.
func layerFiles(t *testing.T, rc io.ReadCloser) []string {
	t.Helper()
	defer rc.Close()
	var names []string
	for h := range tartest.Entries(t, rc) {
		names = append(names, "/"+filepath.Clean(h.Name))
	}
	return names
}

func TestBuildHostTrue(t *testing.T) {
	requireELF(t, "/bin/true")
	res, err := Build(context.Background(), Options{Program: "/bin/true"})
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	defer res.Close()
	if res.Tag != "true:latest" {
		t.Errorf("Tag = %q, want true:latest", res.Tag)
	}
	if len(res.Images) != 1 || res.Index != nil || len(res.Summaries) != 1 {
		t.Fatalf("Build() = %d images, index %v, %d summaries; want 1, nil, 1", len(res.Images), res.Index, len(res.Summaries))
	}
	if len(res.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none", res.Warnings)
	}
	img := res.Images[0]
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("ConfigFile() = %v", err)
	}
	if got, want := cf.Config.Entrypoint, []string{"/bin/true"}; !slices.Equal(got, want) {
		t.Errorf("Entrypoint = %q, want %q", got, want)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("User = %q, want 65532:65532", cf.Config.User)
	}
	if cf.Config.WorkingDir != "/" {
		t.Errorf("WorkingDir = %q, want /", cf.Config.WorkingDir)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform = %s/%s, want linux/%s", cf.OS, cf.Architecture, runtime.GOARCH)
	}
	if !cf.Created.Time.Equal(cf.Created.Time.UTC()) || cf.Created.Unix() != 0 {
		t.Errorf("Created = %v, want the Unix epoch", cf.Created)
	}

	layers, err := img.Layers()
	if err != nil {
		t.Fatalf("Layers() = %v", err)
	}
	if len(layers) < 2 || len(layers) > 3 {
		t.Fatalf("%d layers, want 2 or 3 (base, [libraries,] program)", len(layers))
	}
	if s := res.Summaries[0]; s.Layers != len(layers) || s.Files == 0 || s.Platform != "linux/"+runtime.GOARCH {
		t.Errorf("Summary = %+v, want %d layers, files, linux/%s", s, len(layers), runtime.GOARCH)
	}
	var all [][]string
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatalf("layer %d: Uncompressed() = %v", i, err)
		}
		all = append(all, layerFiles(t, rc))
	}
	base, app := all[0], all[len(all)-1]
	for _, p := range []string{"/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/tmp", "/home/nonroot"} {
		if !slices.Contains(base, p) {
			t.Errorf("base layer lacks %s: %q", p, base)
		}
	}
	real, err := filepath.EvalSymlinks("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(app, real) {
		t.Errorf("top layer lacks %s: %q", real, app)
	}
}

func TestBuildOptions(t *testing.T) {
	requireELF(t, "/bin/true")
	res, err := Build(context.Background(), Options{
		Program:    "/bin/true",
		Entrypoint: []string{"/bin/true", "-x"},
		Env:        []string{"A=1", "PATH=/bin"},
		User:       "0",
		Labels:     map[string]string{"k": "v"},
		Tag:        "t:1",
	})
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	defer res.Close()
	cf, err := res.Images[0].ConfigFile()
	if err != nil {
		t.Fatalf("ConfigFile() = %v", err)
	}
	if res.Tag != "t:1" || cf.Config.User != "0" || cf.Config.Labels["k"] != "v" {
		t.Errorf("Tag, User, Labels = %q, %q, %v; want t:1, 0, k=v", res.Tag, cf.Config.User, cf.Config.Labels)
	}
	if got, want := cf.Config.Env, []string{"PATH=/bin", "A=1"}; !slices.Equal(got, want) {
		t.Errorf("Env = %q, want %q", got, want)
	}
	if got, want := cf.Config.Entrypoint, []string{"/bin/true", "-x"}; !slices.Equal(got, want) {
		t.Errorf("Entrypoint = %q, want %q", got, want)
	}
}

func TestBuildBadInput(t *testing.T) {
	requireELF(t, "/bin/true")
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	dir := t.TempDir()
	notExec := filepath.Join(dir, "data")
	if err := os.WriteFile(notExec, []byte("\x7fELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts Options
		want string
		is   error // a condition the error matches, besides ErrBadInput
	}{
		{"no-program", Options{}, "no program: set Program or GoPackage", ErrNoProgram},
		{"go-and-program", Options{GoPackage: "./x", Program: "/bin/true"}, `GoPackage "./x": a Go package takes no Program or Files`, ErrGoArgs},
		{"go-and-traces", Options{GoPackage: "./x", Traces: [][]string{{"-h"}}}, `GoPackage "./x": Traces run a program of the root, not a Go package`, ErrGoTraces},
		{"two-platforms", Options{Program: "/bin/true", Platforms: []string{"linux/amd64,linux/arm64"}}, `Platforms "linux/amd64,linux/arm64": one platform for a Program (several are for a Go package)`, ErrPlatforms},
		{"missing", Options{Program: filepath.Join(dir, "missing")}, filepath.Join(dir, "missing") + ": no such file or directory", fs.ErrNotExist},
		{"not-executable", Options{Program: notExec}, notExec + ": not executable (mode -rw-r--r--)", nil},
		{"not-a-file", Options{Program: dir}, dir + ": not a regular file", nil},
		{"platform", Options{Program: "/bin/true", Platforms: []string{"linux/" + other}}, "/bin/true: is linux/" + runtime.GOARCH + ", not linux/" + other, nil},
		{"env", Options{Program: "/bin/true", Env: []string{"=x"}}, `Env "=x": malformed`, ErrSyntax},
		{"add", Options{Program: "/bin/true", Add: []AddFile{{Src: "a", Dst: "rel"}}}, `Add "a:rel": malformed`, ErrSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Build(context.Background(), tc.opts)
			if err == nil {
				res.Close()
				t.Fatalf("Build() = nil error, want %q", tc.want)
			}
			if !errors.Is(err, ErrBadInput) {
				t.Errorf("Build() = %v, not ErrBadInput", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Build() = %v, not %v", err, tc.is)
			}
			if err.Error() != tc.want {
				t.Errorf("Build() = %q, want %q", err, tc.want)
			}
		})
	}
}

func TestWithTag(t *testing.T) {
	for _, tc := range []struct{ tag, name, want string }{
		{"", "curl", "curl:latest"},
		{"jq", "x", "jq:latest"},
		{"jq:1.6", "x", "jq:1.6"},
		{"127.0.0.1:5000/jq", "x", "127.0.0.1:5000/jq:latest"},
		{"127.0.0.1:5000/jq:v2", "x", "127.0.0.1:5000/jq:v2"},
		{"example.com/a/jq@sha256:" + strings.Repeat("0", 64), "x", "example.com/a/jq@sha256:" + strings.Repeat("0", 64)},
	} {
		if got := withTag(tc.tag, tc.name); got != tc.want {
			t.Errorf("withTag(%q, %q) = %q, want %q", tc.tag, tc.name, got, tc.want)
		}
	}
}
