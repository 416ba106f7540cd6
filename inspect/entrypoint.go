package inspect

import (
	"strings"

	"github.com/fromscratch/fromscratch/program"
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

// entrypointOf resolves the command's program in the image as it starts
// (program.Resolve) and says what it is.
func entrypointOf(view rootfs.FS, command, env []string) Entrypoint {
	e := Entrypoint{Command: command, Kind: "none"}
	if e.Command == nil {
		e.Command = []string{}
	}
	if len(command) == 0 {
		return e
	}
	ex, err := program.Resolve(view, command, env)
	if ee, ok := err.(*program.ExecError); ok && len(ex.Files) == 0 {
		if ee.SearchPath == "" {
			e.Path = ee.Path
		}
		switch kind := ee.Kind(); {
		case kind == program.ErrNotExecutable && ee.Mode.IsRegular():
			e.Kind = "not-executable"
		case kind == program.ErrNotFound && e.Path == "":
			e.Kind, e.Error = "missing", ee.Error()
		case kind == program.ErrNotFound, kind == program.ErrNotExecutable:
			e.Kind, e.Error = "missing", ee.Reason()
		default:
			e.Kind, e.Error = "unknown", ee.Reason()
		}
		return e
	}
	f := ex.Files[0]
	e.Path = f.Path
	switch {
	case f.Script != nil:
		e.Kind, e.Interpreter = "script", strings.TrimSpace(f.Script.Interpreter+" "+f.Script.Arg)
	case program.Static(f.ELF):
		e.Kind = "static"
	default:
		e.Kind, e.Interpreter = "dynamic", f.ELF.Interp
	}
	return e
}
