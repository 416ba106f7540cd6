package builder

import (
	"fmt"
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
	// keep makes the whole contents of files of the root readable (an
	// image root's view keeps only what the loader reads of a program).
	keep func(paths []string) error
}

// items are the debug layer's items for an image of architecture arch
// whose closure is base.
func (d *debugSource) items(arch string, base *closure.Plan, copts closure.Options) ([]closure.Item, error) {
	if !d.read {
		d.read = true
		if len(d.o.Busybox) == 0 {
			if real, err := rootfs.Realpath(d.fsys, "/bin/busybox"); err == nil && d.keep != nil {
				if fi, err := d.fsys.Lstat(real); err == nil && fi.Mode().IsRegular() {
					if err := d.keep([]string{real}); err != nil {
						return nil, err
					}
				}
			}
			bb, err := debuglayer.OpenBusybox(d.fsys, "/bin/busybox")
			if err != nil {
				return nil, &OptionError{Option: "Debug", Err: &RootFileError{Root: d.o.root(), Path: "/bin/busybox", Package: "busybox-static", Err: err}}
			}
			d.busyboxes = append(d.busyboxes, bb)
		}
		for _, p := range d.o.Busybox {
			abs, err := filepath.Abs(p)
			if err != nil {
				return nil, &OptionError{Option: "Busybox", Value: p, Err: err}
			}
			bb, err := debuglayer.OpenBusybox(d.host, abs)
			if err != nil {
				return nil, &OptionError{Option: "Busybox", Value: p, Err: err}
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
		return nil, &OptionError{Option: "Debug", Err: fmt.Errorf("%w for linux/%s (%s)", ErrNoBusybox, arch, strings.Join(have, ", "))}
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
					return nil, &OptionError{Option: "DebugTools", Value: name, Err: err}
				}
				paths = append(paths, p)
			}
		}
		items, plan, err := debuglayer.Tools(d.fsys, paths, base, copts)
		if err != nil {
			return nil, &OptionError{Option: "DebugTools", Err: err}
		}
		if plan.Info != nil {
			if a, _, _ := program.Platform(plan.Info); a != arch {
				return nil, &OptionError{Option: "DebugTools", Err: &PlatformError{Path: d.o.root(), Got: "linux/" + a, Want: "linux/" + arch}}
			}
		}
		tools = items
	}
	return debuglayer.Merge(bb.Items(), tools), nil
}
