package builder

import (
	"context"
	"fmt"
	"strings"

	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/rootfs"
	"github.com/fromscratch/fromscratch/rootsrc"
)

// buildRoots builds the image of o.Program from each of o.Roots and
// combines them in an index: a multi-platform image of any program.
func buildRoots(ctx context.Context, o Options) (res *Result, err error) {
	switch {
	case o.GoPackage != "":
		return nil, &OptionError{Option: "GoPackage", Value: o.GoPackage, Err: ErrRootsGo}
	case len(o.Platforms) > 0:
		return nil, &OptionError{Option: "Platforms", Value: strings.Join(o.Platforms, ","), Err: ErrRootsPlatforms}
	case o.Archive != nil:
		return nil, fmt.Errorf("%w, and %d roots make %d", ErrOneImage, len(o.Roots), len(o.Roots))
	}
	res = &Result{}
	byPlatform := map[string]*rootsrc.Root{}
	for _, r := range o.Roots {
		one := o
		one.Roots = []*rootsrc.Root{r}
		sub, err := Build(ctx, one)
		if err != nil {
			return nil, &RootError{Root: rootValue(r), Err: err}
		}
		plat := sub.Summaries[0].Platform
		if prev, ok := byPlatform[plat]; ok {
			return nil, &SamePlatformError{First: rootValue(prev), Second: rootValue(r), Platform: plat}
		}
		byPlatform[plat] = r
		if res.Tag == "" {
			res.Tag = sub.Tag
		}
		res.Images = append(res.Images, sub.Images...)
		res.Summaries = append(res.Summaries, sub.Summaries...)
		res.SBOMs = append(res.SBOMs, sub.SBOMs...)
		for _, t := range sub.Traces {
			t.Root = rootValue(r)
			res.Traces = append(res.Traces, t)
		}
		for _, w := range sub.Warnings {
			res.Warnings = append(res.Warnings, r.Name+": "+w)
		}
		for _, m := range sub.Missing {
			m.Root = r.Name
			res.Missing = append(res.Missing, m)
		}
		res.Notes = append(res.Notes, sub.Notes...)
	}
	iopts := image.Options{Created: o.Created, Level: o.Level, Uncompressed: o.Uncompressed}
	if res.Index, err = image.Index(res.Images, iopts); err != nil {
		return nil, err
	}
	return res, nil
}

// rootValue is r as --root spells it: PLATFORM=ROOT when it was given so.
func rootValue(r *rootsrc.Root) string {
	if r.Platform != "" && !r.IsImage() {
		return r.Platform + "=" + r.Name
	}
	return r.Name
}

// keepContents makes the contents of the root's files the layers copy
// readable (an image root's view keeps only the parts the loader reads):
// the files of items read from fsys, the root with mounts over it.
func keepContents(ctx context.Context, c *spec, fsys rootfs.FS, layers [][]closure.Item) error {
	if c.root == nil || !c.root.IsImage() {
		return nil
	}
	var paths []string
	for _, items := range layers {
		for _, it := range items {
			if it.Kind != closure.File || it.SourceFS == nil || it.SourceFS != fsys && it.SourceFS != c.root.FS || c.isMounted(it.SourcePath) {
				continue
			}
			paths = append(paths, it.SourcePath)
		}
	}
	if err := c.root.KeepContents(ctx, paths); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	return nil
}
