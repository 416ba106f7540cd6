package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestEnvSplitEntrypoint: a script whose #! line is `/usr/bin/env -S
// python3 -u` (one argument for the kernel, split by env) is planned with
// python3 by build, accepted by doctor with python3 at the end of its
// chain, slimmed to an image doctor accepts too, and both images run it in
// Docker with python3 -u.
func TestEnvSplitEntrypoint(t *testing.T) {
	requireDocker(t)
	requireFile(t, "/usr/bin/env")
	requireFile(t, "/usr/bin/python3")
	landmarks, _ := filepath.Glob("/usr/lib/python3*/os.py")
	if len(landmarks) == 0 {
		skipOrFail(t, "no Python standard library in /usr/lib (apt-get install python3)")
	}
	stdlib := filepath.Dir(landmarks[0])
	script := filepath.Join(t.TempDir(), "run.py")
	src := "#!/usr/bin/env -S python3 -u\nimport sys\nprint('hello from', sys.argv[1:], sys.stdout.write_through)\n"
	if err := os.WriteFile(script, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	// The standard library is what python3 opens at run time: FILEs.
	files := []string{filepath.Join(stdlib, "encodings"), filepath.Join(stdlib, "os.py")}
	tag := buildAndLoad(t, "program-envsplit", append([]string{script}, files...)...)
	want := "hello from ['a b'] True\n" // -u: stdout writes through
	if got := dockerRun(t, "", tag, "a b"); got != want {
		t.Errorf("docker run %s = %q, want %q", tag, got, want)
	}
	rep := runDoctorJSON(t, "docker-daemon:"+tag)
	if !rep.Healthy || !slices.Equal(rep.Chain, []string{script, "/usr/bin/python3"}) {
		t.Errorf("doctor: healthy %v, chain %q, problems %+v; want healthy, %s then /usr/bin/python3", rep.Healthy, rep.Chain, rep.Problems, script)
	}

	slimTag := uniqueTag("program-envsplit-slim")
	slimTar := filepath.Join(t.TempDir(), "slim.tar")
	args := []string{"slim", "-o", slimTar, "-t", slimTag}
	for _, f := range files {
		args = append(args, "--keep", f)
	}
	if out, errOut, code := runFromscratchIn(t, "", append(args, "docker-daemon:"+tag)...); code != 0 {
		t.Fatalf("fromscratch slim: exit %d\n%s%s", code, out, errOut)
	}
	run(t, "", "docker", "load", "-i", slimTar)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", slimTag).Run() })
	if rep := runDoctorJSON(t, "docker-daemon:"+slimTag); !rep.Healthy || !slices.Contains(rep.Chain, "/usr/bin/python3") {
		t.Errorf("doctor of the slim image: healthy %v, chain %q, problems %+v", rep.Healthy, rep.Chain, rep.Problems)
	}
	if got := dockerRun(t, "", slimTag, "a b"); got != want {
		t.Errorf("docker run %s = %q, want %q", slimTag, got, want)
	}
}
