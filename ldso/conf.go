package ldso

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/fromscratch/fromscratch/rootfs"
)

// Limits on what ReadConf reads, far above any real configuration.
const (
	maxConfFileSize = 1 << 20  // one file
	maxConfFiles    = 4096     // files read, included ones too
	maxConfBytes    = 64 << 20 // all files together
)

// errConfTooLarge is returned when the include graph exceeds the limits.
var errConfTooLarge = errors.New("configuration too large")

// ReadConf returns the library directories named by the ld.so.conf at name
// inside fsys, in order, following "include GLOB" lines, as glibc's
// ldconfig reads them (elf/ldconfig.c parse_conf, parse_conf_include and
// add_dir_1; checked against ldconfig 2.36):
//
//   - A '#' starts a comment anywhere; leading white space is skipped and
//     blank lines are ignored.
//   - "include" followed by a space or a tab names one or more glob patterns
//     separated by spaces or tabs. A relative pattern is relative to the
//     directory of the including file; the matches are read in sorted order,
//     and, as with glob(3), a wildcard does not match a leading '.'.
//     Includes nest; a file already read is not read again, which also ends
//     include loops (ldconfig itself recurses until it fails). A pattern
//     that matches nothing, or a file that cannot be read, is skipped.
//   - A line starting with "hwcap" (any case) and a space or tab is ignored.
//   - Any other line is one directory, white space and all: ldconfig does
//     not split lines on spaces, ':' or ','. A "=TYPE" suffix (such as
//     "=libc6") is dropped, then trailing white space, then trailing
//     slashes; a line left empty (such as "/") names nothing.
//
// Duplicates are removed by name, keeping the first. Unlike ldconfig,
// ReadConf does not drop directories that do not exist nor merge two names
// of one directory (ldconfig compares device and inode): callers can do
// both with [rootfs.Realpath]. Neither does it add the directories ldconfig
// always scans after the file's (its built-in SLIBDIR and LIBDIR).
//
// A missing top-level file gives (nil, error wrapping fs.ErrNotExist).
func ReadConf(fsys rootfs.FS, name string) ([]string, error) {
	r := &confReader{fsys: fsys, read: map[string]bool{}, seen: map[string]bool{}}
	name = rootfs.Clean(name)
	b, _, err := r.readFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading ld.so.conf %s: %w", name, err)
	}
	if err := r.parse(name, b); err != nil {
		return nil, fmt.Errorf("reading ld.so.conf %s: %w", name, err)
	}
	return r.dirs, nil
}

// confReader holds the state of one ReadConf.
type confReader struct {
	fsys  rootfs.FS
	read  map[string]bool // files read, by real path
	seen  map[string]bool // directories returned
	dirs  []string
	files int
	bytes int64
}

// readFile reads one configuration file, counting it against the limits;
// fresh is false, and b nil, for a file read already.
func (r *confReader) readFile(name string) (b []byte, fresh bool, err error) {
	key := name
	if real, err := rootfs.Realpath(r.fsys, name); err == nil {
		key = real
	}
	if r.read[key] {
		return nil, false, nil
	}
	r.read[key] = true
	if r.files++; r.files > maxConfFiles {
		return nil, true, fmt.Errorf("%w: more than %d files", errConfTooLarge, maxConfFiles)
	}
	b, err = rootfs.ReadFile(r.fsys, name, maxConfFileSize)
	if err != nil {
		return nil, true, err
	}
	if r.bytes += int64(len(b)); r.bytes > maxConfBytes {
		return nil, true, fmt.Errorf("%w: more than %d bytes", errConfTooLarge, maxConfBytes)
	}
	return b, true, nil
}

// parse reads the lines of the file name, whose contents are b.
func (r *confReader) parse(name string, b []byte) error {
	for line := range strings.SplitSeq(string(b), "\n") {
		if i := strings.IndexByte(line, 0); i >= 0 { // C strings end there
			line = line[:i]
		}
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimLeft(line, confSpace)
		switch {
		case line == "":
		case strings.HasPrefix(line, "include") && len(line) > 7 && isConfBlank(line[7]):
			for _, pattern := range strings.FieldsFunc(line[8:], func(c rune) bool { return c == ' ' || c == '\t' }) {
				if err := r.include(name, pattern); err != nil {
					return err
				}
			}
		case len(line) > 5 && strings.EqualFold(line[:5], "hwcap") && isConfBlank(line[5]):
			// ldconfig warns "hwcap directive ignored".
		default:
			r.addDir(line)
		}
	}
	return nil
}

// confSpace is what C's isspace accepts.
const confSpace = " \t\n\v\f\r"

// isConfBlank is C's isblank.
func isConfBlank(c byte) bool { return c == ' ' || c == '\t' }

// addDir adds the directory of one line (add_dir_1).
func (r *confReader) addDir(line string) {
	dir, _, _ := strings.Cut(line, "=")
	dir = strings.TrimRight(dir, confSpace)
	dir = strings.TrimRight(dir, "/")
	if dir == "" || r.seen[dir] {
		return
	}
	r.seen[dir] = true
	r.dirs = append(r.dirs, dir)
}

// include reads the files matching pattern, met in the file from.
func (r *confReader) include(from, pattern string) error {
	if !strings.HasPrefix(pattern, "/") {
		pattern = path.Dir(from) + "/" + pattern
	}
	pattern = r.resolvePrefix(pattern)
	matches, err := rootfs.Glob(r.fsys, pattern)
	if err != nil {
		return nil // a malformed pattern matches nothing
	}
	for _, m := range matches {
		if hiddenGlobMatch(pattern, m) {
			continue
		}
		b, fresh, err := r.readFile(m)
		if errors.Is(err, errConfTooLarge) {
			return err
		}
		if err != nil || !fresh {
			continue // unreadable (ldconfig warns), or read already
		}
		if err := r.parse(m, b); err != nil {
			return err
		}
	}
	return nil
}

// resolvePrefix resolves the components of pattern before its first
// wildcard, symbolic links and ".." included, as glob(3) and the kernel do
// (rootfs.Glob would drop "dir/.." lexically, which differs when dir is a
// symbolic link). A prefix that does not resolve is left as it is: it
// matches nothing.
func (r *confReader) resolvePrefix(pattern string) string {
	comps := strings.Split(pattern, "/")
	i := 1
	for i < len(comps) && !strings.ContainsAny(comps[i], `*?[\`) {
		i++
	}
	if i == 1 {
		return pattern
	}
	real, err := rootfs.Realpath(r.fsys, strings.Join(comps[:i], "/"))
	if err != nil {
		return pattern
	}
	return path.Join(append([]string{real}, comps[i:]...)...)
}

// hiddenGlobMatch reports whether match, found by pattern, has a name
// starting with '.' where the pattern's component starts with a wildcard:
// glob(3) without GLOB_PERIOD does not return those.
func hiddenGlobMatch(pattern, match string) bool {
	pc := strings.Split(rootfs.Clean(pattern), "/")
	mc := strings.Split(rootfs.Clean(match), "/")
	if len(pc) != len(mc) {
		return false
	}
	for i, p := range pc {
		if strings.HasPrefix(mc[i], ".") && !strings.HasPrefix(p, ".") && !strings.HasPrefix(p, `\.`) &&
			strings.ContainsAny(p, `*?[`) {
			return true
		}
	}
	return false
}
