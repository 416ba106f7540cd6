//go:build !linux || !(amd64 || arm64)

package tracer

import (
	"context"
	"fmt"
	"runtime"
)

func run(ctx context.Context, opts Options) (*Result, error) {
	return nil, fmt.Errorf("%w: the tracer runs on Linux (amd64, arm64), not %s/%s", ErrUnsupported, runtime.GOOS, runtime.GOARCH)
}
