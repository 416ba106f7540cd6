package program

import (
	"path"
	"strings"

	"github.com/fromscratch/fromscratch/rootfs"
)

// DefaultPath is the PATH Docker (and containerd) sets for a container
// whose image sets none, and the one fromscratch writes in the images it
// builds.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// PathOf is the PATH of the environment env, or DefaultPath when it has
// none.
func PathOf(env []string) string {
	if v, ok := lookupEnv(env, "PATH"); ok {
		return v
	}
	return DefaultPath
}

// LookPath finds the program name as the container runtime does for a
// command run with the environment env: a name with a "/" is kept as it
// is (cleaned, from "/" when relative); else the first PATH directory
// holding name as a regular file with an execute bit (symbolic links
// followed inside fsys). The error wraps ErrNotFound.
func LookPath(fsys rootfs.FS, name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return rootfs.Clean(name), nil
	}
	pathv := PathOf(env)
	if p, ok := lookPath(fsys, name, pathv); ok {
		return p, nil
	}
	return "", &ExecError{Path: name, Role: Command, SearchPath: pathv, Err: ErrNotFound}
}

// lookPath searches the absolute directories of pathv.
func lookPath(fsys rootfs.FS, name, pathv string) (string, bool) {
	for _, dir := range strings.Split(pathv, ":") {
		if !path.IsAbs(dir) {
			continue // "" and relative entries: the runtime does not search the working directory
		}
		p := path.Join(dir, name)
		real, err := rootfs.Realpath(fsys, p)
		if err != nil {
			continue
		}
		if fi, err := fsys.Lstat(real); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}
