package builder

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/debuglayer"
	"github.com/fromscratch/fromscratch/program"
	"github.com/fromscratch/fromscratch/rootfs"
)

// debugSource finds the busybox and tools of the debug layer.
type debugSource struct {
	o          *Options
	fsys, host rootfs.FS
	busyboxes  []*debuglayer.Busybox // read once, on first use
	read       bool
}

// items are the debug layer's items for an image of architecture arch
// whose closure is base.
func (d *debugSource) items(arch string, base *closure.Plan, copts closure.Options) ([]closure.Item, error) {
	if !d.read {
		d.read = true
		if len(d.o.Busybox) == 0 {
			bb, err := debuglayer.OpenBusybox(d.fsys, "/bin/busybox")
			if err != nil {
				return nil, badInputErr(err, "--debug: %s: %s (install busybox-static in the root, or give --busybox PATH)", path.Join(d.o.root(), "bin/busybox"), describeBusybox(err))
			}
			d.busyboxes = append(d.busyboxes, bb)
		}
		for _, p := range d.o.Busybox {
			abs, err := filepath.Abs(p)
			if err != nil {
				return nil, badInputErr(err, "--busybox %s: %v", p, err)
			}
			bb, err := debuglayer.OpenBusybox(d.host, abs)
			if err != nil {
				return nil, badInputErr(err, "--busybox %s: %s", p, describeBusybox(err))
			}
			d.busyboxes = append(d.busyboxes, bb)
		}
	}
	var bb *debuglayer.Busybox
	var have []string
	for _, b := range d.busyboxes {
		a, _, _ := program.Platform(b.Info)
		if a == arch {
			bb = b
			break
		}
		have = append(have, b.Path+" is linux/"+a)
	}
	if bb == nil {
		return nil, badInput("--debug: no busybox for linux/%s (%s): give --busybox PATH (repeatable, one per architecture)", arch, strings.Join(have, ", "))
	}
	var tools []closure.Item
	if len(d.o.DebugTools) > 0 {
		var paths []string
		for _, t := range d.o.DebugTools {
			for _, name := range strings.Split(t, ",") {
				if name = strings.TrimSpace(name); name == "" {
					continue
				}
				p, err := program.LookPath(d.fsys, name, nil)
				if err != nil {
					return nil, badInputErr(err, "--debug-tools: %v", err)
				}
				paths = append(paths, p)
			}
		}
		items, plan, err := debuglayer.Tools(d.fsys, paths, base, copts)
		if err != nil {
			if errors.Is(err, closure.ErrMissing) {
				return nil, fmt.Errorf("build --debug-tools: %w", err)
			}
			return nil, badInputErr(err, "build --debug-tools: %v", describe(err))
		}
		if plan.Info != nil {
			if a, _, _ := program.Platform(plan.Info); a != arch {
				return nil, badInput("--debug-tools: the tools of %s are linux/%s, the image linux/%s", d.o.root(), a, arch)
			}
		}
		tools = items
	}
	return debuglayer.Merge(bb.Items(), tools), nil
}
