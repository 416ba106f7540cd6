package sbom

import (
	"archive/tar"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/imagefs"
	"github.com/fromscratch/fromscratch/pkgdb"
)

// File is one regular file of an image.
type File struct {
	Path              string // absolute, clean
	Size              int64
	SHA256, SHA1, MD5 string // hex
	// Package is the package that installed it, nil for a file no
	// package owns (the user's own, generated files, the records).
	Package *pkgdb.Package
}

// Files reads layers, bottom first, and returns the regular files of the
// filesystem they make (later layers over earlier ones, whiteouts applied;
// a hard link counts as the file it links to), sorted by path.
func Files(ctx context.Context, layers []v1.Layer) ([]File, error) {
	files := map[string]*File{}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		err = imagefs.WalkTar(rc, func(_ int, hdr *tar.Header, tr *tar.Reader) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			name, err := imagefs.CleanName(hdr.Name)
			if err != nil || name == "/" {
				return nil
			}
			dir, base := path.Split(name)
			if base == ".wh..wh..opq" {
				d := path.Clean(dir)
				for p := range files {
					if strings.HasPrefix(p, d+"/") {
						delete(files, p)
					}
				}
				return nil
			}
			if strings.HasPrefix(base, ".wh.") {
				gone := path.Join(dir, strings.TrimPrefix(base, ".wh."))
				delete(files, gone)
				for p := range files {
					if strings.HasPrefix(p, gone+"/") {
						delete(files, p)
					}
				}
				return nil
			}
			switch hdr.Typeflag {
			case tar.TypeReg:
				f, err := hashFile(name, tr)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				files[name] = f
			case tar.TypeLink:
				target, err := imagefs.CleanName(hdr.Linkname)
				if err != nil {
					return nil
				}
				if t, ok := files[target]; ok {
					c := *t
					c.Path = name
					files[name] = &c
				}
			default:
				// A directory, link or device replaces a file there.
				delete(files, name)
			}
			return nil
		})
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
	}
	out := make([]File, 0, len(files))
	for _, f := range files {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// hashFile reads r whole and returns the file's checksums.
func hashFile(name string, r io.Reader) (*File, error) {
	h256, h1, h5 := sha256.New(), sha1.New(), md5.New()
	n, err := io.Copy(io.MultiWriter(h256, h1, h5), r)
	if err != nil {
		return nil, err
	}
	return &File{Path: name, Size: n, SHA256: hex.EncodeToString(h256.Sum(nil)),
		SHA1: hex.EncodeToString(h1.Sum(nil)), MD5: hex.EncodeToString(h5.Sum(nil))}, nil
}

// dataFile is the File of generated content.
func dataFile(name string, data []byte) File {
	f, _ := hashFile(name, strings.NewReader(string(data)))
	return *f
}
