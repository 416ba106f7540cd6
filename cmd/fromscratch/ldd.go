package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

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

Exit status: 0 all found, 1 something not found, 2 bad usage or a FILE that
could not be used (one line on stderr; the other FILEs are still reported).`,
		Example: `  # like glibc's ldd, without load addresses
  fromscratch ldd /usr/bin/curl

  # inside another root filesystem (paths are inside ROOT)
  fromscratch ldd --root /srv/arm64-root /usr/bin/curl

  # why each library was found, as a tree
  fromscratch ldd --tree /usr/bin/curl

  # for scripts
  fromscratch ldd --json /usr/bin/curl /usr/sbin/nginx | jq .`,
		Args: wantArgs(1, -1, "at least one FILE"),
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
type lddJSON = ldso.JSON

func runLdd(ctx context.Context, stdout, stderr io.Writer, o *lddOptions, files []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	root, err := openRoot(ctx, o.root, rootsrc.Options{Platform: o.platform, Insecure: o.insecure}) // a directory or an image
	if err != nil {
		return err
	}
	defer root.Close()
	opts, paths := o.resolverOptions(files)
	defer ldso.CollectLess(len(paths))()
	r := ldso.New(root.FS, opts)
	results, errs := r.ResolveAll(paths)
	if err := ctx.Err(); err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("ldd: %v", err)} // interrupted: no partial answer
	}
	noteNoCache(stderr, o, r, errs)
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
	if o.json {
		err = ldso.WriteJSON(w, files, results, errs, describe)
	} else {
		printLdd(w, o, files, results)
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// resolverOptions are the loader's options of the flags, and the paths of
// files inside the root.
func (o *lddOptions) resolverOptions(files []string) (ldso.Options, []string) {
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
	return opts, paths
}

// noteNoCache notes a directory root without /etc/ld.so.cache. The note
// is for results: a failure is one line and nothing more.
func noteNoCache(stderr io.Writer, o *lddOptions, r *ldso.Resolver, errs []error) {
	for _, err := range errs {
		if err != nil {
			return
		}
	}
	if _, err := r.CacheStatus(); err != nil && errors.Is(err, fs.ErrNotExist) && o.root != "/" && !rootsrc.IsImage(o.root) {
		how := "only the default directories are searched, as the loader does (--ldconfig: as if ldconfig had run)"
		if o.useConf {
			how = "its ld.so.conf directories are searched as if ldconfig had run (--ldconfig)"
		}
		fmt.Fprintf(stderr, "fromscratch: note: %s has no /etc/ld.so.cache: %s\n", o.root, how)
	}
}

// printLdd prints the answers as glibc's ldd does, or as trees.
func printLdd(w io.Writer, o *lddOptions, files []string, results []*ldso.Result) {
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
