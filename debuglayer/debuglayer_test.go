package debuglayer

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/internal/testenv"
	"github.com/fromscratch/fromscratch/program"
	"github.com/fromscratch/fromscratch/rootfs"
)

func TestApplets(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		want []string
	}{
		{"table", "junk\x00[\x00[[\x00ash\x00ls\x00sh\x00\x00more", []string{"[", "[[", "ash", "ls", "sh"}},
		{"stops at unsorted", "\x00[\x00[[\x00ls\x00cat\x00", []string{"[", "[[", "ls"}},
		{"stops at bad name", "\x00[\x00[[\x00ls\x00a b\x00", []string{"[", "[[", "ls"}},
		{"none", "no table here", nil},
		{"too short", "\x00[\x00[[\x00", nil},
	} {
		got, err := Applets([]byte(tc.data))
		if tc.want == nil {
			if err == nil {
				t.Errorf("%s: Applets() = %v, want an error", tc.name, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: Applets() = %v, %v, want %v", tc.name, got, err, tc.want)
		}
	}
}

// TestAppletsBusybox: the list read from Debian's busybox-static is the one
// `busybox --list` prints.
func TestAppletsBusybox(t *testing.T) {
	host, _ := rootfs.Dir("/")
	bb, err := OpenBusybox(host, "/bin/busybox")
	if err != nil {
		testenv.Missing(t, "OpenBusybox(/bin/busybox) = %v (apt-get install busybox-static)", err)
	}
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(out))
	slices.Sort(want)
	if !slices.Equal(bb.Applets, want) {
		t.Errorf("applets read: %d, busybox --list: %d\nread: %v\nlist: %v", len(bb.Applets), len(want), bb.Applets, want)
	}
	items := bb.Items()
	if items[1].Path != "/busybox/busybox" || !slices.ContainsFunc(items, func(it closure.Item) bool {
		return it.Path == "/busybox/sh" && it.Kind == closure.Symlink && it.Target == "busybox"
	}) {
		t.Errorf("Items() lacks /busybox/busybox or the sh link: %v", items[:3])
	}
}

func TestExtendPath(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"A=1", "PATH=/bin"}, "PATH=/bin:/busybox"},
		{[]string{"PATH=/busybox:/bin"}, "PATH=/busybox:/bin"},
		{nil, "PATH=/usr/bin:/busybox"},
	} {
		got := ExtendPath(tc.env, "/usr/bin")
		if !slices.Contains(got, tc.want) {
			t.Errorf("ExtendPath(%v) = %v, want %s", tc.env, got, tc.want)
		}
	}
}

func TestTools(t *testing.T) {
	testenv.File(t, "/usr/bin/strace")
	host, _ := rootfs.Dir("/")
	p, err := program.LookPath(host, "strace", nil)
	if err != nil {
		t.Fatal(err)
	}
	base, err := closure.Compute(host, []closure.Input{{Path: "/bin/true", Layer: closure.LayerApp}}, nil, closure.Options{})
	if err != nil {
		t.Fatal(err)
	}
	items, plan, err := Tools(host, []string{p}, base, closure.Options{})
	if err != nil {
		t.Fatalf("Tools() = %v", err)
	}
	inBase := map[string]bool{}
	for _, l := range base.Layers {
		for _, it := range l {
			inBase[it.Path] = true
		}
	}
	var all int
	for _, l := range plan.Layers {
		all += len(l)
	}
	for _, it := range items {
		if inBase[it.Path] && it.Kind != closure.Dir {
			t.Errorf("Tools() item %s is in the base image", it.Path)
		}
	}
	if !slices.ContainsFunc(items, func(it closure.Item) bool { return it.Path == "/usr/bin/strace" }) || len(items) >= all {
		t.Errorf("Tools() = %d items of %d, want strace and fewer than its whole closure", len(items), all)
	}
}
