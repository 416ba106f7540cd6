package registry

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const testTimeout = 300 * time.Millisecond

// TestPlainHTTP: an http:// request is refused before it leaves unless
// insecure.
func TestPlainHTTP(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer srv.Close()
	for _, insecure := range []bool{false, true} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2/", nil)
		req.Header.Set("Authorization", "Basic c2VjcmV0")
		resp, err := NewTransport(insecure, time.Minute).RoundTrip(req)
		var pe *PlainHTTPError
		switch {
		case !insecure && (!errors.As(err, &pe) || got.Load() != 0):
			t.Errorf("without insecure: err %v, %d requests reached the server", err, got.Load())
		case insecure && err != nil:
			t.Errorf("with insecure: %v", err)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
}

// TestTimeoutAnswer: a server that never answers fails the request after
// the timeout.
func TestTimeoutAnswer(t *testing.T) {
	quit := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-quit }))
	defer srv.Close()
	defer close(quit)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2/", nil)
	start := time.Now()
	_, err := NewTransport(true, testTimeout).RoundTrip(req)
	wantTimeout(t, err, "an answer", start)
}

// TestTimeoutBody: a body that stalls fails the read after the timeout; a
// reader that takes its time between reads does not.
func TestTimeoutBody(t *testing.T) {
	quit := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("half"))
		w.(http.Flusher).Flush()
		if r.URL.Path == "/stall" {
			<-quit
			return
		}
		time.Sleep(testTimeout / 3)
		w.Write([]byte(" and the rest"))
	}))
	defer srv.Close()
	defer close(quit)
	tr := NewTransport(true, testTimeout)

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/slow-reader", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * testTimeout) // the caller's own time does not count
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "half and the rest" {
		t.Errorf("slow reader: %q, %v", b, err)
	}

	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/stall", nil)
	resp, err = tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := time.Now()
	b, err = io.ReadAll(resp.Body)
	if string(b) != "half" {
		t.Errorf("stalled body: read %q", b)
	}
	wantTimeout(t, err, "more of the answer", start)
}

// TestTimeoutUpload: a server that stops reading an upload fails it after
// the timeout; a slow source of the upload does not.
func TestTimeoutUpload(t *testing.T) {
	quit := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall" {
			io.CopyN(io.Discard, r.Body, 1<<20)
			<-quit
			return
		}
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	defer close(quit)
	tr := NewTransport(true, testTimeout)

	req, _ := http.NewRequest(http.MethodPatch, srv.URL+"/slow-source", &slowReader{n: 3, pause: testTimeout * 2})
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("slow source: %v", err)
	}
	resp.Body.Close()

	// More than the socket buffers hold.
	req, _ = http.NewRequest(http.MethodPatch, srv.URL+"/stall", io.LimitReader(zeros{}, 256<<20))
	start := time.Now()
	_, err = tr.RoundTrip(req)
	wantTimeout(t, err, "the upload to be taken", start)
}

// slowReader gives n bytes, one a read, pausing before each.
type slowReader struct {
	n     int
	pause time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.pause)
	r.n--
	p[0] = 'x'
	return 1, nil
}

// zeros reads as zero bytes without end.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func wantTimeout(t *testing.T, err error, what string, start time.Time) {
	t.Helper()
	took := time.Since(start)
	var te *TimeoutError
	if !errors.As(err, &te) || te.What != what {
		t.Errorf("err = %v, want a timeout waiting for %s", err, what)
	} else if !strings.Contains(err.Error(), TimeoutEnv) {
		t.Errorf("%q does not name %s", err, TimeoutEnv)
	}
	if took < testTimeout || took > testTimeout+2*time.Second {
		t.Errorf("failed after %s, timeout %s", took, testTimeout)
	}
}

func TestTimeoutEnv(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want time.Duration
		ok   bool
	}{
		{"", DefaultTimeout, true},
		{"90s", 90 * time.Second, true},
		{"250ms", 250 * time.Millisecond, true},
		{"0", 0, false},
		{"-1s", 0, false},
		{"soon", 0, false},
	} {
		t.Setenv(TimeoutEnv, tc.env)
		got, err := Timeout()
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("%s=%q: %v, %v; want %v", TimeoutEnv, tc.env, got, err, tc.want)
		}
	}
}
