package doctor

import (
	"os"
	"testing"

	"github.com/fromscratch/fromscratch/internal/testenv"
	"github.com/fromscratch/fromscratch/rootfs"
)

// ownedTree is a Tree with owners, as an image view has them.
type ownedTree struct {
	*rootfs.Tree
	owners map[string][2]int
}

func (o ownedTree) Owner(name string) (int, int, bool) {
	ids, ok := o.owners[name]
	return ids[0], ids[1], ok
}

// TestExecPermission: a program only its owner (or group) may run starts
// for that user and fails with permission denied for the others.
func TestExecPermission(t *testing.T) {
	static, err := os.ReadFile("/bin/busybox")
	if err != nil {
		testenv.Missing(t, "no static /bin/busybox: %v", err)
	}
	tr := rootfs.NewTree()
	tr.AddData("/etc/passwd", 0o644, []byte("root:x:0:0::/:/bin/sh\napp:x:1000:2000::/:/bin/sh\nother:x:1001:1001::/:/bin/sh\n"))
	tr.AddData("/etc/group", 0o644, []byte("root:x:0:\napp:x:2000:\nextra:x:3000:other\n"))
	tr.AddData("/owner-only", 0o700, static)
	tr.AddData("/group-too", 0o750, static)
	tr.AddData("/extra-group", 0o750, static)
	fsys := ownedTree{tr, map[string][2]int{
		"/owner-only": {1000, 2000}, "/group-too": {0, 2000}, "/extra-group": {0, 3000},
	}}
	tests := []struct {
		prog, user string
		ok         bool
	}{
		{"/owner-only", "app", true},
		{"/owner-only", "1000", true},
		{"/owner-only", "other", false},
		{"/owner-only", "1001:2000", false},
		{"/group-too", "app", true},        // primary group 2000
		{"/group-too", "other:2000", true}, // group given
		{"/group-too", "other", false},
		{"/extra-group", "other", true}, // a member of extra in /etc/group
		{"/extra-group", "app", false},
	}
	for _, tt := range tests {
		rep := Diagnose(fsys, Config{Entrypoint: []string{tt.prog}, User: tt.user, Architecture: "amd64"})
		if rep.Healthy() != tt.ok {
			t.Errorf("%s as %s: healthy %v, want %v: %+v", tt.prog, tt.user, rep.Healthy(), tt.ok, rep.Problems)
		}
		if !tt.ok && (len(rep.Problems) == 0 || rep.Problems[0].Check != "program") {
			t.Errorf("%s as %s: problems %+v, want a program permission problem", tt.prog, tt.user, rep.Problems)
		}
	}
}
