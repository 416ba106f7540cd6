package builder

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/closure"
)

// TestGoLayers: a Go image's base layer is split by what it holds, each
// part with its parent directories and a history entry naming it; a link
// under a root brings its target along; the program's layer names the
// program and its package. Other images keep the closure's layers.
func TestGoLayers(t *testing.T) {
	dir := func(p string) closure.Item { return closure.Item{Path: p, Kind: closure.Dir, Mode: 0o755} }
	file := func(p string) closure.Item { return closure.Item{Path: p, Kind: closure.File, Mode: 0o644} }
	var plan closure.Plan
	plan.Layers[closure.LayerBase] = []closure.Item{
		dir("/etc"), file("/etc/group"), file("/etc/passwd"), dir("/etc/pki"), file("/etc/pki/bundle.crt"),
		dir("/etc/ssl"), dir("/etc/ssl/certs"), {Path: caBundle, Kind: closure.Symlink, Target: "../../pki/bundle.crt"},
		dir("/home"), dir("/home/nonroot"), dir("/tmp"),
		dir("/usr"), dir("/usr/share"), dir(zoneinfo), file(zoneinfo + "/UTC"),
	}
	plan.Layers[closure.LayerApp] = []closure.Item{dir("/usr"), dir("/usr/local"), dir("/usr/local/bin"), file("/usr/local/bin/app")}
	j := job{program: "/usr/local/bin/app", goImport: "example.com/app", platform: &v1.Platform{OS: "linux", Architecture: "amd64"},
		inputs: []closure.Input{{Path: "/usr/local/bin/app"}}}
	want := []struct{ createdBy, paths string }{
		{"fromscratch build --go: runtime files (/etc/group, /etc/passwd, /home/nonroot, /tmp)", "/etc /etc/group /etc/passwd /home /home/nonroot /tmp"},
		{"fromscratch build --go: CA certificates (" + caBundle + ")", "/etc /etc/pki /etc/pki/bundle.crt /etc/ssl /etc/ssl/certs " + caBundle},
		{"fromscratch build --go: time zones (" + zoneinfo + ")", "/usr /usr/share " + zoneinfo + " " + zoneinfo + "/UTC"},
		{"fromscratch build --go: Go program /usr/local/bin/app (go build example.com/app)", "/usr /usr/local /usr/local/bin /usr/local/bin/app"},
	}
	work := planLayers(&plan, j)
	if len(work) != len(want) {
		t.Fatalf("%d layers, want %d: %+v", len(work), len(want), work)
	}
	for i, w := range work {
		var paths []string
		for _, it := range w.items {
			paths = append(paths, it.Path)
		}
		if w.createdBy != want[i].createdBy || strings.Join(paths, " ") != want[i].paths {
			t.Errorf("layer %d: %q %v\nwant %q %s", i, w.createdBy, paths, want[i].createdBy, want[i].paths)
		}
	}
	// Without CA certificates nor time zones: no such layers.
	plan.Layers[closure.LayerBase] = plan.Layers[closure.LayerBase][:3]
	if work := planLayers(&plan, j); len(work) != 2 || !strings.Contains(work[0].createdBy, "runtime files") {
		t.Errorf("without CA certificates and time zones: %+v", work)
	}
	// A program's image keeps the closure's layers.
	j.platform = nil
	if work := planLayers(&plan, j); len(work) != 2 || work[0].createdBy != "fromscratch build: "+closure.LayerNames[closure.LayerBase] {
		t.Errorf("a program's layers: %+v", work)
	}
}
