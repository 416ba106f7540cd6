// Package testenv is the one gate of the tests for what the machine must
// provide (programs, files, a Docker engine, kernel support): where
// everything is required (CI, as scripts/test sets it up) a missing piece
// fails the test; elsewhere it skips it, saying what to install.
package testenv

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Required reports whether every tool and engine the tests use must be
// present: CI=true or CI=1 (scripts/test in CI), or
// FROMSCRATCH_REQUIRE_DOCKER=1 (which scripts/test exports there).
func Required() bool {
	ci := os.Getenv("CI")
	return ci == "true" || ci == "1" || os.Getenv("FROMSCRATCH_REQUIRE_DOCKER") == "1"
}

// Missing stops the test for something the machine lacks: it fails where
// [Required], and skips elsewhere.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf(format+" (required where CI=true or FROMSCRATCH_REQUIRE_DOCKER=1)", args...)
		return
	}
	t.Skipf(format, args...)
}

// Tool returns the path of the program name found in PATH, or stops the
// test with [Missing].
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s not installed (scripts/test installs it)", name)
	}
	return p
}

// File stops the test with [Missing] unless the file p exists.
func File(t testing.TB, p string) {
	t.Helper()
	if _, err := os.Stat(p); err != nil {
		Missing(t, "%v (scripts/test installs it)", err)
	}
}

// Docker stops the test with [Missing] unless a Docker engine answers.
func Docker(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := exec.CommandContext(ctx, "docker", "info").Run(); err != nil {
		Missing(t, "no Docker engine answers (docker info: %v)", err)
	}
}
