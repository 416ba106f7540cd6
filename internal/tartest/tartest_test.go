package tartest

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFile: the entries of a tar file, in order, with their contents; a
// loop that stops early stops the reading.
func TestFile(t *testing.T) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range []struct{ name, body string }{{"a", "one"}, {"dir/b", "two"}, {"c", ""}} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "x.tar")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	for h, r := range File(t, p) {
		body, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, h.Name+"="+string(body))
	}
	if s := strings.Join(got, " "); s != "a=one dir/b=two c=" {
		t.Errorf("entries %q, want a=one dir/b=two c=", s)
	}
	n := 0
	for range Entries(t, bytes.NewReader(b.Bytes())) {
		if n++; n == 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("a loop stopped at the second entry ran %d times", n)
	}
}
