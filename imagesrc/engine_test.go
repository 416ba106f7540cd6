package imagesrc

import (
	"strings"
	"testing"
)

func TestEngineHost(t *testing.T) {
	for _, c := range []struct{ host, version, base, err string }{
		{host: "", base: "http://docker"},
		{host: "unix:///run/user/1000/docker.sock", version: "1.41", base: "http://docker/v1.41"},
		{host: "tcp://10.0.0.1:2375", base: "http://10.0.0.1:2375"},
		{host: "ssh://me@host", err: `DOCKER_HOST "ssh://me@host": the ssh scheme is not supported (unix:// or tcp://)`},
	} {
		t.Setenv("DOCKER_HOST", c.host)
		t.Setenv("DOCKER_API_VERSION", c.version)
		t.Setenv("DOCKER_CERT_PATH", "")
		t.Setenv("DOCKER_TLS_VERIFY", "")
		e, err := newEngine()
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("DOCKER_HOST=%s: error %v, want %q", c.host, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("DOCKER_HOST=%s: %v", c.host, err)
		}
		if e.base != c.base {
			t.Errorf("DOCKER_HOST=%s: base %q, want %q", c.host, e.base, c.base)
		}
	}
}
