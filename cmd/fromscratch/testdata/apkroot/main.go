// Command apkroot makes an Alpine-like root with a real apk database: it
// packs host files into .apk packages (an unsigned control and data gzip
// stream each, as abuild writes them) and installs them with go-apk, the
// apk implementation apko builds Alpine and Wolfi images with, which
// writes lib/apk/db/installed. TestApkRoot uses it; no Alpine package can
// be had here, so the packages are made of Debian's musl and a program
// built with musl-gcc.
//
//	apkroot ROOT NAME:VERSION:LICENSE:DST=SRC[,DST=SRC...] ...
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/chainguard-dev/go-apk/pkg/apk"
	apkfs "github.com/chainguard-dev/go-apk/pkg/fs"
)

type local struct{ name, url string }

func (l local) URL() string            { return l.url }
func (l local) PackageName() string    { return l.name }
func (l local) ChecksumString() string { return "" }

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: apkroot ROOT NAME:VERSION:LICENSE:DST=SRC[,DST=SRC...] ...")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "apkroot:", err)
		os.Exit(1)
	}
}

func run(root string, specs []string) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "apkroot-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var pkgs []apk.InstallablePackage
	var names []string
	for _, s := range specs {
		f := strings.SplitN(s, ":", 4)
		if len(f) != 4 {
			return fmt.Errorf("%q: want NAME:VERSION:LICENSE:DST=SRC,...", s)
		}
		file := filepath.Join(tmp, f[0]+"-"+f[1]+".apk")
		if err := pack(file, f[0], f[1], f[2], strings.Split(f[3], ",")); err != nil {
			return fmt.Errorf("%s: %w", f[0], err)
		}
		pkgs = append(pkgs, local{f[0], file})
		names = append(names, f[0])
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	a, err := apk.New(apk.WithFS(apkfs.DirFS(root)), apk.WithArch("x86_64"), apk.WithIgnoreMknodErrors(true))
	if err != nil {
		return err
	}
	if err := a.InitDB(ctx); err != nil {
		return fmt.Errorf("init db: %w", err)
	}
	if err := a.SetWorld(ctx, names); err != nil {
		return err
	}
	if err := a.InstallPackages(ctx, nil, pkgs); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	// What scanners read to name the distribution.
	return os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.0\nPRETTY_NAME=\"Alpine Linux v3.20\"\n"), 0o644)
}

// pack writes an unsigned .apk: a gzip stream of the control tar
// (.PKGINFO), then one of the data tar, each file with its SHA-1 in the
// APK-TOOLS.checksum.SHA1 PAX record as abuild-tar writes it.
func pack(out, name, version, license string, files []string) error {
	var data bytes.Buffer
	zw := gzip.NewWriter(&data)
	tw := tar.NewWriter(zw)
	dirs := map[string]bool{}
	size := 0
	for _, ds := range files {
		dst, src, ok := strings.Cut(ds, "=")
		if !ok {
			return fmt.Errorf("%q: want DST=SRC", ds)
		}
		dst = strings.TrimPrefix(path.Clean(dst), "/")
		for d := path.Dir(dst); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		size += len(b)
		fi, err := os.Stat(src)
		if err != nil {
			return err
		}
		sum := sha1.Sum(b)
		if err := writeDirs(tw, dirs); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: dst, Typeflag: tar.TypeReg, Mode: int64(fi.Mode().Perm()), Size: int64(len(b)), Format: tar.FormatPAX,
			PAXRecords: map[string]string{"APK-TOOLS.checksum.SHA1": hex.EncodeToString(sum[:])}}); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	info := fmt.Sprintf("pkgname = %s\npkgver = %s\npkgdesc = %s for fromscratch's tests\nurl = https://example.org/\narch = x86_64\nsize = %d\norigin = %s\nlicense = %s\n",
		name, version, name, size, name, license)
	var ctl bytes.Buffer
	cw := gzip.NewWriter(&ctl)
	ct := tar.NewWriter(cw)
	if err := ct.WriteHeader(&tar.Header{Name: ".PKGINFO", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(info))}); err != nil {
		return err
	}
	if _, err := ct.Write([]byte(info)); err != nil {
		return err
	}
	if err := ct.Close(); err != nil {
		return err
	}
	if err := cw.Close(); err != nil {
		return err
	}
	return os.WriteFile(out, append(ctl.Bytes(), data.Bytes()...), 0o644)
}

// writeDirs writes the directories not yet written, parents first.
func writeDirs(tw *tar.Writer, dirs map[string]bool) error {
	var todo []string
	for d, pending := range dirs {
		if pending {
			todo = append(todo, d)
		}
	}
	for len(todo) > 0 {
		best := 0
		for i, d := range todo {
			if len(d) < len(todo[best]) {
				best = i
			}
		}
		d := todo[best]
		todo = append(todo[:best], todo[best+1:]...)
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			return err
		}
		dirs[d] = false
	}
	return nil
}
