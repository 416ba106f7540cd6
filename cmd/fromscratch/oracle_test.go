package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// lddExceptions lists files where glibc's ldd is known to give another
// answer than the loader does when the program really runs, with the
// evidence. Empty: on Debian 12 every file agrees.
var lddExceptions = map[string]string{}

// TestLddOracle compares `fromscratch ldd --json` with glibc's own ldd on
// every ELF file of the machine under /usr/bin, /usr/sbin, /usr/lib and
// /usr/libexec: the sets of resolved real paths (and of names not found)
// must be identical for every file that ldd can read.
func TestLddOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs glibc ldd on every ELF file of the machine")
	}
	requireTool(t, "ldd")
	bin := fromscratchBin(t)
	corpus := elfCorpusIn(t, "", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/libexec")
	if len(corpus) < 100 {
		t.Fatalf("only %d ELF files found: not a real system?", len(corpus))
	}

	want := loaderAnswers(corpus, glibcLdd)

	got := lddCorpus(t, bin, corpus)

	compared, skipped := 0, 0
	var bad []string
	for i, f := range corpus {
		w := want[i]
		if w.skip != "" {
			skipped++
			continue
		}
		compared++
		g := got[f]
		if g.Error != "" {
			bad = append(bad, fmt.Sprintf("%s: fromscratch error %q, ldd: %v", f, g.Error, w.set))
			continue
		}
		gs := resultSet(g, realpath)
		if w.static {
			// glibc's ldd says "statically linked" for anything the
			// loader has nothing to load for, loader included.
			if len(gs) > 0 && !(len(g.Libraries) == 0) {
				bad = append(bad, fmt.Sprintf("%s: ldd says statically linked, fromscratch %v", f, keys(gs)))
			}
			continue
		}
		if d := diffSets(w.set, gs); d != "" {
			if why, ok := lddExceptions[f]; ok {
				t.Logf("%s: known difference (%s): %s", f, why, d)
				continue
			}
			bad = append(bad, fmt.Sprintf("%s: %s", f, d))
		}
	}
	t.Logf("%d ELF files: %d compared with glibc ldd, %d that ldd cannot read skipped", len(corpus), compared, skipped)
	if compared < len(corpus)/2 {
		t.Errorf("only %d of %d files compared", compared, len(corpus))
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		if len(bad) > 40 {
			bad = append(bad[:40], fmt.Sprintf("... and %d more", len(bad)-40))
		}
		t.Errorf("%d files differ from glibc ldd:\n%s", len(bad), strings.Join(bad, "\n"))
	}
}

// loaderAnswers is the loader's answer for each file of the corpus, from
// answer run on four files at a time.
func loaderAnswers(corpus []string, answer func(file string) *oracleAnswer) []*oracleAnswer {
	want := make([]*oracleAnswer, len(corpus))
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				want[i] = answer(corpus[i])
			}
		}()
	}
	for i := range corpus {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return want
}

// lddCorpus runs fromscratch ldd --json with flags over the corpus, 400
// files a run, and maps each file to its answer.
func lddCorpus(t *testing.T, bin string, corpus []string, flags ...string) map[string]lddJSON {
	t.Helper()
	got := map[string]lddJSON{}
	const chunk = 400
	for i := 0; i < len(corpus); i += chunk {
		end := min(i+chunk, len(corpus))
		args := append(append([]string{"ldd", "--json"}, flags...), corpus[i:end]...)
		cmd := exec.Command(bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if ee, ok := err.(*exec.ExitError); err != nil && !(ok && ee.ExitCode() <= 2) {
			t.Fatalf("fromscratch ldd = %v\n%s", err, stderr.String())
		}
		var res []lddJSON
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("fromscratch ldd --json: bad JSON: %v\n%s", err, stderr.String())
		}
		if len(res) != end-i {
			t.Fatalf("fromscratch ldd --json gave %d objects for %d files", len(res), end-i)
		}
		for _, r := range res {
			got[r.File] = r
		}
	}
	return got
}

// elfCorpusIn lists the regular ELF files under dirs (paths inside root,
// "" for the host), once each, by real path inside root.
func elfCorpusIn(t *testing.T, root string, dirs ...string) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	for _, d := range dirs {
		rd, err := realpathIn(root, d)
		if err != nil {
			t.Fatalf("%s in %s: %v", d, root, err)
		}
		filepath.WalkDir(filepath.Join(root, rd), func(p string, e fs.DirEntry, err error) error {
			if err != nil || !e.Type().IsRegular() {
				return nil
			}
			in := "/" + strings.TrimPrefix(p, root+"/")
			if seen[in] {
				return nil
			}
			if isELFFile(p) {
				seen[in] = true
				out = append(out, in)
			}
			return nil
		})
	}
	sort.Strings(out)
	return out
}

// isELFFile reports whether the host file p starts with the ELF magic.
func isELFFile(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	n, _ := f.Read(magic[:])
	return n == 4 && string(magic[:]) == "\x7fELF"
}

type oracleAnswer struct {
	set    map[string]bool // real paths, and "not found: NAME"
	static bool
	skip   string // why ldd's answer is not usable
}

var (
	lddArrow  = regexp.MustCompile(`^\t(\S+) => (.*?)(?: \(0x[0-9a-f]+\))?$`)
	lddLoader = regexp.MustCompile(`^\t(/\S+) \(0x[0-9a-f]+\)$`)
)

// glibcLdd runs glibc's ldd on file and parses its answer.
func glibcLdd(file string) *oracleAnswer {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ldd", file)
	cmd.Dir = "/"
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Run()
	a := &oracleAnswer{set: map[string]bool{}}
	all := stdout.String() + stderr.String()
	switch {
	case strings.Contains(all, "not a dynamic executable"):
		a.skip = "not a dynamic executable"
		return a
	case strings.Contains(all, "statically linked"):
		a.static = true
		return a
	case strings.Contains(all, "error while loading shared libraries") || strings.Contains(all, "cannot execute binary file"):
		a.skip = strings.TrimSpace(all)
		return a
	}
	sc := bufio.NewScanner(&stdout)
	lines := 0
	for sc.Scan() {
		line := sc.Text()
		if m := lddArrow.FindStringSubmatch(line); m != nil {
			lines++
			if m[2] == "not found" {
				a.set["not found: "+m[1]] = true
			} else if m[2] != "" {
				a.set[realpath(m[2])] = true
			}
			continue
		}
		if m := lddLoader.FindStringSubmatch(line); m != nil {
			lines++
			a.set[realpath(m[1])] = true
			continue
		}
		if strings.Contains(line, "linux-vdso") || strings.Contains(line, "linux-gate") {
			continue
		}
	}
	if lines == 0 {
		a.skip = "no answer: " + strings.TrimSpace(all)
	}
	return a
}

func realpath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// diffSets describes how got differs from want, "" if it does not.
func diffSets(want, got map[string]bool) string {
	var missing, extra []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return ""
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return fmt.Sprintf("ldd only: %v; fromscratch only: %v", missing, extra)
}
