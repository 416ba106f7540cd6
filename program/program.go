package program

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/fromscratch/fromscratch/elfinfo"
	"github.com/fromscratch/fromscratch/rootfs"
)

// MaxInterpreters is how many #! rewrites one execve may make: the
// kernel's BINPRM_MAX_RECURSION (4). Kernels from 5.8 (exec_binprm's loop,
// depth > 5) take one more; 4 is what every kernel that may run the image
// takes. A command run by env starts a new execve, with its own count.
const MaxInterpreters = 4

// maxEnvHops bounds how many times env may run a command that runs env
// again (#!/usr/bin/env with no argument runs the script itself, forever).
const maxEnvHops = 8

// headLen is how much of a file the kernel reads to choose a format
// (BINPRM_BUF_SIZE).
const headLen = 256

// Errors, tested with errors.Is; an [*ExecError] wraps one of them.
var (
	// ErrNotFound: no such file, or the name is in no PATH directory
	// (ENOENT). It is also an fs.ErrNotExist.
	ErrNotFound error = &kind{"no such file or directory", fs.ErrNotExist}
	// ErrNotExecutable: a directory, not a regular file, or no execute
	// bit (EACCES). It is also an fs.ErrPermission.
	ErrNotExecutable error = &kind{"permission denied", fs.ErrPermission}
	// ErrFormat: neither an ELF program nor a #! script, a #! line the
	// kernel refuses, or an ELF file it does not load (ENOEXEC).
	ErrFormat = errors.New("exec format error")
	// ErrLoop: more than MaxInterpreters #! rewrites (ELOOP), or env
	// running the same script over and over.
	ErrLoop = errors.New("too many levels of #! interpreters")
	// ErrEnvUsage: env's arguments are ones env refuses (an unknown
	// option, an unterminated quote in -S), so it runs nothing.
	ErrEnvUsage = errors.New("env refuses its arguments")
)

var kinds = []error{ErrNotFound, ErrNotExecutable, ErrFormat, ErrLoop, ErrEnvUsage}

// kind is an error that is also the standard error is.
type kind struct {
	msg string
	is  error
}

func (k *kind) Error() string        { return k.msg }
func (k *kind) Is(target error) bool { return target == k.is }

// Role says how a file came to be executed.
type Role int

const (
	// Command is the command's program: argv[0], searched in PATH when it
	// has no "/".
	Command Role = iota
	// Interpreter is the interpreter named on a #! line.
	Interpreter
	// EnvCommand is the command env runs, searched in env's PATH.
	EnvCommand
)

func (r Role) String() string {
	switch r {
	case Interpreter:
		return "interpreter"
	case EnvCommand:
		return "env command"
	}
	return "command"
}

// Shebang is a #! line as the kernel splits it.
type Shebang struct {
	Interpreter string // up to the first space, tab or NUL
	Arg         string // the rest, trimmed of spaces and tabs, "" for none
}

// File is one file the exec runs.
type File struct {
	Path string      // as executed: absolute, PATH searched, relative paths joined to the working directory
	Real string      // the physical path in the root (symbolic links followed)
	Mode fs.FileMode // of Real
	Size int64
	Role Role
	// Argv are the arguments it receives, argv[0] first.
	Argv []string
	// Script is its #! line; nil for an ELF program.
	Script *Shebang
	// ELF describes an ELF program; nil for a script.
	ELF *elfinfo.Info
}

// IsEnv reports whether the file is run as env (its name is "env"), whose
// arguments name the command it runs.
func (f *File) IsEnv() bool { return f.ELF != nil && path.Base(f.Path) == "env" }

// Exec is what starting a command runs.
type Exec struct {
	// Files are the files executed in order: the command's program, its
	// #! interpreters, and, when one of them is env, the command env runs
	// with its interpreters. The last one, when the exec succeeds, is the
	// ELF program that runs.
	Files []File
	// Dir is the working directory relative paths are joined to.
	Dir string
	// Env is the environment the last program gets (env may change it).
	Env []string
}

// Program is the ELF program that runs in the end (the last file), nil
// when the exec did not get to one.
func (e *Exec) Program() *File {
	if len(e.Files) == 0 || e.Files[len(e.Files)-1].ELF == nil {
		return nil
	}
	return &e.Files[len(e.Files)-1]
}

// ExecError is why a command does not start.
type ExecError struct {
	// Path is the file (as executed) that fails, or the name searched in
	// PATH when none was found.
	Path string
	Role Role
	// By is the file that names Path: the script of an interpreter, env
	// for its command; "" for the command's program.
	By string
	// SearchPath is the PATH searched when Path is a name not found.
	SearchPath string
	// Mode is the file's mode when it is not executable.
	Mode fs.FileMode
	// Err wraps one of the package's errors (ErrNotFound, ...), with the
	// cause when there is one.
	Err error
}

func (e *ExecError) Error() string {
	s := e.Path + ": " + e.Err.Error()
	if e.SearchPath != "" {
		s = fmt.Sprintf("%s: not found in PATH %s", e.Path, e.SearchPath)
	}
	if e.By != "" {
		s += " (" + e.Role.String() + " of " + e.By + ")"
	}
	return s
}

func (e *ExecError) Unwrap() error { return e.Err }

// Kind is the package's error Err wraps (ErrNotFound, ErrNotExecutable,
// ErrFormat, ErrLoop or ErrEnvUsage), for a switch that words it.
func (e *ExecError) Kind() error {
	for _, k := range kinds {
		if errors.Is(e.Err, k) {
			return k
		}
	}
	return nil
}

// Reason is what Err says besides [ExecError.Kind], e.g. "mode -rw-r--r--,
// not executable" for ErrNotExecutable; "" when nothing.
func (e *ExecError) Reason() string {
	if k := e.Kind(); k != nil {
		return strings.TrimPrefix(strings.TrimPrefix(e.Err.Error(), k.Error()), ": ")
	}
	return e.Err.Error()
}

// Resolve follows argv as a container runtime starts it in fsys with the
// environment env and the working directory "/": see [ResolveDir].
func Resolve(fsys rootfs.FS, argv, env []string) (*Exec, error) {
	return ResolveDir(fsys, "/", argv, env)
}

// ResolveDir follows argv as a container runtime starts it in fsys, with
// the environment env (nil: PATH=[DefaultPath]) and the working directory
// dir: argv[0] searched in PATH, then every file the kernel and env
// execute until an ELF program. The Exec is returned with the files
// followed even when the error is not nil; the error is an [*ExecError]
// (not wrapped).
func ResolveDir(fsys rootfs.FS, dir string, argv, env []string) (*Exec, error) {
	r := &resolver{fsys: fsys, ex: &Exec{Dir: orRoot(dir), Env: withPath(env)}}
	if len(argv) == 0 {
		return r.ex, &ExecError{Role: Command, Err: fmt.Errorf("%w: no command", ErrNotFound)}
	}
	p, err := r.lookPath(argv[0], PathOf(env), Command, "")
	if err != nil {
		return r.ex, err
	}
	return r.ex, r.exec(p, argv, Command, "", 0)
}

// ResolveScript follows what the kernel executes for the #! script whose
// first bytes are head, run as name with argv: its interpreters (and env's
// command) in fsys, env as in [ResolveDir]. The script itself, which may
// come from elsewhere (a file added to an image), is the first File,
// without its mode. Used to plan a script's interpreters.
func ResolveScript(fsys rootfs.FS, name string, head []byte, argv, env []string) (*Exec, error) {
	r := &resolver{fsys: fsys, ex: &Exec{Dir: "/", Env: withPath(env)}}
	sb, err := ParseShebang(head)
	if err != nil {
		return r.ex, &ExecError{Path: name, Role: Command, Err: err}
	}
	if len(argv) == 0 {
		argv = []string{name}
	}
	r.ex.Files = append(r.ex.Files, File{Path: name, Real: name, Role: Command, Argv: argv, Script: sb})
	return r.ex, r.script(sb, name, argv, 0)
}

type resolver struct {
	fsys rootfs.FS
	ex   *Exec
	hops int // commands env ran
}

// lookPath is the runtime's (or execvp's) search of name, a path kept as
// it is when it has a "/".
func (r *resolver) lookPath(name, pathv string, role Role, by string) (string, error) {
	if strings.Contains(name, "/") {
		if !path.IsAbs(name) {
			return path.Join(r.ex.Dir, name), nil
		}
		return name, nil
	}
	if p, ok := lookPath(r.fsys, name, pathv); ok {
		return p, nil
	}
	return "", &ExecError{Path: name, Role: role, By: by, SearchPath: pathv, Err: ErrNotFound}
}

// exec is one execve of p with argv; depth counts the #! rewrites.
func (r *resolver) exec(p string, argv []string, role Role, by string, depth int) error {
	f := File{Path: p, Role: role, Argv: argv}
	fail := func(err error) error {
		return &ExecError{Path: p, Role: role, By: by, Mode: f.Mode, Err: err}
	}
	real, err := rootfs.Realpath(r.fsys, p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fail(ErrNotFound)
		}
		return fail(fmt.Errorf("%w: %w", ErrNotFound, err))
	}
	fi, err := r.fsys.Lstat(real)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrNotFound, err))
	}
	f.Real, f.Mode, f.Size = real, fi.Mode(), fi.Size()
	switch {
	case fi.IsDir():
		return fail(fmt.Errorf("%w: is a directory", ErrNotExecutable))
	case !fi.Mode().IsRegular():
		return fail(fmt.Errorf("%w: not a regular file", ErrNotExecutable))
	case fi.Mode()&0o111 == 0:
		return fail(fmt.Errorf("%w: mode %v, not executable", ErrNotExecutable, fi.Mode().Perm()))
	}
	head, info, err := Sniff(r.fsys, real)
	if err == nil && info != nil {
		err = CheckExec(info)
	}
	if err != nil {
		return fail(err)
	}
	f.ELF = info
	if info == nil {
		if f.Script, err = ParseShebang(head); err != nil {
			return fail(err)
		}
	}
	r.ex.Files = append(r.ex.Files, f)
	if f.Script != nil {
		return r.script(f.Script, p, argv, depth)
	}
	if f.IsEnv() {
		return r.env(p, argv)
	}
	return nil
}

// script executes the interpreter of the script p run with argv.
func (r *resolver) script(sb *Shebang, p string, argv []string, depth int) error {
	if depth >= MaxInterpreters {
		return &ExecError{Path: p, Role: r.ex.Files[len(r.ex.Files)-1].Role, Err: ErrLoop}
	}
	next := []string{sb.Interpreter}
	if sb.Arg != "" {
		next = append(next, sb.Arg)
	}
	next = append(append(next, p), argv[min(1, len(argv)):]...)
	interp := sb.Interpreter
	if !path.IsAbs(interp) {
		interp = path.Join(r.ex.Dir, interp)
	}
	return r.exec(interp, next, Interpreter, p, depth+1)
}

// env follows the command env (at p) runs with argv, as a new execve.
func (r *resolver) env(p string, argv []string) error {
	cmd, err := ParseEnv(argv[1:], r.ex.Env)
	if err != nil {
		return &ExecError{Path: p, Role: r.ex.Files[len(r.ex.Files)-1].Role, Err: err}
	}
	if len(cmd.Argv) == 0 {
		return nil // env prints the environment
	}
	r.hops++
	if r.hops > maxEnvHops {
		return &ExecError{Path: cmd.Argv[0], Role: EnvCommand, By: p, Err: ErrLoop}
	}
	r.ex.Env = cmd.Env
	if cmd.Dir != "" && path.IsAbs(cmd.Dir) {
		r.ex.Dir = path.Clean(cmd.Dir)
	} else if cmd.Dir != "" {
		r.ex.Dir = path.Join(r.ex.Dir, cmd.Dir)
	}
	next, err := r.lookPath(cmd.Argv[0], cmd.path(), EnvCommand, p)
	if err != nil {
		return err
	}
	return r.exec(next, cmd.Argv, EnvCommand, p, 0)
}

// Sniff reads the first bytes of the regular file p of fsys (up to the 256
// the kernel reads) and, for an ELF file, its description; an ELF file
// elfinfo cannot read is an error wrapping ErrFormat.
func Sniff(fsys rootfs.FS, p string) ([]byte, *elfinfo.Info, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	head := readHead(f)
	if !elfinfo.IsELF(head) {
		return head, nil, nil
	}
	st, err := f.Stat()
	if err != nil {
		return head, nil, err
	}
	info, err := elfinfo.Read(f, st.Size())
	if err != nil {
		return head, nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return head, info, nil
}

// Head reads the first bytes of the file p of fsys, as many as the kernel
// reads to choose a format (256): enough for [elfinfo.IsELF] and
// [ParseShebang].
func Head(fsys rootfs.FS, p string) ([]byte, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readHead(f), nil
}

func readHead(f rootfs.File) []byte {
	head := make([]byte, headLen)
	n, _ := f.ReadAt(head, 0)
	return head[:n]
}

// CheckExec fails with ErrFormat when the kernel does not execute the ELF
// file info describes: not an executable or a shared object, or a
// PT_INTERP it refuses.
func CheckExec(info *elfinfo.Info) error {
	if t := info.Type; t != elfTypeExec && t != elfTypeDyn {
		return fmt.Errorf("%w: %v, not a program", ErrFormat, t)
	}
	if err := info.ExecError(); err != nil {
		return fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return nil
}

// withPath is env with PATH=DefaultPath added when it has no PATH, as
// Docker starts a container.
func withPath(env []string) []string {
	if _, ok := lookupEnv(env, "PATH"); ok {
		return env
	}
	return append(append([]string{}, env...), "PATH="+DefaultPath)
}

func orRoot(s string) string {
	if s == "" {
		return "/"
	}
	return rootfs.Clean(s)
}
