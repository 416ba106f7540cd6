package doctor

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/fromscratch/fromscratch/rootfs"
)

// rebuild is the rebuild of the image's program prog with what it needs,
// with the image's entrypoint and cmd, from its copy on the host when one
// is found (see Config.HostDir), or else from the image.
func (d *doc) rebuild(prog string, musl bool) *Rebuild {
	if d.fix != nil && d.fix.Program == prog {
		return d.fix
	}
	r := &Rebuild{Program: prog, Host: d.hostCopy(prog), Image: d.cfg.Image, Musl: musl}
	argv := append(slices.Clone(d.cfg.Entrypoint), d.cfg.Cmd...)
	switch ep := d.cfg.Entrypoint; {
	case len(ep) > 1 || len(ep) == 1 && ep[0] != prog:
		r.Entrypoint = ep
		if len(d.cfg.Cmd) > 0 {
			r.Cmd = d.cfg.Cmd
		}
	case len(argv) > 1:
		r.Cmd = argv[1:]
	}
	d.fix = r
	return r
}

// hostCopy returns a host file with the content of the image's file prog:
// the host's file at the same path, or the one of the same name in
// Config.HostDir; "" when there is none or HostDir is not set.
func (d *doc) hostCopy(prog string) string {
	if d.cfg.HostDir == "" {
		return ""
	}
	want, size, ok := digest(func() (io.ReadCloser, error) {
		real, err := rootfs.Realpath(d.fsys, prog)
		if err != nil {
			return nil, err
		}
		return d.fsys.Open(real)
	})
	if !ok {
		return ""
	}
	// The same path on the host, then the same name in HostDir, then any
	// file of HostDir (COPY hello /app).
	candidates := []string{prog, filepath.Join(d.cfg.HostDir, path.Base(prog))}
	if ents, err := os.ReadDir(d.cfg.HostDir); err == nil && len(ents) <= 10000 {
		for _, e := range ents {
			if e.Type().IsRegular() {
				candidates = append(candidates, filepath.Join(d.cfg.HostDir, e.Name()))
			}
		}
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); err != nil || fi.Size() != size || !fi.Mode().IsRegular() {
			continue
		}
		if got, _, ok := digest(func() (io.ReadCloser, error) { return os.Open(c) }); ok && bytes.Equal(got, want) {
			return c
		}
	}
	return ""
}

func digest(open func() (io.ReadCloser, error)) ([]byte, int64, bool) {
	f, err := open()
	if err != nil {
		return nil, 0, false
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, 0, false
	}
	return h.Sum(nil), n, true
}

func (d *doc) emulator(head []byte) string {
	if d.cfg.Binfmt == nil {
		return ""
	}
	return d.cfg.Binfmt(head)
}

// binfmtDir is where the kernel lists the binfmt_misc handlers.
const binfmtDir = "/proc/sys/fs/binfmt_misc"

// HostBinfmt names the enabled binfmt_misc handler of this host whose
// magic and mask match head (a file's first bytes), as the kernel matches
// them when it executes the file: "qemu-aarch64"; "" if none. Handlers
// that match on the file name (an extension) are not considered.
func HostBinfmt(head []byte) string {
	ents, err := os.ReadDir(binfmtDir)
	if err != nil {
		return ""
	}
	for _, e := range ents {
		if e.Name() == "register" || e.Name() == "status" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(binfmtDir, e.Name()))
		if err != nil || !strings.HasPrefix(string(b), "enabled") {
			continue
		}
		var magic, mask []byte
		offset := 0
		for _, l := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(l, " ")
			switch k {
			case "magic":
				magic, _ = hex.DecodeString(v)
			case "mask":
				mask, _ = hex.DecodeString(v)
			case "offset":
				offset, _ = strconv.Atoi(v)
			}
		}
		if len(magic) == 0 || offset+len(magic) > len(head) {
			continue
		}
		ok := true
		for i, m := range magic {
			k := byte(0xff)
			if i < len(mask) {
				k = mask[i]
			}
			if head[offset+i]&k != m&k {
				ok = false
				break
			}
		}
		if ok {
			return e.Name()
		}
	}
	return ""
}
