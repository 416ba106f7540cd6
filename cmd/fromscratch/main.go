// Command fromscratch turns Linux programs into the smallest container
// images that run, and explains why an image does not run.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	// A short-lived command that allocates small objects: trade memory for
	// fewer collections.
	debug.SetGCPercent(400)
	// A closed pipe (-o - | head, ldd ... | head) is a write error that
	// ends in one line and exit 2, not a silent death by SIGPIPE.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err))
}

// exitError carries a command's exit code: 1 the work was done and found a
// problem, 2 bad usage or unusable input. Its message, if any, has already
// been printed unless print is set.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(os.Stderr, "fromscratch: %s\n", ee.msg)
		}
		return ee.code
	}
	// Anything else is a usage error from cobra or a failure to do the work.
	fmt.Fprintf(os.Stderr, "fromscratch: %s\n", suggestCommand(err.Error()))
	return 2
}
