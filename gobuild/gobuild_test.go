package gobuild

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/internal/testenv"
)

func TestProgramName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"example.com/cmd/server", "server"},
		{"example.com/hello", "hello"},
		{"example.com/tool/v2", "tool"},
		{"hello", "hello"},
		{"v2", "v2"},
	} {
		if got := ProgramName(tc.in); got != tc.want {
			t.Errorf("ProgramName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParsePlatform(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want v1.Platform
		err  bool
	}{
		{in: "linux/amd64", want: v1.Platform{OS: "linux", Architecture: "amd64"}},
		{in: "arm64", want: v1.Platform{OS: "linux", Architecture: "arm64"}},
		{in: "linux/arm64/v8", want: v1.Platform{OS: "linux", Architecture: "arm64"}},
		{in: "linux/arm", want: v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{in: "linux/arm/v6", want: v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}},
		{in: "windows/amd64", err: true},
		{in: "linux/arm/v7/x", err: true},
		{in: "linux/", err: true},
	} {
		got, err := ParsePlatform(tc.in)
		if (err != nil) != tc.err || err == nil && got.String() != tc.want.String() {
			t.Errorf("ParsePlatform(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestPlatformEnv(t *testing.T) {
	env, err := platformEnv(v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"})
	if err != nil || env[len(env)-1] != "GOARM=6" || env[0] != "CGO_ENABLED=0" {
		t.Errorf("platformEnv(linux/arm/v6) = %v, %v", env, err)
	}
	if _, err := platformEnv(v1.Platform{OS: "linux", Architecture: "arm", Variant: "v8"}); err == nil {
		t.Errorf("platformEnv(linux/arm/v8) = nil error")
	}
}

func TestLDFlags(t *testing.T) {
	o := Options{LDFlags: "-X main.version=1"}
	got := o.ldflags([]string{"GOFLAGS=-mod=mod -ldflags=-X=main.a=b"})
	if want := "-s -w -X=main.a=b -X main.version=1"; got != want {
		t.Errorf("ldflags = %q, want %q", got, want)
	}
}

// writeModule writes a module example.com/NAME with main.go in a temporary
// directory.
func writeModule(t *testing.T, name, src string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/"+name+"/v2\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644)
	return dir
}

func TestBuild(t *testing.T) {
	testenv.Tool(t, "go")
	if testing.Short() {
		t.Skip("builds a Go program")
	}
	dir := writeModule(t, "tiny", "package main\n\nfunc main() { println(\"hi\") }\n")
	plats := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
	res, err := Build(context.Background(), ".", plats, Options{Dir: dir})
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	defer os.RemoveAll(res.OutDir)
	if res.Name != "tiny" || res.ImportPath != "example.com/tiny/v2" {
		t.Errorf("Build() name %q, import path %q", res.Name, res.ImportPath)
	}
	for _, b := range res.Binaries {
		if err := CheckStatic(b.Path); err != nil {
			t.Errorf("CheckStatic(%s) = %v", b.Platform, err)
		}
	}

	lib := writeModule(t, "lib", "package lib\n")
	if _, err := Build(context.Background(), ".", plats[:1], Options{Dir: lib}); err == nil {
		t.Errorf("Build(a library) = nil error")
	}

	cgo := writeModule(t, "cgo", "package main\n\n// int two(void) { return 2; }\nimport \"C\"\n\nfunc main() { println(C.two()) }\n")
	_, err = Build(context.Background(), ".", plats[:1], Options{Dir: cgo})
	var ce *CgoError
	if !errors.Is(err, ErrCgo) || !errors.As(err, &ce) || len(ce.Packages) != 1 || ce.Packages[0] != "example.com/cgo/v2" {
		t.Errorf("Build(a cgo program) = %v, want a CgoError naming example.com/cgo/v2", err)
	}
}
