package tracer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
)

// MaxList bounds a list read by ReadList (64 MiB): a list is written by
// a person or a trace, not a data set.
const MaxList = 64 << 20

// ReadList reads a list of paths, as `fromscratch trace` writes it: one
// absolute path a line, blank lines and lines starting with # ignored
// (the header and the paths that were not found are such comments). The
// JSON form (`trace --json`: an object with "accesses") is read too,
// taking the paths that were found. Paths are cleaned; each comes once,
// in the order of the list.
func ReadList(r io.Reader) ([]string, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxList+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxList {
		return nil, fmt.Errorf("longer than %d MiB", MaxList>>20)
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		var doc struct {
			Accesses []Access `json:"accesses"`
		}
		if err := json.Unmarshal(t, &doc); err != nil {
			return nil, fmt.Errorf("not a trace's JSON: %v", err)
		}
		var paths []string
		for _, a := range doc.Accesses {
			if a.Found {
				paths = append(paths, a.Path)
			}
		}
		return dedupe(paths)
	}
	var paths []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), MaxList)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if !strings.HasPrefix(s, "/") {
			return nil, fmt.Errorf("line %d: %q is not an absolute path", line, s)
		}
		paths = append(paths, s)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return dedupe(paths)
}

func dedupe(paths []string) ([]string, error) {
	seen := make(map[string]bool, len(paths))
	out := paths[:0]
	for _, p := range paths {
		if !path.IsAbs(p) || strings.ContainsRune(p, 0) {
			return nil, fmt.Errorf("%q is not an absolute path", p)
		}
		p = path.Clean(p)
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}
