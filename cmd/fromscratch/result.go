package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fromscratch/fromscratch/builder"
	"github.com/fromscratch/fromscratch/publish"
)

// resultJSON is what build, squash and slim print with --json, on stdout
// in place of the digest line.
type resultJSON struct {
	Tag       string `json:"tag"`
	Digest    string `json:"digest"`              // of the image, or of the index
	Reference string `json:"reference,omitempty"` // pushed: REPO:TAG@DIGEST
	Platform  string `json:"platform,omitempty"`
	Layers    int    `json:"layers"`
	Files     int    `json:"files"`
	// Size is the bytes of the regular files, uncompressed.
	Size     int64        `json:"size"`
	Excluded []string     `json:"excluded,omitempty"`
	Images   []resultJSON `json:"images,omitempty"` // an index's images, one per platform
	// Outputs are what each output wrote, in order: -o, --oci-layout, --push.
	Outputs []publish.Published `json:"outputs,omitempty"`
}

// printResult prints the digest line, the pushed reference (the last, if
// several: REPO:TAG@sha256:...) or else the digest, or with asJSON r
// completed with what the sinks wrote.
func printResult(w io.Writer, asJSON bool, pubs []publish.Published, r resultJSON) error {
	r.Digest, r.Outputs = pubs[0].Digest, pubs
	for _, p := range pubs {
		if p.Reference != "" {
			r.Reference = p.Reference
		}
	}
	if !asJSON {
		line := r.Digest
		if r.Reference != "" {
			line = r.Reference
		}
		_, err := fmt.Fprintln(w, line)
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// buildResult describes what build made.
func buildResult(res *builder.Result) resultJSON {
	r := resultJSON{Tag: res.Tag}
	for i, s := range res.Summaries {
		img := resultJSON{Platform: s.Platform, Layers: s.Layers, Files: s.Files, Size: s.Bytes, Excluded: s.Excluded}
		if d, err := res.Images[i].Digest(); err == nil {
			img.Digest = d.String()
		}
		if len(res.Summaries) == 1 {
			img.Tag = r.Tag
			return img
		}
		r.Files += s.Files
		r.Size += s.Bytes
		r.Images = append(r.Images, img)
	}
	return r
}

// platformOf is an image's os/arch[/variant], or "".
func platformOf(img v1.Image) string {
	cf, err := img.ConfigFile()
	if err != nil || cf.OS == "" {
		return ""
	}
	p := cf.OS + "/" + cf.Architecture
	if cf.Variant != "" {
		p += "/" + cf.Variant
	}
	return p
}

// goPlatforms names the platforms --go builds for: those asked, or the
// host's.
func goPlatforms(platforms []string) string {
	if len(platforms) == 0 {
		return "linux/" + runtime.GOARCH
	}
	return strings.Join(platforms, ", ")
}
