package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/fromscratch/fromscratch/ldso"
	"github.com/fromscratch/fromscratch/rootsrc"
)

type lddOptions struct {
	root        string
	libraryPath string
	hwcaps      string
	useConf     bool
	platform    string
	insecure    bool
	json        bool
	tree        bool
}

func newLddCmd() *cobra.Command {
	o := &lddOptions{}
	cmd := &cobra.Command{
		Use:   "ldd [flags] FILE...",
		Short: "List the libraries the dynamic loader would load, without running anything",
		Long: `ldd prints the shared libraries each FILE needs, exactly as glibc's (or musl's)
loader would find them, by reading ELF files instead of running them: safe on
untrusted files, and right for another root filesystem or architecture.

Exit status: 0 all found, 1 something not found, 2 a FILE could not be read.`,
		Example: `  # like glibc's ldd, without load addresses
  fromscratch ldd /usr/bin/curl

  # inside another root filesystem (paths are inside ROOT)
  fromscratch ldd --root /srv/arm64-root /usr/bin/curl

  # why each library was found, as a tree
  fromscratch ldd --tree /usr/bin/curl

  # for scripts
  fromscratch ldd --json /usr/bin/curl /usr/sbin/nginx | jq .`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLdd(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.root, "root", "/", "root filesystem to resolve FILEs and libraries in: a directory, or an image (docker-archive:PATH, oci-layout:DIR, docker-daemon:NAME, a registry reference; a bare name is looked for in the Docker engine first)")
	f.StringVar(&o.libraryPath, "library-path", "", "LD_LIBRARY_PATH to emulate (colon-separated)")
	f.StringVar(&o.hwcaps, "hwcaps", "", `glibc-hwcaps subdirectories to search, best first (e.g. "x86-64-v3,x86-64-v2"), "none", or "" for what this CPU supports`)
	f.BoolVar(&o.useConf, "ldconfig", false, "for a root without /etc/ld.so.cache, search its ld.so.conf directories as if ldconfig had run")
	f.StringVar(&o.platform, "platform", "", "with an image as --root: the platform to pick from a multi-platform image, e.g. linux/arm64")
	f.BoolVar(&o.insecure, "insecure", false, "with a registry image as --root: allow plain HTTP")
	f.BoolVar(&o.json, "json", false, "print a JSON array, one object per FILE")
	f.BoolVar(&o.tree, "tree", false, "print the dependency tree with how each library was found")
	return cmd
}

// lddJSON is the stable JSON shape of one FILE (see DESIGN.md).
type lddJSON struct {
	File             string         `json:"file"`
	Static           bool           `json:"static"`
	Interpreter      string         `json:"interpreter"`
	InterpreterFound *bool          `json:"interpreter_found,omitempty"`
	Flavor           string         `json:"loader,omitempty"`
	Libraries        []ldso.Library `json:"libraries"`
	Error            string         `json:"error,omitempty"`
}

func runLdd(ctx context.Context, stdout, stderr io.Writer, o *lddOptions, files []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	root, err := openRoot(ctx, o.root, rootsrc.Options{Platform: o.platform, Insecure: o.insecure}) // a directory or an image
	if err != nil {
		return err
	}
	defer root.Close()
	opts := ldso.Options{UseConf: o.useConf}
	if o.libraryPath != "" {
		opts.LibraryPath = strings.FieldsFunc(o.libraryPath, func(r rune) bool { return r == ':' || r == ';' })
	}
	switch o.hwcaps {
	case "":
	case "none":
		opts.HWCaps = []string{}
	default:
		opts.HWCaps = strings.Split(o.hwcaps, ",")
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f
		if o.root == "/" {
			if abs, err := filepath.Abs(f); err == nil {
				paths[i] = abs
			}
		} else {
			opts.WorkDir = "/"
		}
	}
	defer collectLess(len(paths))()
	r := ldso.New(root.FS, opts)
	results, errs := r.ResolveAll(paths)
	if err := ctx.Err(); err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("ldd: %v", err)} // interrupted: no partial answer
	}
	failed := false
	for _, err := range errs {
		failed = failed || err != nil
	}
	// The note is for results; a failure is one line and nothing more.
	if _, err := r.CacheStatus(); !failed && err != nil && errors.Is(err, fs.ErrNotExist) && o.root != "/" && !root.IsImage() {
		how := "only the default directories are searched, as the loader does (--ldconfig: as if ldconfig had run)"
		if o.useConf {
			how = "its ld.so.conf directories are searched as if ldconfig had run (--ldconfig)"
		}
		fmt.Fprintf(stderr, "fromscratch: note: %s has no /etc/ld.so.cache: %s\n", o.root, how)
	}

	code := 0
	for i, err := range errs {
		if err != nil {
			fmt.Fprintf(stderr, "fromscratch: %s: %s\n", files[i], describe(err))
			code = 2
		} else if code == 0 && results[i].Missing() {
			code = 1
		}
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	switch {
	case o.json:
		// One object a line.
		w.WriteString("[\n")
		writeJSON(w, files, results, errs)
		w.WriteString("]\n")
	default:
		for i, res := range results {
			if res == nil {
				continue
			}
			if o.tree {
				printTree(w, files[i], res)
				continue
			}
			if len(files) > 1 {
				fmt.Fprintf(w, "%s:\n", files[i])
			}
			printText(w, res)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// collectLess turns the garbage collector off until the memory in use grows
// by 64 MiB and 32 KiB a file to answer for, and returns the function that
// restores the collector's settings. Resolving keeps most of what it
// allocates (each file's answer, the parsed files, the directory listings)
// until the output is written: a collection finds little garbage, and over
// a whole system's files it cost a sixth of the CPU time.
func collectLess(files int) (restore func()) {
	// What the memory limit counts (see debug.SetMemoryLimit), without the
	// stop of the world of runtime.ReadMemStats.
	in := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(in)
	inUse := int64(in[0].Value.Uint64() - in[1].Value.Uint64())
	limit := inUse + 64<<20 + 32<<10*int64(files)
	prevLimit := debug.SetMemoryLimit(-1)
	if limit < prevLimit {
		prevPercent := debug.SetGCPercent(-1)
		debug.SetMemoryLimit(limit)
		return func() {
			debug.SetMemoryLimit(prevLimit)
			debug.SetGCPercent(prevPercent)
		}
	}
	return func() {}
}

// writeJSON writes the lines of the JSON array, one object a line. For a
// whole system this is megabytes: pieces of a few files are encoded
// concurrently and written in order, through a few recycled buffers.
func writeJSON(w io.Writer, files []string, results []*ldso.Result, errs []error) {
	const per = 16 // files a piece
	pieces := make([]chan *[]byte, (len(files)+per-1)/per)
	for k := range pieces {
		pieces[k] = make(chan *[]byte, 1)
	}
	workers := min(runtime.GOMAXPROCS(0), len(pieces))
	// A worker takes a buffer before it takes a piece, so the first piece
	// not yet written always has one: the writer never waits forever.
	free := make(chan *[]byte, 2*workers)
	for range cap(free) {
		b := make([]byte, 0, min(len(files), per)*2<<10) // a file's object is about 1.5 KiB
		free <- &b
	}
	var next atomic.Int64
	for range workers {
		go func() {
			for {
				b := <-free
				k := int(next.Add(1) - 1)
				if k >= len(pieces) {
					free <- b
					return
				}
				*b = (*b)[:0]
				for i := k * per; i < min((k+1)*per, len(files)); i++ {
					*b = appendJSON(*b, toJSON(files[i], results[i], errs[i]))
					if i < len(files)-1 {
						*b = append(*b, ',')
					}
					*b = append(*b, '\n')
				}
				pieces[k] <- b
			}
		}()
	}
	for _, c := range pieces {
		b := <-c
		w.Write(*b)
		free <- b
	}
}

func toJSON(file string, res *ldso.Result, err error) lddJSON {
	j := lddJSON{File: file, Libraries: []ldso.Library{}}
	if err != nil {
		j.Error = describe(err)
		return j
	}
	j.Static = res.Static
	if res.Static {
		return j
	}
	j.Interpreter = res.Interpreter
	j.Flavor = res.Flavor
	found := res.InterpreterFound
	j.InterpreterFound = &found
	if len(res.Libraries) > 0 {
		j.Libraries = res.Libraries
	}
	return j
}

// printText prints glibc ldd's lines, without load addresses.
func printText(w io.Writer, res *ldso.Result) {
	if res.Static {
		fmt.Fprintln(w, "\tstatically linked")
		return
	}
	interp := func() {
		if res.Interpreter == "" {
			return
		}
		if res.InterpreterFound {
			fmt.Fprintf(w, "\t%s\n", res.Interpreter)
		} else {
			fmt.Fprintf(w, "\t%s => not found\n", res.Interpreter)
		}
	}
	for i, l := range res.Libraries {
		if i == res.InterpreterIndex {
			interp()
		}
		if l.Found {
			fmt.Fprintf(w, "\t%s => %s\n", l.Name, l.Path)
		} else if l.Error != "" {
			fmt.Fprintf(w, "\t%s => not found (%s)\n", l.Name, l.Error)
		} else {
			fmt.Fprintf(w, "\t%s => not found\n", l.Name)
		}
	}
	if res.InterpreterIndex >= len(res.Libraries) {
		interp()
	}
}

// printTree prints each object's dependencies under it, expanding each
// object once.
func printTree(w io.Writer, file string, res *ldso.Result) {
	fmt.Fprintln(w, file)
	if res.Static {
		fmt.Fprintln(w, "└── statically linked")
		return
	}
	state := "found"
	if !res.InterpreterFound {
		state = "not found"
	}
	fmt.Fprintf(w, "├── interpreter %s (%s)\n", res.Interpreter, state)
	seen := map[int]bool{}
	var walk func(deps []int, names []string, prefix string)
	walk = func(deps []int, names []string, prefix string) {
		for i, d := range deps {
			last := i == len(deps)-1
			branch, next := "├── ", "│   "
			if last {
				branch, next = "└── ", "    "
			}
			name := ""
			if i < len(names) {
				name = names[i]
			}
			switch d {
			case ldso.DepInterpreter:
				fmt.Fprintf(w, "%s%s%s => %s [interpreter]\n", prefix, branch, name, res.Interpreter)
				continue
			case ldso.DepMain:
				fmt.Fprintf(w, "%s%s%s => %s [the program]\n", prefix, branch, name, file)
				continue
			}
			l := res.Libraries[d]
			if !l.Found {
				fmt.Fprintf(w, "%s%s%s => not found\n", prefix, branch, name)
				continue
			}
			if seen[d] {
				fmt.Fprintf(w, "%s%s%s => %s [%s, listed above]\n", prefix, branch, name, l.Path, l.Via)
				continue
			}
			seen[d] = true
			fmt.Fprintf(w, "%s%s%s => %s [%s]\n", prefix, branch, name, l.Path, l.Via)
			var sub []string
			if l.Info != nil {
				sub = l.Info.Needed
			}
			walk(l.Deps, sub, prefix+next)
		}
	}
	walk(res.Deps, res.Info.Needed, "")
}
