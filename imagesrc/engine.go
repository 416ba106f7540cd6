package imagesrc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// engineClient is a client of the Docker engine's API for the three calls
// fromscratch makes: ping, image inspect and image save. It reads
// DOCKER_HOST (unix:// or tcp://; the local socket by default),
// DOCKER_API_VERSION, DOCKER_CERT_PATH and DOCKER_TLS_VERIFY as the docker
// CLI does. (The engine's own Go client would do, but it brings some sixty
// packages whose initialisation every run of fromscratch pays, the
// tracer's included.)
type engineClient struct {
	host string // DOCKER_HOST as given, for messages
	base string // URL prefix of the API: scheme, host, version
	hc   *http.Client
}

// errEngineNotFound is the engine's 404 for an image.
var errEngineNotFound = errors.New("no such image")

// engineImage is the part of the engine's image inspect that is used.
type engineImage struct {
	ID           string `json:"Id"`
	Os           string `json:"Os"`
	Architecture string `json:"Architecture"`
	Variant      string `json:"Variant"`
	RootFS       struct {
		Layers []string `json:"Layers"` // diff_ids
	} `json:"RootFS"`
}

// newEngine returns a client of the engine DOCKER_HOST names.
func newEngine() (*engineClient, error) {
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	u, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("DOCKER_HOST %q: %v", host, err)
	}
	tr := &http.Transport{DisableCompression: true, MaxIdleConns: 2}
	e := &engineClient{host: host, hc: &http.Client{Transport: tr}}
	switch u.Scheme {
	case "unix":
		sock := u.Path
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}
		e.base = "http://docker"
	case "tcp", "http", "https":
		scheme := "http"
		if u.Scheme == "https" || os.Getenv("DOCKER_CERT_PATH") != "" || os.Getenv("DOCKER_TLS_VERIFY") != "" {
			cfg, err := engineTLS()
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = cfg
			scheme = "https"
		}
		e.base = scheme + "://" + u.Host
	default:
		return nil, fmt.Errorf("DOCKER_HOST %q: the %s scheme is not supported (unix:// or tcp://)", host, u.Scheme)
	}
	if v := os.Getenv("DOCKER_API_VERSION"); v != "" {
		e.base += "/v" + strings.TrimPrefix(v, "v")
	}
	return e, nil
}

// engineTLS is the TLS configuration DOCKER_CERT_PATH (default ~/.docker)
// and DOCKER_TLS_VERIFY ask for, as the docker CLI reads them: ca.pem,
// cert.pem and key.pem; the server's certificate is verified only with
// DOCKER_TLS_VERIFY set.
func engineTLS() (*tls.Config, error) {
	dir := os.Getenv("DOCKER_CERT_PATH")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, err
		}
		dir = filepath.Join(home, ".docker")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: os.Getenv("DOCKER_TLS_VERIFY") == ""}
	if ca, err := os.ReadFile(filepath.Join(dir, "ca.pem")); err == nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("%s: no certificate in it", filepath.Join(dir, "ca.pem"))
		}
		cfg.RootCAs = pool
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := os.Stat(cert); err == nil {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("the Docker client certificate in %s: %v", dir, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// get makes a GET of path (with its query) and returns the response of
// status 200; another status is an error with the engine's message.
func (e *engineClient) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	var msg struct {
		Message string `json:"message"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &msg) != nil || msg.Message == "" {
		msg.Message = strings.TrimSpace(string(b))
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%w: %s", errEngineNotFound, msg.Message)
	}
	return nil, fmt.Errorf("the Docker engine: %s (HTTP %d)", msg.Message, resp.StatusCode)
}

// ping checks that the engine answers.
func (e *engineClient) ping(ctx context.Context) error {
	resp, err := e.get(ctx, "/_ping")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// inspect returns the engine's record of the image ref names (a name, a
// name:tag, an ID); errEngineNotFound if it has none.
func (e *engineClient) inspect(ctx context.Context, ref string) (*engineImage, error) {
	resp, err := e.get(ctx, "/images/"+ref+"/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var img engineImage
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJSON)).Decode(&img); err != nil {
		return nil, fmt.Errorf("the Docker engine's image inspect: %v", err)
	}
	return &img, nil
}

// save returns the stream `docker save ID` writes.
func (e *engineClient) save(ctx context.Context, id string) (io.ReadCloser, error) {
	resp, err := e.get(ctx, "/images/get?names="+url.QueryEscape(id))
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// close closes the idle connections.
func (e *engineClient) close() { e.hc.CloseIdleConnections() }
