package closure

import (
	"archive/tar"

	"github.com/fromscratch/fromscratch/image"
)

// LayerNames describe the plan's layers in image histories, lowest first.
var LayerNames = [numLayers]string{"loader, C library and runtime files", "libraries", "program and files"}

// Spec turns items into the layer image.Layer writes, with the history
// entry createdBy.
func Spec(createdBy string, items []Item) image.LayerSpec {
	spec := image.LayerSpec{CreatedBy: createdBy, Entries: make([]image.Entry, 0, len(items))}
	for _, it := range items {
		e := image.Entry{Path: it.Path, Mode: it.Mode, UID: it.UID, GID: it.GID}
		switch it.Kind {
		case Dir:
			e.Type = tar.TypeDir
		case Symlink:
			e.Type = tar.TypeSymlink
			e.Linkname = it.Target
		default:
			e.Type = tar.TypeReg
			e.Source, e.Data, e.SourceFS = it.SourcePath, it.Data, it.SourceFS
		}
		spec.Entries = append(spec.Entries, e)
	}
	return spec
}
