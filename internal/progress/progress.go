// Package progress draws a one-line byte counter on a terminal, and nothing
// anywhere else: scripts, CI logs and pipes get no progress output.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// interval is how often the line is redrawn.
const interval = 100 * time.Millisecond

// Bar counts bytes against a total and redraws one line of w. A nil *Bar
// does nothing, so callers need no checks.
type Bar struct {
	w     io.Writer
	label string
	total atomic.Int64
	done  atomic.Int64
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
	mu    sync.Mutex // serializes writes to w
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Start returns a bar drawing "fromscratch: LABEL DONE / TOTAL" on w, or nil
// when w is not a terminal. The total grows with [Bar.Grow].
func Start(w io.Writer, label string) *Bar {
	if !IsTerminal(w) {
		return nil
	}
	return start(w, label)
}

func start(w io.Writer, label string) *Bar {
	b := &Bar{w: w, label: label, stop: make(chan struct{})}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				b.mu.Lock()
				fmt.Fprint(b.w, "\r\x1b[K") // leave the line empty for what follows
				b.mu.Unlock()
				return
			case <-t.C:
				b.draw()
			}
		}
	}()
	return b
}

// Add counts n more bytes done; safe from several goroutines.
func (b *Bar) Add(n int64) {
	if b != nil {
		b.done.Add(n)
	}
}

// Grow adds n bytes to do; safe from several goroutines.
func (b *Bar) Grow(n int64) {
	if b != nil {
		b.total.Add(n)
	}
}

// Stop erases the line; Add and Grow do nothing after. Stop can be called
// more than once.
func (b *Bar) Stop() {
	if b == nil {
		return
	}
	b.once.Do(func() {
		close(b.stop)
		b.wg.Wait()
	})
}

// Printf prints a line to w, above the bar when there is one (w is then the
// bar's own writer).
func (b *Bar) Printf(w io.Writer, format string, a ...any) {
	if b == nil {
		fmt.Fprintf(w, format, a...)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprint(b.w, "\r\x1b[K")
	fmt.Fprintf(b.w, format, a...)
}

func (b *Bar) draw() {
	b.mu.Lock()
	defer b.mu.Unlock()
	done, total := b.done.Load(), b.total.Load()
	if total > 0 {
		done = min(done, total) // headers and metadata are not counted in the total
		fmt.Fprintf(b.w, "\r\x1b[Kfromscratch: %s %s / %s (%d%%)", b.label, Bytes(done), Bytes(total), done*100/total)
		return
	}
	fmt.Fprintf(b.w, "\r\x1b[Kfromscratch: %s %s", b.label, Bytes(done))
}

// Bytes formats n in decimal units: "812 B", "4.2 kB", "19.1 MB", "1.25 GB".
func Bytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1e6:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1e9:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2f GB", float64(n)/1e9)
}
