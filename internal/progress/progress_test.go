package progress

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestNotATerminal: nothing is drawn on a pipe or a buffer; a nil bar is
// safe and Printf still prints.
func TestNotATerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	var buf bytes.Buffer
	for _, out := range []any{w, &buf} {
		b := Start(out.(interface{ Write([]byte) (int, error) }), "building")
		if b != nil {
			t.Fatalf("Start(%T) drew a bar on a non-terminal", out)
		}
		b.Grow(10)
		b.Add(5)
		b.Stop()
	}
	var nilBar *Bar
	nilBar.Printf(&buf, "fromscratch: warning: %s\n", "x")
	if got := buf.String(); got != "fromscratch: warning: x\n" {
		t.Errorf("output %q", got)
	}
}

// openPTY returns the master and the slave of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	var n int
	rc, err := master.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ierr error
	rc.Control(func(fd uintptr) {
		if ierr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ierr == nil {
			n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		}
	})
	if ierr != nil {
		t.Fatal(ierr)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close(); master.Close() })
	return master, slave
}

// TestTerminal: on a terminal the bar draws bytes done of the total and a
// percentage, Printf lines go above it, and Stop leaves the line empty.
func TestTerminal(t *testing.T) {
	master, slave := openPTY(t)
	b := Start(slave, "building")
	if b == nil {
		t.Fatal("Start(a terminal) drew nothing")
	}
	b.Grow(2_000_000)
	b.Add(500_000)
	time.Sleep(3 * interval)
	b.Printf(slave, "fromscratch: warning: %s\n", "x")
	b.Stop()
	b.Stop()
	b.Add(1) // after Stop: nothing drawn

	var out []byte
	buf := make([]byte, 4096)
	master.SetReadDeadline(time.Now().Add(2 * time.Second))
	for !bytes.HasSuffix(out, []byte("\r\x1b[K\r\x1b[K")) && !bytes.HasSuffix(out, []byte("x\r\n\r\x1b[K")) {
		n, err := master.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			break
		}
	}
	s := string(out)
	for _, want := range []string{"\r\x1b[Kfromscratch: building 500.0 kB / 2.0 MB (25%)", "\r\x1b[Kfromscratch: warning: x"} {
		if !strings.Contains(s, want) {
			t.Errorf("terminal got %q, want it to contain %q", s, want)
		}
	}
	if !strings.HasSuffix(s, "\r\x1b[K") {
		t.Errorf("terminal got %q, want it to end with the line erased", s)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 19_129_344: "19.1 MB", 1_250_000_000: "1.25 GB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
