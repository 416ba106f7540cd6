package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/fromscratch/fromscratch/imagesrc"
	"github.com/fromscratch/fromscratch/tracer"
)

// Running an image in the Docker engine, its command under the tracer:
// fromscratch is static, so the engine runs the image with this very binary
// bind-mounted at engineBin as the entrypoint (`fromscratch trace --json`),
// the image's user, environment and working directory kept, and the trace
// written to a bind-mounted directory.
const (
	engineDir = "/.fromscratch"
	engineBin = engineDir + "/fromscratch"
	engineOut = engineDir + "/out"
)

// traceRunFlags are the `docker run` options the tracer needs: ptrace and a
// seccomp filter of its own, which Docker's default seccomp profile may
// refuse on older kernels.
var traceRunFlags = []string{"--cap-add", "SYS_PTRACE", "--security-opt", "seccomp=unconfined"}

// engine runs containers with the docker CLI.
type engine struct {
	docker string // the docker CLI
	self   string // this static fromscratch, to bind-mount
	// foreign is the platform of each loaded image of another architecture
	// than the host's (run under qemu-user through binfmt_misc): `docker
	// run --platform` says it is meant.
	foreign map[string]string
}

// newEngine finds the docker CLI and this program, which must be static to
// run in any image.
func newEngine() (*engine, error) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		return nil, &exitError{code: 2, msg: "docker: not found: running an image needs the docker CLI and a Docker engine"}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, &exitError{code: 2, msg: fmt.Sprintf("finding this program: %v", err)}
	}
	if self, err = filepath.EvalSymlinks(self); err != nil {
		return nil, &exitError{code: 2, msg: fmt.Sprintf("finding this program: %v", err)}
	}
	if !isStatic(self) {
		return nil, &exitError{code: 2, msg: fmt.Sprintf("%s: not a static executable (a cgo build): it is bind-mounted into the image as the tracer; build it with CGO_ENABLED=0", self)}
	}
	return &engine{docker: docker, self: self}, nil
}

// isStatic reports whether the ELF file p has no program interpreter.
func isStatic(p string) bool {
	f, err := elf.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// randomSuffix names the containers and temporary tags of one run.
func randomSuffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(b))
}

// load makes img known to the engine: an image read from the engine
// (docker-daemon:NAME) is run as NAME; any other is loaded under a
// temporary tag that done removes.
func (e *engine) load(ctx context.Context, ref string, img v1.Image) (string, func(), error) {
	if n, ok := strings.CutPrefix(ref, imagesrc.DockerDaemon); ok {
		e.noteForeign(n, img)
		return n, func() {}, nil
	}
	tag, err := name.NewTag("fromscratch-tmp:" + randomSuffix())
	if err != nil {
		return "", nil, err
	}
	if err := e.dockerLoad(ctx, tag, img); err != nil {
		return "", nil, fmt.Errorf("loading the image into the Docker engine: %w", err)
	}
	e.noteForeign(tag.String(), img)
	done := func() {
		// Only the tag goes if the engine had the image under another name.
		exec.Command(e.docker, "rmi", tag.String()).Run()
	}
	return tag.String(), done, nil
}

// noteForeign notes the platform of the image run as name when it is not
// the host's.
func (e *engine) noteForeign(name string, img v1.Image) {
	cf, err := img.ConfigFile()
	if err != nil || cf.Architecture == "" || (cf.OS == "linux" && cf.Architecture == runtime.GOARCH) {
		return
	}
	p := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	if e.foreign == nil {
		e.foreign = map[string]string{}
	}
	e.foreign[name] = p.String()
}

// dockerLoad streams img as a docker archive tagged tag into `docker load`.
func (e *engine) dockerLoad(ctx context.Context, tag name.Tag, img v1.Image) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarball.Write(tag, img, pw)) }()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, e.docker, "load", "-q")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pr, &out, &out
	err := cmd.Run()
	pr.CloseWithError(io.ErrClosedPipe) // ends the writer if docker stopped reading
	if err != nil {
		return fmt.Errorf("docker load: %v: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// runSpec says how to run a container.
type runSpec struct {
	image string
	// traced runs argv (the whole command line: entrypoint and arguments)
	// under `fromscratch trace`; otherwise args replace the image's Cmd
	// (nil keeps it).
	traced bool
	argv   []string
	args   []string
	// timeout, if not zero, ends the run (the trace so far is kept).
	timeout time.Duration
	// publish is a container TCP port published on 127.0.0.1 (a random
	// host port); with it the container runs detached.
	publish int
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
}

// traceFile is what `fromscratch trace --json` writes.
type traceFile struct {
	Argv     []string        `json:"argv"`
	ExitCode int             `json:"exit_code"`
	TimedOut bool            `json:"timed_out"`
	Accesses []tracer.Access `json:"accesses"`
}

// container is a run in progress or done.
type container struct {
	e      *engine
	spec   runSpec
	name   string
	outDir string
	cmd    *exec.Cmd // a foreground run
	errBuf *tailBuffer
}

// tailBuffer keeps the last bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

// lastLine is the last non-empty line written.
func (t *tailBuffer) lastLine() string { return lastLine(string(t.b)) }

func (e *engine) dockerArgs(c *container) []string {
	s := c.spec
	a := []string{"run", "--name", c.name}
	if p := e.foreign[s.image]; p != "" {
		a = append(a, "--platform", p)
	}
	if s.publish != 0 {
		a = append(a, "-d", "-p", fmt.Sprintf("127.0.0.1::%d/tcp", s.publish))
	} else {
		a = append(a, "--rm")
		if s.stdin != nil {
			a = append(a, "-i")
		}
	}
	if s.traced {
		a = append(a, traceRunFlags...)
		a = append(a,
			"-v", e.self+":"+engineBin+":ro",
			"-v", c.outDir+":"+engineOut,
			"--entrypoint", engineBin,
			s.image, "trace", "--json", "-o", engineOut+"/trace.json")
		if s.timeout > 0 {
			a = append(a, "--timeout", s.timeout.String())
		}
		a = append(a, "--")
		return append(a, s.argv...)
	}
	return append(append(a, s.image), s.args...)
}

// start starts a container: in the foreground (wait for it) or, with a
// published port, detached.
func (e *engine) start(ctx context.Context, s runSpec) (*container, error) {
	c := &container{e: e, spec: s, name: "fromscratch-run-" + randomSuffix(), errBuf: &tailBuffer{}}
	if s.traced {
		dir, err := os.MkdirTemp("", "fromscratch-trace-")
		if err != nil {
			return nil, err
		}
		// Written by the image's user, whoever that is.
		if err := os.Chmod(dir, 0o1777); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		c.outDir = dir
	}
	c.cmd = exec.Command(e.docker, e.dockerArgs(c)...)
	c.cmd.Stdin = s.stdin
	c.cmd.Stdout, c.cmd.Stderr = s.stdout, io.MultiWriter(c.errBuf, orDiscard(s.stderr))
	if s.publish != 0 {
		c.cmd.Stdout = io.Discard // the container's id
	}
	if err := c.cmd.Start(); err != nil {
		c.cleanup()
		return nil, fmt.Errorf("docker run: %w", err)
	}
	if s.publish != 0 {
		if err := c.cmd.Wait(); err != nil {
			c.cleanup()
			return nil, fmt.Errorf("docker run %s: %s", s.image, c.errBuf.lastLine())
		}
	}
	return c, nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// wait waits for a foreground container; ctx or the spec's timeout (with a
// grace period for the tracer to write its trace) removes it. code is the
// docker CLI's exit status: the program's, or 125-127 when docker could not
// run it.
func (c *container) wait(ctx context.Context) (code int, err error) {
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	var limit <-chan time.Time
	if c.spec.timeout > 0 {
		d := c.spec.timeout
		if c.spec.traced {
			d += 30 * time.Second // the tracer ends the run itself
		}
		t := time.NewTimer(d)
		defer t.Stop()
		limit = t.C
	}
	select {
	case err = <-done:
	case <-ctx.Done():
		c.remove()
		<-done
		return 0, ctx.Err()
	case <-limit:
		c.remove()
		err = <-done
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, err
}

// stop ends a detached container (SIGTERM, then SIGKILL after a grace
// period) and waits for it.
func (c *container) stop() {
	exec.Command(c.e.docker, "kill", "-s", "TERM", c.name).Run()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if exec.CommandContext(ctx, c.e.docker, "wait", c.name).Run() != nil {
		exec.Command(c.e.docker, "kill", c.name).Run()
		exec.Command(c.e.docker, "wait", c.name).Run()
	}
}

// logs is the output of a detached container.
func (c *container) logs() (stdout, stderr string) {
	var o, e bytes.Buffer
	cmd := exec.Command(c.e.docker, "logs", c.name)
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.Run()
	return o.String(), e.String()
}

// running reports whether a detached container still runs.
func (c *container) running() bool {
	out, err := exec.Command(c.e.docker, "inspect", "-f", "{{.State.Running}}", c.name).Output()
	return err == nil && strings.TrimSpace(string(out)) == "true"
}

// hostPort is the 127.0.0.1 address the published port is reachable at.
func (c *container) hostPort() (string, error) {
	out, err := exec.Command(c.e.docker, "port", c.name, fmt.Sprintf("%d/tcp", c.spec.publish)).Output()
	if err != nil {
		return "", fmt.Errorf("docker port %s: %v", c.name, err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "127.0.0.1:") {
			return strings.TrimSpace(l), nil
		}
	}
	return "", fmt.Errorf("docker port %s: no 127.0.0.1 address in %q", c.name, out)
}

// remove removes the container, running or not.
func (c *container) remove() {
	exec.Command(c.e.docker, "rm", "-f", c.name).Run()
}

// cleanup removes the container and the trace directory.
func (c *container) cleanup() {
	if c.spec.publish != 0 {
		c.remove()
	}
	if c.outDir != "" {
		os.RemoveAll(c.outDir)
	}
}

// trace reads the trace a traced run wrote.
func (c *container) trace() (*traceFile, error) {
	b, err := os.ReadFile(filepath.Join(c.outDir, "trace.json"))
	if err != nil {
		why := c.errBuf.lastLine()
		if why == "" {
			why = "no trace written"
		}
		return nil, fmt.Errorf("tracing in the container: %s", why)
	}
	var tf traceFile
	if err := json.Unmarshal(b, &tf); err != nil {
		return nil, fmt.Errorf("reading the trace: %v", err)
	}
	return &tf, nil
}

// httpResult is what a GET answered.
type httpResult struct {
	Status int
	Body   []byte
}

// notAnswering is a server that exited or did not answer in time.
type notAnswering struct{ msg string }

func (e *notAnswering) Error() string { return e.msg }

// getWhenUp GETs path on the container's published port until it answers
// (any HTTP status), the container exits or timeout passes.
func (c *container) getWhenUp(ctx context.Context, path string, timeout time.Duration) (*httpResult, error) {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 10 * time.Second}
	var last error
	for {
		if addr, err := c.hostPort(); err != nil {
			last = err
		} else {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
			if err != nil {
				return nil, err
			}
			resp, err := client.Do(req)
			if err == nil {
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil {
					return &httpResult{Status: resp.StatusCode, Body: body}, nil
				}
			}
			last = err
		}
		if !c.running() {
			_, stderr := c.logs()
			return nil, &notAnswering{fmt.Sprintf("the container exited before port %d answered: %s", c.spec.publish, lastLine(stderr))}
		}
		if time.Now().After(deadline) {
			return nil, &notAnswering{fmt.Sprintf("port %d did not answer within %v: %v", c.spec.publish, timeout, last)}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
