package rootfs

import (
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// Mount puts Src of FS (a file or a directory) at Dst of an [Overlay].
type Mount struct {
	Dst string // absolute, clean
	FS  FS
	Src string // a path of FS
}

// Overlay is base with mounts on top, as an image built from base with
// files added at other paths (`build --add SRC:DST`) will hold them: a name
// at or under a mount's Dst is the mount's (the deepest one wins), any other
// name base's. The directories above a Dst that base lacks are there, empty
// but for the way down. Symbolic links are followed in the overlay, so a
// link in a mounted tree reaches what it would reach in the image.
func Overlay(base FS, mounts []Mount) FS {
	ms := slices.Clone(mounts)
	for i := range ms {
		ms[i].Dst = Clean(ms[i].Dst)
	}
	// Deepest first: the first match is the one that wins.
	slices.SortStableFunc(ms, func(a, b Mount) int { return len(b.Dst) - len(a.Dst) })
	return &overlay{base: base, mounts: ms}
}

type overlay struct {
	base   FS
	mounts []Mount
}

// where returns the FS and path that hold name.
func (o *overlay) where(name string) (FS, string) {
	name = Clean(name)
	for _, m := range o.mounts {
		if name == m.Dst {
			return m.FS, m.Src
		}
		if rest, ok := strings.CutPrefix(name, m.Dst+"/"); ok && m.Dst != "/" {
			return m.FS, path.Join(m.Src, rest)
		}
		if m.Dst == "/" {
			return m.FS, path.Join(m.Src, name)
		}
	}
	return o.base, name
}

// above reports whether name is a strict ancestor of a mount's Dst.
func (o *overlay) above(name string) bool {
	prefix := strings.TrimSuffix(Clean(name), "/") + "/"
	for _, m := range o.mounts {
		if len(m.Dst) > len(prefix) && strings.HasPrefix(m.Dst, prefix) {
			return true
		}
	}
	return false
}

// Lstat implements FS.
func (o *overlay) Lstat(name string) (fs.FileInfo, error) {
	fsys, p := o.where(name)
	fi, err := fsys.Lstat(p)
	switch base := path.Base(Clean(name)); {
	case err != nil && fsys == o.base && o.above(name):
		return dirInfo(base), nil
	case err == nil && fi.Name() != base: // a mount's top, named as at its source
		return renamed{fi, base}, nil
	}
	return fi, err
}

// renamed is a FileInfo under another name.
type renamed struct {
	fs.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }

// Readlink implements FS.
func (o *overlay) Readlink(name string) (string, error) {
	fsys, p := o.where(name)
	return fsys.Readlink(p)
}

// ReadDir implements FS: base's entries (if any) with the mounts just below
// name in place of base's of the same name.
func (o *overlay) ReadDir(name string) ([]fs.DirEntry, error) {
	name = Clean(name)
	fsys, p := o.where(name)
	ents, err := fsys.ReadDir(p)
	if fsys != o.base || !o.above(name) {
		return ents, err
	}
	byName := map[string]fs.DirEntry{}
	for _, e := range ents { // none when base lacks the directory
		byName[e.Name()] = e
	}
	prefix := strings.TrimSuffix(name, "/") + "/"
	for _, m := range o.mounts {
		rest, ok := strings.CutPrefix(m.Dst, prefix)
		if !ok || rest == "" {
			continue
		}
		child, _, _ := strings.Cut(rest, "/") // the next step down to m.Dst
		if fi, err := o.Lstat(prefix + child); err == nil {
			byName[child] = fs.FileInfoToDirEntry(fi)
		}
	}
	out := make([]fs.DirEntry, 0, len(byName))
	for _, e := range byName {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// Open implements FS: name is resolved in the overlay, then opened where
// it is.
func (o *overlay) Open(name string) (File, error) {
	real, err := Realpath(o, name)
	if err != nil {
		return nil, err
	}
	fsys, p := o.where(real)
	return fsys.Open(p)
}

// String implements FS.
func (o *overlay) String() string {
	var b strings.Builder
	b.WriteString(o.base.String())
	for _, m := range o.mounts {
		b.WriteString(" + " + m.Src + " at " + m.Dst)
	}
	return b.String()
}

// dirInfo describes a directory the overlay makes up on the way to a mount.
type dirInfo string

func (d dirInfo) Name() string       { return string(d) }
func (d dirInfo) Size() int64        { return 0 }
func (d dirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o755 }
func (d dirInfo) ModTime() time.Time { return time.Time{} }
func (d dirInfo) IsDir() bool        { return true }
func (d dirInfo) Sys() any           { return nil }
