package builder

import (
	"io"
	"path"
	"time"

	"github.com/fromscratch/fromscratch/image"
	"github.com/fromscratch/fromscratch/rootsrc"
)

// GoBinDir is where a Go program built with Options.GoPackage goes.
const GoBinDir = "/usr/local/bin"

// Options say what to build. The zero value of each field is its default,
// except where said.
type Options struct {
	// Roots are the root filesystems Program, Files and the libraries
	// come from, a directory or an image opened by rootsrc.Open (none: the
	// host's "/"); Build reads them, and the images it returns read an
	// image root's view when written: close the roots after writing the
	// images. When the root is
	// "/", relative paths are taken from the current directory. An image
	// root is read without extracting it: the files the image takes are
	// copied out of its layers. A root's Platform, when set, is the one its
	// program must be (as Platforms). Several roots build one image of
	// Program each, combined in an index (not with GoPackage, Platforms or
	// Archive); no two may be of one platform.
	Roots []*rootsrc.Root
	// Program is the entrypoint's program, a path in the root; Files are
	// other files of the root to add with their dependencies. Exactly one of
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
	// without its contents ("DIR/*": with its direct entries, each as a
	// used path, see NamesListed), a file with its ELF closure, with the
	// symbolic links on the way. The files the image generates
	// (/etc/passwd, /etc/group, /etc/nsswitch.conf) and paths under /tmp
	// are left out (a listed /etc/passwd or /etc/group gives the image's
	// the root's system accounts too); a path in the tree of a relative
	// Program is under AppDir, as the program is. A path the root lacks is
	// ErrMissing unless AllowMissing.
	Paths []string
	// Traces are argument lists: the entrypoint is run with each under
	// the tracer (in the root, which must be a directory, in WorkingDir,
	// with the image's environment) before the image is planned, and the
	// paths each run used are added as Paths are. TraceTimeout ends a run that takes longer (0: none);
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
	// Packages adds every file of the packages that own the closure's
	// files (but documentation: usr/share/doc, man, info and locale,
	// unless PackageDocs), with what those files need; PackageNames adds
	// the packages named (NAME or NAME:ARCH) with their Depends and
	// Pre-Depends closure. Summary.Packages says what each brought.
	Packages     bool
	PackageNames []string
	PackageDocs  bool
	// PackageRecords adds a top layer with the records of the root's
	// packages the image holds files of (see package sbom), so scanners
	// find them; SBOM lists the image's files and packages in
	// Result.SBOMs. Both read the root's package database.
	PackageRecords bool
	SBOM           bool
	// Archive, when not nil, receives the layers as they are made (one
	// image only): the caller commits it with the image, or aborts it.
	Archive *image.ArchiveWriter
}

// AddFile is a host file or directory to put in the image.
type AddFile struct {
	// Src is the host path, Dst the absolute path in the image.
	Src, Dst string
}

// root is the name of the one root of a build, for messages.
func (o *Options) root() string {
	if len(o.Roots) == 0 {
		return "/"
	}
	return o.Roots[0].Name
}

// rootPath names the path p of the one root for messages: ROOT/p for a
// directory, IMAGE:p for an image.
func (o *Options) rootPath(p string) string {
	if len(o.Roots) > 0 && o.Roots[0].IsImage() {
		return o.Roots[0].Name + ":" + path.Join("/", p)
	}
	return path.Join(o.root(), p)
}

// theRoot is the one root of a build: Roots[0], or the host's "/".
func (o *Options) theRoot() (*rootsrc.Root, error) {
	if len(o.Roots) > 0 {
		return o.Roots[0], nil
	}
	return rootsrc.Dir("/")
}
