// Command fromscratch turns Linux programs into the smallest container
// images that run, and explains why an image does not run.
package main

import (
	"context"
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
	if msg := message(err); msg != "" {
		fmt.Fprintf(os.Stderr, "fromscratch: %s\n", msg)
	}
	os.Exit(exitCode(err))
}
