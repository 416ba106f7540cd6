package sbom

import (
	"archive/tar"
	"bytes"
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

// Sums says which checksums of the files are computed.
type Sums int

const (
	// AllSums are the SHA-256, SHA-1 and MD5 an SBOM lists.
	AllSums Sums = iota
	// MD5Only is what the package records need (their md5sums).
	MD5Only
)

// Files reads layers, bottom first, and returns the regular files of the
// filesystem they make (later layers over earlier ones, whiteouts applied;
// a hard link counts as the file it links to), sorted by path.
func Files(ctx context.Context, layers []v1.Layer) ([]File, error) {
	return FilesSums(ctx, layers, AllSums)
}

// FilesSums is Files with only the checksums sums asks for.
func FilesSums(ctx context.Context, layers []v1.Layer, sums Sums) ([]File, error) {
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
				f, err := hashFile(name, tr, sums)
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
func hashFile(name string, r io.Reader, sums Sums) (*File, error) {
	h5 := md5.New()
	if sums == MD5Only {
		n, err := io.Copy(h5, r)
		if err != nil {
			return nil, err
		}
		return &File{Path: name, Size: n, MD5: hex.EncodeToString(h5.Sum(nil))}, nil
	}
	h256, h1 := sha256.New(), sha1.New()
	n, err := io.Copy(io.MultiWriter(h256, h1, h5), r)
	if err != nil {
		return nil, err
	}
	return &File{Path: name, Size: n, SHA256: hex.EncodeToString(h256.Sum(nil)),
		SHA1: hex.EncodeToString(h1.Sum(nil)), MD5: hex.EncodeToString(h5.Sum(nil))}, nil
}

// dataFile is the File of generated content, with every checksum.
func dataFile(name string, data []byte) File {
	f, _ := hashFile(name, bytes.NewReader(data), AllSums)
	return *f
}
