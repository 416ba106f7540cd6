package builder

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/program"
	"github.com/fromscratch/fromscratch/rootfs"
	"github.com/fromscratch/fromscratch/rootsrc"
)

// The runtime files of every image: a root and a nonroot user, name
// service from files only.
const (
	passwd   = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group    = "root:x:0:\nnonroot:x:65532:\n"
	nsswitch = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n"
	caBundle = "/etc/ssl/certs/ca-certificates.crt"
	zoneinfo = "/usr/share/zoneinfo"
	nonroot  = "65532:65532"
)

// spec is what every image of one build shares.
type spec struct {
	adds  []closure.Input // --add files
	extra []closure.Item  // generated files
	base  []closure.Input // --ca-certs, --tzdata
	// optional are the base paths a --go image has by default: left out,
	// with a warning, when the root lacks them.
	optional map[string]bool
	env      []string
	cfg      image.Config // entrypoint, cmd, labels, workdir, user
	// root is the root the files come from; mounted are the destinations
	// of the host files mounted over it (--add).
	root    *rootsrc.Root
	mounted []string
}

// isMounted reports whether p is at or under a host mount over the root.
func (c *spec) isMounted(p string) bool {
	for _, m := range c.mounted {
		if p == m || strings.HasPrefix(p, m+"/") {
			return true
		}
	}
	return false
}

func commonSpec(o *Options, host rootfs.FS) (*spec, error) {
	c := &spec{}
	for _, a := range o.Add {
		if a.Src == "" || !path.IsAbs(a.Dst) {
			return nil, &OptionError{Option: "Add", Value: a.Src + ":" + a.Dst, Err: ErrSyntax}
		}
		abs, err := filepath.Abs(a.Src)
		if err != nil {
			return nil, &OptionError{Option: "Add", Value: a.Src, Err: err}
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, &FileError{Path: a.Src, Err: err}
		}
		c.adds = append(c.adds, closure.Input{Path: rootfs.Clean(a.Dst), FS: host, SourcePath: abs, Layer: closure.LayerApp})
	}
	c.env = []string{"PATH=" + program.DefaultPath}
	c.extra = []closure.Item{
		{Path: "/etc/passwd", Kind: closure.File, Mode: 0o644, Data: []byte(passwd)},
		{Path: "/etc/group", Kind: closure.File, Mode: 0o644, Data: []byte(group)},
		{Path: "/etc/nsswitch.conf", Kind: closure.File, Mode: 0o644, Data: []byte(nsswitch)},
		{Path: "/tmp", Kind: closure.Dir, Mode: 0o777 | fs.ModeSticky},
		{Path: "/home/nonroot", Kind: closure.Dir, Mode: 0o700, UID: 65532, GID: 65532},
	}
	c.optional = map[string]bool{}
	goCA := o.GoPackage != "" && !o.NoCACerts && !o.CACerts
	goTZ := o.GoPackage != "" && !o.NoTzdata && !o.Tzdata
	if o.CACerts || goCA {
		c.base = append(c.base, closure.Input{Path: caBundle, Layer: closure.LayerBase})
		c.env = append(c.env, "SSL_CERT_FILE="+caBundle)
		c.optional[caBundle] = goCA
	}
	if o.Tzdata || goTZ {
		c.base = append(c.base, closure.Input{Path: zoneinfo, Layer: closure.LayerBase})
		c.optional[zoneinfo] = goTZ
	}
	for _, e := range o.Env {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" {
			return nil, &OptionError{Option: "Env", Value: e, Err: ErrSyntax}
		}
		c.env = setEnv(c.env, e)
	}
	c.cfg = image.Config{WorkingDir: o.WorkingDir, User: o.User, OS: "linux", Labels: maps.Clone(o.Labels),
		Entrypoint: o.Entrypoint, Cmd: o.Cmd}
	if c.cfg.WorkingDir == "" {
		c.cfg.WorkingDir = "/"
	}
	if c.cfg.User == "" {
		c.cfg.User = nonroot
	}
	if isRoot(c.cfg.User) {
		// The HOME Docker gives root: a program writes its dotfiles there.
		c.extra = append(c.extra, closure.Item{Path: "/root", Kind: closure.Dir, Mode: 0o700})
	}
	if c.cfg.Labels == nil {
		c.cfg.Labels = map[string]string{}
	}
	return c, nil
}

// extraFor is the generated files of j's image: a job whose run read
// /etc/passwd or /etc/group gets the root's system accounts in them too, as
// the run found them (imageView).
func (c *spec) extraFor(fsys rootfs.FS, j job) []closure.Item {
	if !j.accounts {
		return c.extra
	}
	users, groups := systemAccounts(fsys)
	extra := slices.Clone(c.extra)
	for i, it := range extra {
		switch it.Path {
		case "/etc/passwd":
			extra[i].Data = []byte(passwd + users)
		case "/etc/group":
			extra[i].Data = []byte(group + groups)
		}
	}
	return extra
}

// checkBase refuses a --ca-certs or --tzdata path the root lacks, naming
// it and the flag; one a --go image has by default is left out, with a
// warning.
func checkBase(fsys rootfs.FS, root string, c *spec) ([]string, error) {
	var warnings []string
	base := c.base[:0]
	for _, in := range c.base {
		_, err := rootfs.Realpath(fsys, in.Path)
		if err == nil {
			base = append(base, in)
			continue
		}
		option, pkg := "CACerts", "ca-certificates"
		if in.Path == zoneinfo {
			option, pkg = "Tzdata", "tzdata"
		}
		where := ""
		if root != "/" {
			where = " in the root " + root
		}
		if !c.optional[in.Path] {
			return nil, &OptionError{Option: option, Err: &RootFileError{Root: root, Path: in.Path, Package: pkg, Err: err}}
		}
		warnings = append(warnings, fmt.Sprintf("no %s%s: the image has none (install %s there)", in.Path, where, pkg))
		if in.Path == caBundle {
			c.env = slices.DeleteFunc(c.env, func(e string) bool { return strings.HasPrefix(e, "SSL_CERT_FILE=") })
		}
	}
	c.base = base
	return warnings, nil
}

func setEnv(env []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}
