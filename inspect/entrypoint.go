package inspect

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/rootfs"
)

// Entrypoint is what the image's command (entrypoint and cmd) runs: its
// program found in the image and its kind.
type Entrypoint struct {
	Command     []string `json:"command"`
	Path        string   `json:"path,omitempty"`
	Kind        string   `json:"kind"` // static, dynamic, script, missing, not-executable, unknown, none
	Interpreter string   `json:"interpreter,omitempty"`
	Error       string   `json:"error,omitempty"`
}

// entrypointJSON is the name entrypointOf knows Entrypoint by (it moved
// here unchanged from the CLI).
type entrypointJSON = Entrypoint

// entrypointOf resolves the command's program in the image and says what
// it is.
func entrypointOf(view rootfs.FS, command, env []string) entrypointJSON {
	e := entrypointJSON{Command: command, Kind: "none"}
	if e.Command == nil {
		e.Command = []string{}
	}
	if len(command) == 0 {
		return e
	}
	prog := command[0]
	if !strings.Contains(prog, "/") {
		pathVar := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, "PATH="); ok {
				pathVar = v
			}
		}
		found := ""
		for _, d := range strings.Split(pathVar, ":") {
			p := path.Join("/", d, prog)
			if real, err := rootfs.Realpath(view, p); err == nil {
				if fi, err := view.Lstat(real); err == nil && fi.Mode().IsRegular() {
					found = p
					break
				}
			}
		}
		if found == "" {
			e.Kind, e.Error = "missing", fmt.Sprintf("%s not found in PATH %s", prog, pathVar)
			return e
		}
		prog = found
	}
	e.Path = path.Clean("/" + prog)
	real, err := rootfs.Realpath(view, e.Path)
	if err != nil {
		e.Kind, e.Error = "missing", describe(err)
		return e
	}
	fi, err := view.Lstat(real)
	if err != nil || !fi.Mode().IsRegular() {
		e.Kind, e.Error = "missing", "not a regular file"
		return e
	}
	if fi.Mode()&0o111 == 0 {
		e.Kind = "not-executable"
		return e
	}
	f, err := view.Open(real)
	if err != nil {
		e.Kind, e.Error = "unknown", describe(err)
		return e
	}
	defer f.Close()
	head := make([]byte, 256)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	switch {
	case strings.HasPrefix(string(head), "\x7fELF"):
		info, err := elfinfo.Read(f, fi.Size())
		if err != nil {
			e.Kind, e.Error = "unknown", describe(err)
			return e
		}
		if info.IsStatic() {
			e.Kind = "static"
		} else {
			e.Kind, e.Interpreter = "dynamic", info.Interp
		}
	case strings.HasPrefix(string(head), "#!"):
		line, _, _ := strings.Cut(string(head[2:]), "\n")
		e.Kind, e.Interpreter = "script", strings.TrimSpace(line)
	default:
		e.Kind, e.Error = "unknown", "neither an ELF file nor a #! script"
	}
	return e
}

// describe is the reason part of "FILE: reason".
func describe(err error) string {
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file or directory"
	case errors.As(err, &pe):
		return pe.Err.Error()
	}
	return err.Error()
}
