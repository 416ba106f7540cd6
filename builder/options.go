package builder

import (
	"io"
	"time"

	"github.com/fromscratch/fromscratch/image"
)

// GoBinDir is where a Go program built with Options.GoPackage goes.
const GoBinDir = "/usr/local/bin"

// Options say what to build. The zero value of each field is its default,
// except where said.
type Options struct {
	// Root is the root filesystem directory Program, Files and the
	// libraries come from ("" is "/"). When it is "/", relative paths are
	// taken from the current directory.
	Root string
	// Program is the entrypoint's program, a path in Root; Files are
	// other files of Root to add with their dependencies. Exactly one of
	// Program and GoPackage is set.
	Program string
	Files   []string
	// GoPackage is a Go main package to build with the host's toolchain
	// (CGO_ENABLED=0) for each platform and put at GoBinDir/NAME; LDFlags
	// are added after "-s -w".
	GoPackage string
	LDFlags   string
	// Platforms are, for Program, the one platform it must be (default:
	// the program's); for GoPackage, the platforms to build (default: the
	// host's), one image each.
	Platforms []string

	// Paths are paths of the root that a run of the program used
	// (--files-from, a trace's list): each is added as it is, a directory
	// without its contents, a file with its ELF closure, with the
	// symbolic links on the way. The files the image generates
	// (/etc/passwd, /etc/group, /etc/nsswitch.conf) and paths under /tmp
	// are left out. A path the root lacks is ErrMissing unless AllowMissing.
	Paths []string
	// Traces are argument lists: the entrypoint is run with each under
	// the tracer (in Root, in WorkingDir, with the image's environment)
	// before the image is planned, and the paths each run used are added
	// as Paths are. TraceTimeout ends a run that takes longer (0: none);
	// TraceStdin is the runs' standard input (nil: none), TraceOutput
	// their standard output and error (nil: discarded).
	Traces       [][]string
	TraceTimeout time.Duration
	TraceStdin   io.Reader
	TraceOutput  io.Writer

	// Add are host files or directories added at their Dst with their ELF
	// dependencies.
	Add []AddFile
	// CACerts adds the root's CA bundle and sets SSL_CERT_FILE; Tzdata
	// adds the root's /usr/share/zoneinfo. A root without them is an
	// error.
	CACerts bool
	Tzdata  bool
	// NoCACerts and NoTzdata leave them out of a GoPackage image, which
	// has them by default (as ko's images do) when the root has them.
	NoCACerts bool
	NoTzdata  bool

	// Env are K=V variables, set over the default PATH.
	Env []string
	// Entrypoint defaults to Program; Cmd to none.
	Entrypoint []string
	Cmd        []string
	// WorkingDir defaults to "/"; User to "65532:65532" (nonroot).
	WorkingDir string
	User       string
	Labels     map[string]string

	// AllowMissing builds even when a library or the loader is not found
	// (Result.Warnings names them); HWCapsBaseline leaves out the
	// glibc-hwcaps variants of libraries; LDConfig searches the root's
	// ld.so.conf directories as if ldconfig had run.
	AllowMissing   bool
	HWCapsBaseline bool
	LDConfig       bool
	// Exclude are globs of paths to leave out (see closure.Options.Exclude).
	Exclude []string
	// NoCheck writes the image even when doctor says it would not start
	// (a broken image made on purpose); its problems become warnings.
	NoCheck bool

	// Debug adds a top layer with a static busybox at /busybox: one of
	// Busybox (host paths, one per architecture), or the root's
	// /bin/busybox. DebugTools, programs of the root looked up on its PATH
	// and added with the libraries they need, imply Debug.
	Debug      bool
	Busybox    []string
	DebugTools []string

	// Tag is the NAME:TAG of the result (default: the program's name,
	// ":latest").
	Tag string
	// Created is the time of every entry and of the image (the zero time
	// is the Unix epoch).
	Created time.Time
	// Level is the gzip level of the layers, 1 to 9; 0 is image.DefaultLevel.
	Level int
	// Uncompressed writes plain tar layers (see image.Options.Uncompressed).
	Uncompressed bool
	// Archive, when not nil, receives the layers as they are made (one
	// image only): the caller commits it with the image, or aborts it.
	Archive *image.ArchiveWriter
}

// AddFile is a host file or directory to put in the image.
type AddFile struct {
	// Src is the host path, Dst the absolute path in the image.
	Src, Dst string
}

func (o *Options) root() string {
	if o.Root == "" {
		return "/"
	}
	return o.Root
}
