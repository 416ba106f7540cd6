package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"testing"

	"github.com/fromscratch/fromscratch/builder"
	"github.com/fromscratch/fromscratch/closure"
	"github.com/fromscratch/fromscratch/doctor"
	"github.com/fromscratch/fromscratch/internal/registry"
	"github.com/fromscratch/fromscratch/publish"
	"github.com/fromscratch/fromscratch/slim"
	"github.com/fromscratch/fromscratch/squash"
)

// TestExitCode: the exit status of each class of error, as DESIGN.md's
// contract says (0 success, 1 a problem found, 2 bad usage or input).
func TestExitCode(t *testing.T) {
	missing := fmt.Errorf("libgone.so: %w", closure.ErrMissing)
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, 0},
		{"usage", usage("build: no output"), 2},
		{"a command's verdict", &exitError{code: 1}, 1},
		{"a traced program's status", &exitError{code: 7}, 7},
		{"cobra", errors.New(`unknown command "bild" for "fromscratch"`), 2},
		{"interrupted", builderError(context.Canceled), 2},
		{"build: bad option", builderError(&builder.OptionError{Option: "Env", Value: "=x", Err: builder.ErrSyntax}), 2},
		{"build: bad file", builderError(&builder.FileError{Path: "/x", Err: fs.ErrNotExist}), 2},
		{"build: wrong platform", builderError(&builder.PlatformError{Path: "/x", Got: "linux/amd64", Want: "linux/arm64"}), 2},
		{"build: go build fails", builderError(&builder.GoBuildError{Package: "./x", Err: errors.New("exit status 1")}), 2},
		{"build: library not found", builderError(missing), 1},
		{"build: debug tool's library not found", builderError(&builder.OptionError{Option: "DebugTools", Err: missing}), 1},
		{"build: listed paths missing", builderError(&builder.MissingPathsError{Paths: []string{"/a"}}), 1},
		{"build: would not start", builderError(&builder.StartError{Program: "/x", Problem: doctor.Problem{Message: "m"}}), 1},
		{"build: write fails", builderError(errors.New("no space left on device")), 2},
		{"slim: cannot start", slimError("img", &slim.StartError{Report: &doctor.Report{}}), 1},
		{"slim: library not found", slimError("img", missing), 1},
		{"slim: bad keep", slimError("img", &slim.KeepError{Path: "/nope", Err: slim.ErrBadKeep}), 2},
		{"slim: probe differs", &worded{msg: "slim img: differs", err: &probeDiff{"differs"}}, 1},
		{"squash: bad from", squashError("img", &squash.LayersError{From: 5, Layers: 2}), 2},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("%s: exitCode(%v) = %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}

// TestFixText: doctor's remedies worded for the command line, naming the
// flags, and the rebuild as a command to run.
func TestFixText(t *testing.T) {
	for _, tc := range []struct {
		p    doctor.Problem
		want string
	}{
		{doctor.Problem{Fix: "doctor's words"}, "doctor's words"},
		{doctor.Problem{Remedy: doctor.Remedy{Kind: doctor.CreateWorkdir}}, "create it in the image (--add) if the program expects files there"},
		{doctor.Problem{Remedy: doctor.Remedy{Kind: doctor.FixWorkdir}}, "fix --workdir"},
		{doctor.Problem{Remedy: doctor.Remedy{Kind: doctor.SetEntrypoint}}, "set --entrypoint (fromscratch build sets it to PROGRAM)"},
		{doctor.Problem{Remedy: doctor.Remedy{Kind: doctor.SetPlatform, Got: "arm64", Want: "amd64"}},
			"set the image's platform to the program's (--platform linux/arm64), or build the program for amd64"},
		{doctor.Problem{Remedy: doctor.Remedy{Kind: doctor.BuildFor, Want: "arm64"}}, "build the program for arm64 (GOARCH=arm64, a cross compiler, or --platform)"},
		{doctor.Problem{Remedy: doctor.Remedy{Kind: doctor.AddUserFile, File: "/etc/passwd"}},
			"use a numeric --user, or add /etc/passwd (fromscratch build writes one with root and nonroot)"},
		{doctor.Problem{Remedy: doctor.Remedy{Kind: doctor.AddUser, Name: "staff", File: "/etc/group"}}, "add staff to /etc/group, or use a numeric --user"},
		{doctor.Problem{Remedy: doctor.Remedy{Kind: doctor.RebuildLoader, Rebuild: &doctor.Rebuild{Program: "/usr/bin/app", Host: "/usr/bin/app"}}},
			"rebuild the image with the loader and libraries: `fromscratch build -o fixed.tar /usr/bin/app`, or link the program with -static"},
		{doctor.Problem{Remedy: doctor.Remedy{Kind: doctor.RebuildLibraries, Rebuild: &doctor.Rebuild{Program: "/app", Entrypoint: []string{"/app", "-x"}, Cmd: []string{"serve"}, Host: "/home/me/app"}}},
			"rebuild the image with the program's libraries: `fromscratch build -o fixed.tar --entrypoint '[\"/app\",\"-x\"]' --cmd '[\"serve\"]' --add /home/me/app:/app /app`"},
		{doctor.Problem{Remedy: doctor.Remedy{Kind: doctor.RebuildLoader, Rebuild: &doctor.Rebuild{Program: "/app", Image: "docker-daemon:app:1", Musl: true}}},
			"this is a musl program: rebuild the image with its loader and libraries: `id=$(docker create app:1) && docker cp \"$id:/app\" ./app && docker rm \"$id\" && fromscratch build -o fixed.tar --add ./app:/app /app`, or use a musl image (Alpine), or link with -static"},
		{doctor.Problem{Remedy: doctor.Remedy{Kind: doctor.RebuildLibraries, Rebuild: &doctor.Rebuild{Program: "/app", Image: "docker-archive:my app.tar"}}},
			"rebuild the image with the program's libraries: `id=$(docker create \"$(docker load -qi 'my app.tar' | sed -n 's/^Loaded image[^:]*: //p' | head -n1)\") && docker cp \"$id:/app\" ./app && docker rm \"$id\" && fromscratch build -o fixed.tar --add ./app:/app /app`"},
	} {
		if got := fixText(tc.p); got != tc.want {
			t.Errorf("fixText(%+v):\n got %q\nwant %q", tc.p.Remedy, got, tc.want)
		}
	}
}

// TestMissingWarning: what build --allow-missing left out, worded.
func TestMissingWarning(t *testing.T) {
	for _, tc := range []struct {
		m    builder.Missing
		want string
	}{
		{builder.Missing{Name: "libgone.so.1 (needed by /app)"}, "libgone.so.1 (needed by /app) not found (--allow-missing)"},
		{builder.Missing{Name: "/etc/app.conf", Listed: true}, "/etc/app.conf (listed) not found (--allow-missing)"},
		{builder.Missing{Name: "libgone.so.1", Root: "linux/arm64=/srv/arm64"}, "linux/arm64=/srv/arm64: libgone.so.1 not found (--allow-missing)"},
	} {
		if got := missingWarning(tc.m); got != tc.want {
			t.Errorf("missingWarning(%+v) = %q, want %q", tc.m, got, tc.want)
		}
	}
}

// TestErrorMessages: the libraries' typed errors worded for the command
// line, naming the flags.
func TestErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{&exitError{code: 1}, ""},
		{builderError(builder.ErrNoProgram), "build: give PROGRAM, or --go PKG for a Go program"},
		{builderError(&builder.OptionError{Option: "GoPackage", Value: "./x", Err: builder.ErrGoTraces}),
			"build --go ./x: --trace runs a PROGRAM of the root; trace the Go program with fromscratch trace and give the list with --files-from"},
		{builderError(&builder.OptionError{Option: "Platforms", Value: "linux/amd64,linux/arm64", Err: builder.ErrPlatforms}),
			"build: one --platform for PROGRAM (several are for --go): linux/amd64,linux/arm64"},
		{builderError(&builder.OptionError{Option: "Env", Value: "=x", Err: builder.ErrSyntax}), `--env "=x": want K=V`},
		{builderError(&builder.OptionError{Option: "Add", Value: "a:rel", Err: builder.ErrSyntax}), `--add "a:rel": want SRC:DST with an absolute DST`},
		{builderError(&builder.OptionError{Option: "CACerts", Err: &builder.RootFileError{Root: "/r", Path: "/etc/ssl/certs/ca-certificates.crt", Package: "ca-certificates",
			Err: &fs.PathError{Op: "lstat", Path: "/r/etc/ssl", Err: fs.ErrNotExist}}}),
			"--ca-certs: /etc/ssl/certs/ca-certificates.crt in the root /r: no such file or directory (install ca-certificates there, or leave out --ca-certs)"},
		{builderError(&builder.OptionError{Option: "Debug", Err: &builder.RootFileError{Root: "/", Path: "/bin/busybox", Package: "busybox-static", Err: fs.ErrNotExist}}),
			"--debug: /bin/busybox: no such file or directory (install busybox-static there, or give --busybox PATH)"},
		{builderError(&builder.OptionError{Option: "Debug", Err: fmt.Errorf("%w for linux/arm64 (/bb is linux/amd64)", builder.ErrNoBusybox)}),
			"--debug: no busybox for linux/arm64 (/bb is linux/amd64): give --busybox PATH (repeatable, one per architecture)"},
		{builderError(&builder.OptionError{Option: "Busybox", Value: "./bb", Err: &fs.PathError{Op: "open", Path: "/abs/bb", Err: fs.ErrPermission}}),
			"--busybox ./bb: permission denied"},
		{builderError(&builder.OptionError{Option: "PackageNames", Value: "tzdata", Err: fmt.Errorf("%w in /r", builder.ErrNotInstalled)}),
			"--package tzdata: not installed in /r"},
		{builderError(&builder.OptionError{Option: "DebugTools", Err: fmt.Errorf("libx.so: %w", closure.ErrMissing)}),
			"--debug-tools: libx.so: not found (--allow-missing builds anyway)"},
		{builderError(&builder.FileError{Path: "./app", Err: builder.ErrNoPlatform}), "./app: not an ELF program: give --platform"},
		{builderError(&builder.FileError{Path: "./app", Err: &fs.PathError{Op: "lstat", Path: "/abs/app", Err: fs.ErrNotExist}}), "./app: no such file or directory"},
		{builderError(&builder.MissingPathsError{Paths: []string{"/a", "/b"}}),
			"build: /a, /b (listed paths the root lacks; --allow-missing builds anyway): not found"},
		{builderError(&builder.StartError{Program: "/bin/true", Problem: doctor.Problem{Check: "program", Message: "exec /nope: no such file", Fix: "doctor's"}}),
			"build /bin/true: the image would not start: exec /nope: no such file (fix: point --entrypoint at a program the image holds: PROGRAM, a FILE, or one under an --add DST)"},
		{builderError(&builder.GoBuildError{Package: "./x", Err: errors.New("exit status 1")}), "build --go: exit status 1"},
		{builderError(context.Canceled), "build: context canceled"},
		{squashError("img.tar", &squash.LayersError{From: 5, Layers: 2}), "img.tar: --from 5: the image has 2 layers"},
		{slimError("img", &slim.KeepError{Path: "/nope", Err: slim.ErrBadKeep}), "slim img: --keep /nope: not in the image"},
		{fmt.Errorf("pushing to %q: %w", "10.0.0.1:5000/app", &registry.PlainHTTPError{Host: "10.0.0.1:5000"}),
			`pushing to "10.0.0.1:5000/app": 10.0.0.1:5000: plain HTTP refused (--insecure allows it)`},
		{fmt.Errorf("reading %q: %w", "10.0.0.1:5000/app", registry.Explain(fmt.Errorf("%w; %w",
			&url.Error{Op: "Get", URL: "https://10.0.0.1:5000/v2/", Err: errors.New("http: server gave HTTP response to HTTPS client")},
			&url.Error{Op: "Get", URL: "http://10.0.0.1:5000/v2/", Err: &registry.PlainHTTPError{Host: "10.0.0.1:5000"}}))),
			`reading "10.0.0.1:5000/app": Get "https://10.0.0.1:5000/v2/": http: server gave HTTP response to HTTPS client; plain HTTP refused (--insecure allows it)`},
		{sinkError(&publish.Error{Medium: publish.Registry, Target: "10.0.0.1:5000/app", Err: &registry.PlainHTTPError{Host: "10.0.0.1:5000"}}),
			"pushing 10.0.0.1:5000/app: 10.0.0.1:5000: plain HTTP refused (--insecure allows it)"},
	} {
		if got := message(tc.err); got != tc.want {
			t.Errorf("message(%#v):\n got %q\nwant %q", tc.err, got, tc.want)
		}
	}
}
