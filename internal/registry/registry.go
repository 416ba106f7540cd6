// Package registry holds what every registry request of fromscratch uses,
// reads (imagesrc) and pushes (image) alike: HTTPS only unless insecure is asked,
// a bound on how long a registry may keep us waiting, and retries of what
// is safe to retry.
//
// go-containerregistry speaks plain HTTP on its own to localhost, loopback
// and private (RFC 1918) addresses, credentials included
// (name.Registry.Scheme). Here the transport under it refuses any http://
// request unless insecure is set: such a registry is then reached over HTTPS
// or not at all, and with insecure any registry may be reached over HTTP.
package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TimeoutEnv names the environment variable that sets the timeout (a Go
// duration, "30s", "2m").
const TimeoutEnv = "FROMSCRATCH_REGISTRY_TIMEOUT"

// DefaultTimeout is how long a registry may keep us waiting when
// TimeoutEnv is not set: for the response to a request (its headers, once
// the request is sent), or for the next bytes of a body either way (a
// download that stalls, an upload the registry stops reading).
const DefaultTimeout = 60 * time.Second

// Backoff is how failed requests are retried: requests answered 408, 429,
// 500, 502, 503 or 504 and connections reset or cut, up to 5 tries with
// 0.5 s, 1 s, 2 s and 4 s between them. An upload is retried whole (a new
// upload session); a stall (Timeout) is not retried.
var Backoff = remote.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 5}

// retryStatusCodes are the answers retried: the registry failed, not the
// request.
var retryStatusCodes = []int{
	http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
	http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
}

// Timeout returns the registry timeout: TimeoutEnv's, or DefaultTimeout.
func Timeout() (time.Duration, error) {
	s := os.Getenv(TimeoutEnv)
	if s == "" {
		return DefaultTimeout, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%s: want a positive duration such as 30s or 2m", TimeoutEnv, s)
	}
	return d, nil
}

// Reference parses ref ("registry.example/app:1.0"); insecure allows plain
// HTTP to its registry.
func Reference(ref string, insecure bool) (name.Reference, error) {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	return name.ParseReference(ref, opts...)
}

// Options are the remote options of every request to a registry: ctx,
// credentials from the Docker config keychain (authn.DefaultKeychain), the
// guarded transport and the retries.
func Options(ctx context.Context, insecure bool) ([]remote.Option, error) {
	d, err := Timeout()
	if err != nil {
		return nil, err
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithTransport(NewTransport(insecure, d)),
		remote.WithRetryBackoff(Backoff),
		remote.WithRetryStatusCodes(retryStatusCodes...),
	}, nil
}

// NewTransport returns a transport (remote.DefaultTransport's settings)
// that refuses http:// requests unless insecure, and fails a request the
// registry keeps waiting for longer than timeout with a *TimeoutError.
func NewTransport(insecure bool, timeout time.Duration) http.RoundTripper {
	base := remote.DefaultTransport.(*http.Transport).Clone()
	return &guard{inner: base, insecure: insecure, timeout: timeout}
}

// PlainHTTPError is the error of an http:// request without insecure.
type PlainHTTPError struct {
	Host string
	// HTTPS is the error of the HTTPS request tried first, if any (see
	// [Explain]).
	HTTPS error
}

func (e *PlainHTTPError) Error() string {
	if e.HTTPS != nil {
		return e.HTTPS.Error() + "; plain HTTP refused"
	}
	return e.Host + ": plain HTTP refused"
}

func (e *PlainHTTPError) Unwrap() error { return e.HTTPS }

// Explain returns err, shortened when it holds a *PlainHTTPError: the ping
// of a registry on a local or private address tries HTTPS, then HTTP, and
// fails with both errors; the HTTPS one is what the user needs, and that
// plain HTTP was refused: a *PlainHTTPError whose HTTPS is that error.
func Explain(err error) error {
	var pe *PlainHTTPError
	var ue *url.Error
	if errors.As(err, &pe) && errors.As(err, &ue) && ue.URL != "" && strings.HasPrefix(ue.URL, "https:") {
		return &PlainHTTPError{Host: pe.Host, HTTPS: ue}
	}
	return err
}

// TimeoutError is a request the registry kept waiting too long.
type TimeoutError struct {
	Host    string
	Timeout time.Duration
	// What was waited for: "an answer", "the upload to be taken", "more of
	// the answer".
	What string
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("%s: waited %s for %s (%s sets this timeout)", e.Host, e.Timeout, e.What, TimeoutEnv)
}

// guard is the transport of [NewTransport].
type guard struct {
	inner    http.RoundTripper
	insecure bool
	timeout  time.Duration
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.insecure {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &PlainHTTPError{Host: req.URL.Host}
	}
	ctx, cancel := context.WithCancel(req.Context())
	w := &watch{host: req.URL.Host, timeout: g.timeout, cancel: cancel, what: "an answer"}
	// Armed until the answer's headers are in: the request goes out.
	w.timer = time.AfterFunc(g.timeout, w.fire)
	r := req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		r.Body = &sendBody{req.Body, w}
		if req.GetBody != nil { // a body sent again (a new connection) is watched too
			r.GetBody = func() (io.ReadCloser, error) {
				b, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				return &sendBody{b, w}, nil
			}
		}
	}
	resp, err := g.inner.RoundTrip(r)
	w.set(phaseAnswered, "")
	if err != nil {
		cancel()
		return nil, w.err(err)
	}
	resp.Body = &recvBody{resp.Body, w}
	return resp, nil
}

// The phases of a request.
const (
	phaseSending = iota
	phaseAnswered
)

// watch is one request's timer: armed while we wait for the registry (for
// the answer, for it to take more of the request's body, for more of the
// answer's body), stopped while the caller works (reads the bytes it sends,
// handles those it got). When it fires the request is cancelled.
type watch struct {
	host    string
	timeout time.Duration
	cancel  context.CancelFunc
	timer   *time.Timer

	mu    sync.Mutex
	phase int
	what  string // what the armed timer waits for; "" when stopped
	fired string // what it waited for when it fired
}

func (w *watch) fire() {
	w.mu.Lock()
	if w.what == "" { // stopped meanwhile
		w.mu.Unlock()
		return
	}
	w.fired = w.what
	w.mu.Unlock()
	w.cancel()
}

// set moves to phase, and arms the timer to wait for what ("" stops it).
func (w *watch) set(phase int, what string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.phase = phase
	w.arm(what)
}

// arm arms the timer to wait for what, or stops it (""); w.mu is held.
func (w *watch) arm(what string) {
	w.what = what
	if what == "" {
		w.timer.Stop()
	} else {
		w.timer.Reset(w.timeout)
	}
}

// sending arms (what) or stops ("") the timer for the request's body, unless
// the answer is in already: the transport may read on meanwhile.
func (w *watch) sending(what string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.phase == phaseSending {
		w.arm(what)
	}
}

// err is the error to return for err: a *TimeoutError if the timer fired.
func (w *watch) err(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fired != "" {
		return &TimeoutError{Host: w.host, Timeout: w.timeout, What: w.fired}
	}
	return err
}

// sendBody is a request's body: the time the transport spends between two
// reads is time the registry takes to accept the bytes.
type sendBody struct {
	io.ReadCloser
	w *watch
}

func (b *sendBody) Read(p []byte) (int, error) {
	b.w.sending("")
	n, err := b.ReadCloser.Read(p)
	what := "the upload to be taken"
	if err != nil {
		what = "an answer" // the whole body is out
	}
	b.w.sending(what)
	return n, err
}

// recvBody is an answer's body: the timer runs while a read waits.
type recvBody struct {
	io.ReadCloser
	w *watch
}

func (b *recvBody) Read(p []byte) (int, error) {
	b.w.set(phaseAnswered, "more of the answer")
	n, err := b.ReadCloser.Read(p)
	b.w.set(phaseAnswered, "")
	if err != nil && err != io.EOF {
		err = b.w.err(err)
	}
	return n, err
}

func (b *recvBody) Close() error {
	err := b.ReadCloser.Close()
	b.w.set(phaseAnswered, "")
	b.w.cancel()
	return err
}
