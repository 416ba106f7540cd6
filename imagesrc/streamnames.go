package imagesrc

import (
	"bytes"
	"encoding/json"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// layerNames tells the layer files of an engine's save stream by their
// names, before their bytes come, so that a layer is read while it
// arrives rather than once it is in:
//   - an OCI layout (docker 25 and later) names an uncompressed layer
//     blobs/sha256/HEX, HEX its diff_id;
//   - docker 20.10 (and every engine before 25) stores layer i as
//     DIR/layer.tar, DIR the layer's legacy (v1) ID: a hash of DIR/json,
//     which the stream sends just before (VERSION, json, layer.tar: the
//     order of names), and of the layer's chain ID (see v1Layer).
//
// A blob told is still hashed as it passes (see spool): a reader gets
// its end only once its bytes hash to the diff_id. A legacy layer.tar is
// not hashed again (checked): the engine that writes that layout writes
// each layer from its layer store through moby's layer.TarStream, which
// fails at the end of a layer whose bytes do not hash to its diff_id, and
// it writes the whole image to a temporary directory before it sends the
// first byte, so a layer that does not match fails the request (an HTTP
// error, not a stream); the name binds the file to the layer's chain ID,
// and the config that arrives must hash to the image ID and list the
// engine's diff_ids (streamImage.final). A file not told (a compressed
// layer, another layout) is found by its hash once it is in.
type layerNames struct {
	diffIDs []v1.Hash
	byHex   map[string]v1.Hash
	chains  []string // chain IDs, bottom first
	dir     string   // DIR of the last DIR/json seen, and its content
	json    []byte
}

func newLayerNames(diffIDs []v1.Hash) *layerNames {
	n := &layerNames{diffIDs: diffIDs, byHex: map[string]v1.Hash{}}
	var chain string
	for i, d := range diffIDs {
		n.byHex[d.Hex] = d
		if i == 0 {
			chain = d.String()
		} else {
			chain = sha256Hash([]byte(chain + " " + d.String())).String()
		}
		n.chains = append(n.chains, chain)
	}
	return n
}

// seen notes a small regular file of the stream: a DIR/json is kept for
// the DIR/layer.tar that follows.
func (n *layerNames) seen(name string, content []byte) {
	if dir, base := path.Split(name); base == "json" && dir != "" {
		n.dir, n.json = dir, append(n.json[:0], content...)
	}
}

// layer returns the diff_id of the layer the file name holds, when its
// name and what came before tell it, and whether the engine checked its
// bytes against it (a legacy layer.tar, see layerNames).
func (n *layerNames) layer(name string) (d v1.Hash, checked, ok bool) {
	if hex, ok := strings.CutPrefix(name, "blobs/sha256/"); ok {
		d, ok := n.byHex[hex]
		return d, false, ok
	}
	dir, base := path.Split(name)
	if base != "layer.tar" || dir != n.dir {
		return v1.Hash{}, false, false
	}
	if i := v1Layer(n.json, strings.TrimSuffix(dir, "/"), n.chains); i >= 0 {
		return n.diffIDs[i], true, true
	}
	return v1.Hash{}, false, false
}

// v1Layer returns the index of the chain ID that makes js (a DIR/json of
// docker 20.10's save) hash to its "id", dir; -1 if none does. The legacy
// ID is moby's image/v1.CreateID: the SHA-256 of the layer's legacy
// config without "id", with "parent" as a digest ("sha256:HEX", where the
// file has HEX) and "layer_id" the chain ID, its keys sorted (a Go map's
// JSON). docker 20.10 sets "os" on the layers below the top after it
// hashed them: with and without it.
func v1Layer(js []byte, dir string, chains []string) int {
	var m map[string]json.RawMessage
	if json.Unmarshal(js, &m) != nil {
		return -1
	}
	var id string
	if json.Unmarshal(m["id"], &id) != nil || id != dir || len(id) != 64 {
		return -1
	}
	delete(m, "id")
	if p, ok := m["parent"]; ok {
		var hex string
		if json.Unmarshal(p, &hex) != nil {
			return -1
		}
		m["parent"], _ = json.Marshal("sha256:" + hex)
	}
	const idKey = `"layer_id":"sha256:`
	for _, dropOS := range []bool{false, true} {
		if dropOS {
			if _, ok := m["os"]; !ok {
				break
			}
			delete(m, "os")
		}
		m["layer_id"], _ = json.Marshal("sha256:" + strings.Repeat("0", 64))
		b, err := json.Marshal(m)
		// Keys after "layer_id" ("os", "parent", "variant") hold strings:
		// the last match is the top-level key.
		at := bytes.LastIndex(b, []byte(idKey))
		if err != nil || at < 0 {
			return -1
		}
		at += len(idKey)
		for i, c := range chains {
			hex, ok := strings.CutPrefix(c, "sha256:")
			if !ok || len(hex) != 64 {
				continue
			}
			copy(b[at:], hex)
			if sha256Hash(b).Hex == id {
				return i
			}
		}
	}
	return -1
}
