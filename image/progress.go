package image

import "context"

// Progress is told how many bytes a write will take and how many are done,
// from several goroutines at once: the CLI draws it on a terminal.
type Progress interface {
	// Grow adds n bytes to do.
	Grow(n int64)
	// Add counts n bytes done.
	Add(n int64)
}

type progressKey struct{}

// WithProgress returns a context under which this package's writers
// (layers, docker archives, layouts, pushes) report to p.
func WithProgress(ctx context.Context, p Progress) context.Context {
	return context.WithValue(ctx, progressKey{}, p)
}

// ProgressFrom returns the Progress of ctx, or nil.
func ProgressFrom(ctx context.Context) Progress {
	p, _ := ctx.Value(progressKey{}).(Progress)
	return p
}

// addFunc returns p.Add, or nil when ctx has no Progress.
func addFunc(ctx context.Context) func(int64) {
	if p := ProgressFrom(ctx); p != nil {
		return p.Add
	}
	return nil
}
