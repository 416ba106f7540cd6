package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fromscratch/fromscratch/internal/testenv"
	"github.com/fromscratch/fromscratch/ldso"
)

// C sources of the fixtures.
const (
	fooC     = "int foo(void) { return 42; }\n"
	foo2C    = "int foo(void) { return 43; }\n"
	fooBarC  = "int bar(void);\nint foo(void) { return bar(); }\n"
	barC     = "int bar(void) { return 7; }\n"
	mainC    = "int foo(void);\nint main(void) { return foo(); }\n"
	mainBarC = "int foo(void);\nint bar(void);\nint main(void) { return foo() + bar(); }\n"
	helloC   = "int main(void) { return 0; }\n"
)

const (
	glibcLoader = "/lib64/ld-linux-x86-64.so.2"
	muslLoader  = "/lib/ld-musl-x86_64.so.1"
)

// fixture is one hand-made case: the fromscratch ldd call, the real
// loader's command, and what both must answer.
type fixture struct {
	file  string   // the FILE argument, absolute
	flags []string // fromscratch ldd flags
	env   []string // the same setting for the real loader, e.g. LD_LIBRARY_PATH=DIR
	// oracle is the real loader's trace command, FILE appended; nil means
	// glibc's ldd.
	oracle []string
	// static: glibc's ldd says "statically linked" or "not a dynamic
	// executable".
	static bool
	// loadError, when set, is the error the real loader stops with (then
	// it lists nothing to compare with).
	loadError string
	wantCode  int
	check     func(t *testing.T, got lddJSON)
}

// fixtureCase names a fixture, the tools it needs besides gcc and ldd, and
// builds it in dir.
type fixtureCase struct {
	name  string
	tools []string
	setup func(t *testing.T, dir string) fixture
}

// TestFixtureLdd builds small programs and libraries with gcc and musl-gcc
// around one loader rule each, and compares `fromscratch ldd --json` with
// the real loader (glibc's ldd, ld.so --list, musl's --list, or the program
// run with LD_TRACE_LOADED_OBJECTS=1): the set of real paths and names not
// found, the exact path of each library, and the rule's own expectation
// (path, via, found, exit code).
func TestFixtureLdd(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the fixtures are written for x86-64")
	}
	requireTool(t, "gcc")
	requireTool(t, "ldd")
	bin := fromscratchBin(t)

	tests := []fixtureCase{{
		// gcc -shared -fPIC -Wl,-soname,libfoo.so -o lib/libfoo.so foo.c
		// gcc -o bin/prog main.c -Llib -lfoo -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/../lib'
		name: "origin runpath",
		setup: func(t *testing.T, dir string) fixture {
			writeFile(t, dir, "foo.c", fooC)
			writeFile(t, dir, "main.c", mainC)
			cc(t, dir, "gcc", "-shared", "-fPIC", "-Wl,-soname,libfoo.so", "-o", "lib/libfoo.so", "foo.c")
			cc(t, dir, "gcc", "-o", "bin/prog", "main.c", "-Llib", "-lfoo", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/../lib")
			return fixture{file: dir + "/bin/prog", check: func(t *testing.T, got lddJSON) {
				l := wantLib(t, got, "libfoo.so", dir+"/bin/../lib/libfoo.so", "runpath")
				if l.Realpath != dir+"/lib/libfoo.so" {
					t.Errorf("libfoo.so realpath = %q, want %q", l.Realpath, dir+"/lib/libfoo.so")
				}
				wantLib(t, got, "libc.so.6", "", "ld.so.cache")
			}}
		},
	}, {
		// gcc -shared -fPIC -Wl,-soname,libbar.so -o A/libbar.so bar.c
		// gcc -shared -fPIC -Wl,-soname,libfoo.so -o A/libfoo.so foobar.c -LA -lbar
		// gcc -o prog main.c -LA -lfoo -Wl,-rpath-link,A -Wl,--disable-new-dtags -Wl,-rpath,'$ORIGIN/A'
		name: "origin rpath inherited",
		setup: func(t *testing.T, dir string) fixture {
			buildFooNeedsBar(t, dir, "A")
			cc(t, dir, "gcc", "-o", "prog", "main.c", "-LA", "-lfoo", "-Wl,-rpath-link,A", "-Wl,--disable-new-dtags", "-Wl,-rpath,$ORIGIN/A")
			return fixture{file: dir + "/prog", check: func(t *testing.T, got lddJSON) {
				wantLib(t, got, "libfoo.so", dir+"/A/libfoo.so", "rpath")
				l := wantLib(t, got, "libbar.so", dir+"/A/libbar.so", "rpath")
				if l.NeededBy != dir+"/A/libfoo.so" {
					t.Errorf("libbar.so needed_by = %q, want %q", l.NeededBy, dir+"/A/libfoo.so")
				}
			}}
		},
	}, {
		// As above with -Wl,--enable-new-dtags: DT_RUNPATH serves the
		// program's own DT_NEEDED only.
		name: "origin runpath not inherited",
		setup: func(t *testing.T, dir string) fixture {
			buildFooNeedsBar(t, dir, "A")
			cc(t, dir, "gcc", "-o", "prog", "main.c", "-LA", "-lfoo", "-Wl,-rpath-link,A", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/A")
			return fixture{file: dir + "/prog", wantCode: 1, check: func(t *testing.T, got lddJSON) {
				wantLib(t, got, "libfoo.so", dir+"/A/libfoo.so", "runpath")
				wantMissing(t, got, "libbar.so")
			}}
		},
	}, {
		// gcc -shared -fPIC -o libgone.so foo.c; gcc -o prog main.c -L. -lgone; rm libgone.so
		name: "missing library",
		setup: func(t *testing.T, dir string) fixture {
			writeFile(t, dir, "foo.c", fooC)
			writeFile(t, dir, "main.c", mainC)
			cc(t, dir, "gcc", "-shared", "-fPIC", "-o", "libgone.so", "foo.c")
			cc(t, dir, "gcc", "-o", "prog", "main.c", "-L.", "-lgone")
			removeFile(t, dir+"/libgone.so")
			return fixture{file: dir + "/prog", wantCode: 1, check: func(t *testing.T, got lddJSON) {
				wantMissing(t, got, "libgone.so")
				wantLib(t, got, "libc.so.6", "", "")
			}}
		},
	}, {
		// gcc -static -o prog hello.c
		name: "static",
		setup: func(t *testing.T, dir string) fixture {
			writeFile(t, dir, "hello.c", helloC)
			cc(t, dir, "gcc", "-static", "-o", "prog", "hello.c")
			return fixture{file: dir + "/prog", static: true, check: wantStatic}
		},
	}, {
		// gcc -static-pie -o prog hello.c
		name: "static-pie",
		setup: func(t *testing.T, dir string) fixture {
			writeFile(t, dir, "hello.c", helloC)
			cc(t, dir, "gcc", "-static-pie", "-o", "prog", "hello.c")
			return fixture{file: dir + "/prog", static: true, check: wantStatic}
		},
	}, {
		// musl-gcc -o prog hello.c
		name:  "musl hello",
		tools: []string{"musl-gcc"},
		setup: func(t *testing.T, dir string) fixture {
			requireFile(t, muslLoader)
			writeFile(t, dir, "hello.c", helloC)
			cc(t, dir, "musl-gcc", "-o", "prog", "hello.c")
			return fixture{file: dir + "/prog", oracle: []string{muslLoader, "--list"}, check: func(t *testing.T, got lddJSON) {
				wantInterpreter(t, got, muslLoader, "musl")
				if len(got.Libraries) != 0 {
					t.Errorf("libraries = %v, want none (libc.so is the loader)", got.Libraries)
				}
			}}
		},
	}, {
		// musl-gcc -shared -fPIC -o lib/libfoo.so foo.c
		// musl-gcc -o prog main.c -Llib -lfoo -Wl,-rpath,'$ORIGIN/lib'
		name:  "musl origin rpath",
		tools: []string{"musl-gcc"},
		setup: func(t *testing.T, dir string) fixture {
			requireFile(t, muslLoader)
			writeFile(t, dir, "foo.c", fooC)
			writeFile(t, dir, "main.c", mainC)
			cc(t, dir, "musl-gcc", "-shared", "-fPIC", "-o", "lib/libfoo.so", "foo.c")
			cc(t, dir, "musl-gcc", "-o", "prog", "main.c", "-Llib", "-lfoo", "-Wl,-rpath,$ORIGIN/lib")
			return fixture{file: dir + "/prog", oracle: []string{muslLoader, "--list"}, check: func(t *testing.T, got lddJSON) {
				wantInterpreter(t, got, muslLoader, "musl")
				wantLib(t, got, "libfoo.so", dir+"/lib/libfoo.so", "rpath")
				if len(got.Libraries) != 1 {
					t.Errorf("libraries = %v, want libfoo.so only (libc.so is the loader)", got.Libraries)
				}
			}}
		},
	}, {
		// musl-gcc -shared -fPIC -o A/libbar.so bar.c
		// musl-gcc -shared -fPIC -o A/libfoo.so foobar.c -LA -lbar
		// musl-gcc -o prog main.c -LA -lfoo -Wl,-rpath-link,A -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/A'
		// musl takes DT_RUNPATH as DT_RPATH, inherited: libfoo's libbar.so
		// is found through the program's path (glibc would not find it).
		name:  "musl runpath inherited",
		tools: []string{"musl-gcc"},
		setup: func(t *testing.T, dir string) fixture {
			requireFile(t, muslLoader)
			writeFile(t, dir, "bar.c", barC)
			writeFile(t, dir, "foobar.c", fooBarC)
			writeFile(t, dir, "main.c", mainC)
			cc(t, dir, "musl-gcc", "-shared", "-fPIC", "-o", "A/libbar.so", "bar.c")
			cc(t, dir, "musl-gcc", "-shared", "-fPIC", "-o", "A/libfoo.so", "foobar.c", "-LA", "-lbar")
			cc(t, dir, "musl-gcc", "-o", "prog", "main.c", "-LA", "-lfoo", "-Wl,-rpath-link,A", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/A")
			return fixture{file: dir + "/prog", oracle: []string{muslLoader, "--list"}, check: func(t *testing.T, got lddJSON) {
				wantInterpreter(t, got, muslLoader, "musl")
				wantLib(t, got, "libbar.so", dir+"/A/libbar.so", "rpath")
			}}
		},
	}, {
		// gcc -shared -fPIC -o L/libfoo.so foo.c, for L in lib/x86_64-linux-gnu, lib64, lib
		// gcc -o prog main.c -Llib -lfoo -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/${LIB}'
		// $LIB is fixed when glibc is built (lib/x86_64-linux-gnu on Debian).
		name: "lib token",
		setup: func(t *testing.T, dir string) fixture {
			writeFile(t, dir, "foo.c", fooC)
			writeFile(t, dir, "main.c", mainC)
			for _, l := range []string{"lib/x86_64-linux-gnu", "lib64", "lib"} {
				cc(t, dir, "gcc", "-shared", "-fPIC", "-o", l+"/libfoo.so", "foo.c")
			}
			cc(t, dir, "gcc", "-o", "prog", "main.c", "-Llib", "-lfoo", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/${LIB}")
			return fixture{file: dir + "/prog", check: func(t *testing.T, got lddJSON) {
				l := wantLib(t, got, "libfoo.so", "", "runpath")
				if l.Path == dir+"/lib/libfoo.so" {
					t.Errorf("libfoo.so => %q: $LIB expanded to lib", l.Path)
				}
			}}
		},
	}, {
		// gcc -shared -fPIC -o P/libfoo.so foo.c, for P in x86_64, haswell, xeon_phi
		// gcc -o prog main.c -Lx86_64 -lfoo -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/$PLATFORM'
		// $PLATFORM is the loader's dl_platform: AT_PLATFORM, which glibc's
		// sysdeps/x86/cpu-features.c (init_cpu_features) replaces on Intel
		// x86-64 CPUs with "xeon_phi" (AVX512ER+PF) or "haswell" (AVX2, FMA,
		// BMI1, BMI2, LZCNT, MOVBE, POPCNT); ld.so --help shows it.
		name: "platform token",
		setup: func(t *testing.T, dir string) fixture {
			writeFile(t, dir, "foo.c", fooC)
			writeFile(t, dir, "main.c", mainC)
			for _, p := range []string{"x86_64", "haswell", "xeon_phi"} {
				cc(t, dir, "gcc", "-shared", "-fPIC", "-o", p+"/libfoo.so", "foo.c")
			}
			cc(t, dir, "gcc", "-o", "prog", "main.c", "-Lx86_64", "-lfoo", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/$PLATFORM")
			return fixture{file: dir + "/prog", check: func(t *testing.T, got lddJSON) {
				wantLib(t, got, "libfoo.so", "", "runpath")
			}}
		},
	}, {
		// gcc -m32 -shared -nostdlib -fPIC -o d1/libfoo.so foo.c
		// gcc -shared -fPIC -o d2/libfoo.so foo.c
		// gcc -o prog main.c -Ld2 -lfoo -Wl,--disable-new-dtags -Wl,-rpath,'$ORIGIN/d1:$ORIGIN/d2'
		name: "wrong class skipped",
		setup: func(t *testing.T, dir string) fixture {
			writeFile(t, dir, "foo.c", fooC)
			if out, err := command(dir, "gcc", "-m32", "-shared", "-nostdlib", "-fPIC", "-o", "d1/libfoo.so", "foo.c"); err != nil {
				t.Skipf("gcc -m32 cannot build a 32-bit library here: %v\n%s", err, out)
			}
			buildRPathD1D2(t, dir)
			return fixture{file: dir + "/prog", check: func(t *testing.T, got lddJSON) {
				wantLib(t, got, "libfoo.so", dir+"/d2/libfoo.so", "rpath")
			}}
		},
	}, {
		// As above, d1/libfoo.so a copy of d2/libfoo.so with e_machine
		// patched to EM_AARCH64 (183).
		name: "wrong machine skipped",
		setup: func(t *testing.T, dir string) fixture {
			writeFile(t, dir, "foo.c", fooC)
			buildRPathD1D2(t, dir)
			b := readFile(t, dir+"/d2/libfoo.so")
			binary.LittleEndian.PutUint16(b[18:], 183)
			writeFile(t, dir, "d1/libfoo.so", string(b))
			return fixture{file: dir + "/prog", check: func(t *testing.T, got lddJSON) {
				wantLib(t, got, "libfoo.so", dir+"/d2/libfoo.so", "rpath")
			}}
		},
	}, {
		// As above, but d1/libfoo.so is not an ELF file: in
		// the same search path the loader stops there too.
		name: "unusable candidate in the same path",
		setup: func(t *testing.T, dir string) fixture {
			writeFile(t, dir, "foo.c", fooC)
			buildRPathD1D2(t, dir)
			writeFile(t, dir, "d1/libfoo.so", strings.Repeat("not an ELF file\n", 16))
			return fixture{file: dir + "/prog", loadError: "invalid ELF header", wantCode: 1, check: func(t *testing.T, got lddJSON) {
				wantMissing(t, got, "libfoo.so")
			}}
		},
	}, {
		// gcc -shared -fPIC -o app/lib/libfoo.so foo.c
		// gcc -o app/prog main.c -Lapp/lib -lfoo -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/lib'
		// ln -s ../app/prog link/prog
		// The program's $ORIGIN is the directory of its real path
		// (/proc/self/exe). glibc's ldd runs "ld.so link/prog" and takes
		// link/ instead (libfoo.so => not found): the oracle is the program
		// itself run with LD_TRACE_LOADED_OBJECTS=1.
		name: "origin of a symlinked program",
		setup: func(t *testing.T, dir string) fixture {
			writeFile(t, dir, "foo.c", fooC)
			writeFile(t, dir, "main.c", mainC)
			cc(t, dir, "gcc", "-shared", "-fPIC", "-o", "app/lib/libfoo.so", "foo.c")
			cc(t, dir, "gcc", "-o", "app/prog", "main.c", "-Lapp/lib", "-lfoo", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/lib")
			symlink(t, "../app/prog", dir+"/link/prog")
			return fixture{file: dir + "/link/prog", oracle: []string{"env", "LD_TRACE_LOADED_OBJECTS=1"}, check: func(t *testing.T, got lddJSON) {
				wantLib(t, got, "libfoo.so", dir+"/app/lib/libfoo.so", "runpath")
			}}
		},
	}, {
		// gcc -shared -fPIC -o lib/libbar.so bar.c
		// gcc -shared -fPIC -Wl,-soname,libfoo.so -o real/libfoo.so foobar.c -Llib -lbar -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN'
		// ln -s ../real/libfoo.so lib/libfoo.so
		// gcc -o prog main.c -Llib -lfoo -Wl,-rpath-link,lib -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/lib'
		// A library's $ORIGIN is the directory it was found in (lib/),
		// not that of its real path (real/).
		name: "origin of a library found through a symlink",
		setup: func(t *testing.T, dir string) fixture {
			writeFile(t, dir, "bar.c", barC)
			writeFile(t, dir, "foobar.c", fooBarC)
			writeFile(t, dir, "main.c", mainC)
			cc(t, dir, "gcc", "-shared", "-fPIC", "-o", "lib/libbar.so", "bar.c")
			cc(t, dir, "gcc", "-shared", "-fPIC", "-Wl,-soname,libfoo.so", "-o", "real/libfoo.so", "foobar.c", "-Llib", "-lbar", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN")
			symlink(t, "../real/libfoo.so", dir+"/lib/libfoo.so")
			cc(t, dir, "gcc", "-o", "prog", "main.c", "-Llib", "-lfoo", "-Wl,-rpath-link,lib", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/lib")
			return fixture{file: dir + "/prog", check: func(t *testing.T, got lddJSON) {
				l := wantLib(t, got, "libfoo.so", dir+"/lib/libfoo.so", "runpath")
				if l.Realpath != dir+"/real/libfoo.so" {
					t.Errorf("libfoo.so realpath = %q, want %q", l.Realpath, dir+"/real/libfoo.so")
				}
				wantLib(t, got, "libbar.so", dir+"/lib/libbar.so", "runpath")
			}}
		},
	},
		// An unusable file found first is not skipped: the loader stops
		// there (open_verify and _dl_map_object_from_fd "goto lose"), even
		// though a good libfoo.so sits in the program's RUNPATH.
		badCandidate("unusable candidate: not ELF", "invalid ELF header", func(t *testing.T, dir string) {
			writeFile(t, dir, "L/libfoo.so", strings.Repeat("not an ELF file\n", 16))
		}),
		badCandidate("unusable candidate: wrong byte order", "ELF file data encoding not little-endian", func(t *testing.T, dir string) {
			b := readFile(t, dir+"/R/libfoo.so")
			b[5] = 2 // EI_DATA = ELFDATA2MSB
			writeFile(t, dir, "L/libfoo.so", string(b))
		}),
		badCandidate("unusable candidate: relocatable", "only ET_DYN and ET_EXEC can be loaded", func(t *testing.T, dir string) {
			// gcc -c -fPIC -o L/libfoo.so foo.c
			cc(t, dir, "gcc", "-c", "-fPIC", "-o", "L/libfoo.so", "foo.c")
		}),
		badCandidate("unusable candidate: executable", "cannot dynamically load executable", func(t *testing.T, dir string) {
			// gcc -no-pie -o L/libfoo.so hello.c
			writeFile(t, dir, "hello.c", helloC)
			cc(t, dir, "gcc", "-no-pie", "-o", "L/libfoo.so", "hello.c")
		}),
		badCandidate("unusable candidate: pie", "cannot dynamically load position-independent executable", func(t *testing.T, dir string) {
			// gcc -pie -o L/libfoo.so hello.c
			writeFile(t, dir, "hello.c", helloC)
			cc(t, dir, "gcc", "-pie", "-o", "L/libfoo.so", "hello.c")
		}),
		{
			// gcc -o prog hello.c -Wl,-z,nodefaultlib
			// (DF_1_NODEFLIB; GNU ld ignores "-z nodeflib" with a warning.)
			name: "nodeflib refuses cache and default dirs",
			setup: func(t *testing.T, dir string) fixture {
				writeFile(t, dir, "hello.c", helloC)
				cc(t, dir, "gcc", "-o", "prog", "hello.c", "-Wl,-z,nodefaultlib")
				return fixture{file: dir + "/prog", wantCode: 1, check: func(t *testing.T, got lddJSON) {
					wantMissing(t, got, "libc.so.6")
				}}
			},
		}, {
			// gcc -shared -fPIC -o lib/libfoo.so foo.c
			// gcc -o prog main.c -Llib -lfoo -Wl,-z,nodefaultlib -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/lib:LIBCDIR'
			// where LIBCDIR is the directory ldd finds libc.so.6 in.
			name: "nodeflib with runpath",
			setup: func(t *testing.T, dir string) fixture {
				writeFile(t, dir, "hello.c", helloC)
				cc(t, dir, "gcc", "-o", "hello", "hello.c")
				libc := traceLoader(t, "ldd", dir+"/hello").paths["libc.so.6"]
				if libc == "" {
					t.Fatalf("ldd %s: no libc.so.6", dir+"/hello")
				}
				libcDir := filepath.Dir(libc)
				writeFile(t, dir, "foo.c", fooC)
				writeFile(t, dir, "main.c", mainC)
				cc(t, dir, "gcc", "-shared", "-fPIC", "-o", "lib/libfoo.so", "foo.c")
				cc(t, dir, "gcc", "-o", "prog", "main.c", "-Llib", "-lfoo", "-Wl,-z,nodefaultlib", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/lib:"+libcDir)
				return fixture{file: dir + "/prog", check: func(t *testing.T, got lddJSON) {
					wantLib(t, got, "libfoo.so", dir+"/lib/libfoo.so", "runpath")
					wantLib(t, got, "libc.so.6", libcDir+"/libc.so.6", "runpath")
				}}
			},
		}, {
			// gcc -shared -fPIC -Wl,-z,nodefaultlib -o lib/libfoo.so foom.c -lm
			// gcc -o prog main.c -Llib -lfoo -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/lib'
			// DF_1_NODEFLIB is the loading object's: libfoo's libm.so.6 is
			// not looked up in the cache nor the default directories.
			name: "nodeflib of a library",
			setup: func(t *testing.T, dir string) fixture {
				writeFile(t, dir, "foom.c", "#include <math.h>\nint foo(void) { volatile double x = 2.0; return (int)sqrt(x) + (int)cbrt(x); }\n")
				writeFile(t, dir, "main.c", mainC)
				cc(t, dir, "gcc", "-shared", "-fPIC", "-Wl,-z,nodefaultlib", "-o", "lib/libfoo.so", "foom.c", "-lm")
				cc(t, dir, "gcc", "-o", "prog", "main.c", "-Llib", "-lfoo", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/lib")
				return fixture{file: dir + "/prog", wantCode: 1, check: func(t *testing.T, got lddJSON) {
					wantLib(t, got, "libfoo.so", dir+"/lib/libfoo.so", "runpath")
					wantLib(t, got, "libc.so.6", "", "ld.so.cache")
					wantMissing(t, got, "libm.so.6")
				}}
			},
		}, {
			// gcc -shared -fPIC -o L/libfoo.so foo.c; gcc -shared -fPIC -o R/libfoo.so foo2.c
			// gcc -o prog main.c -LR -lfoo -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/R'
			name: "library path before runpath",
			setup: func(t *testing.T, dir string) fixture {
				buildLR(t, dir, "--enable-new-dtags")
				return fixture{
					file:  dir + "/prog",
					flags: []string{"--library-path", dir + "/L"},
					env:   []string{"LD_LIBRARY_PATH=" + dir + "/L"},
					check: func(t *testing.T, got lddJSON) {
						wantLib(t, got, "libfoo.so", dir+"/L/libfoo.so", "LD_LIBRARY_PATH")
					},
				}
			},
		}, {
			// As above with -Wl,--disable-new-dtags: DT_RPATH comes before
			// LD_LIBRARY_PATH.
			name: "rpath before library path",
			setup: func(t *testing.T, dir string) fixture {
				buildLR(t, dir, "--disable-new-dtags")
				return fixture{
					file:  dir + "/prog",
					flags: []string{"--library-path", dir + "/L"},
					env:   []string{"LD_LIBRARY_PATH=" + dir + "/L"},
					check: func(t *testing.T, got lddJSON) {
						wantLib(t, got, "libfoo.so", dir+"/R/libfoo.so", "rpath")
					},
				}
			},
		}, {
			// gcc -shared -fPIC -o lib/libfoo.so foo.c   (no DT_SONAME)
			// gcc -o prog main.c DIR/lib/libfoo.so      (DT_NEEDED DIR/lib/libfoo.so)
			name: "needed with a slash",
			setup: func(t *testing.T, dir string) fixture {
				writeFile(t, dir, "foo.c", fooC)
				writeFile(t, dir, "main.c", mainC)
				cc(t, dir, "gcc", "-shared", "-fPIC", "-o", "lib/libfoo.so", "foo.c")
				cc(t, dir, "gcc", "-o", "prog", "main.c", dir+"/lib/libfoo.so")
				return fixture{file: dir + "/prog", check: func(t *testing.T, got lddJSON) {
					wantLib(t, got, dir+"/lib/libfoo.so", dir+"/lib/libfoo.so", "direct")
				}}
			},
		}, {
			// gcc -o prog main.c lib/libfoo.so   (DT_NEEDED lib/libfoo.so)
			// The loader opens it from its working directory ("/" for both
			// glibc's ldd here and fromscratch), not from the program's.
			name: "relative needed with a slash",
			setup: func(t *testing.T, dir string) fixture {
				writeFile(t, dir, "foo.c", fooC)
				writeFile(t, dir, "main.c", mainC)
				cc(t, dir, "gcc", "-shared", "-fPIC", "-o", "lib/libfoo.so", "foo.c")
				cc(t, dir, "gcc", "-o", "prog", "main.c", "lib/libfoo.so")
				return fixture{file: dir + "/prog", wantCode: 1, check: func(t *testing.T, got lddJSON) {
					wantMissing(t, got, "lib/libfoo.so")
				}}
			},
		}, {
			// gcc -shared -fPIC -Wl,-soname,'$ORIGIN/../lib/libfoo.so' -o lib/libfoo.so foo.c
			// gcc -o bin/prog main.c lib/libfoo.so   (DT_NEEDED $ORIGIN/../lib/libfoo.so)
			// glibc lists it by its expanded name, fromscratch by the
			// DT_NEEDED string; the paths must agree.
			name: "origin in needed",
			setup: func(t *testing.T, dir string) fixture {
				writeFile(t, dir, "foo.c", fooC)
				writeFile(t, dir, "main.c", mainC)
				cc(t, dir, "gcc", "-shared", "-fPIC", "-Wl,-soname,$ORIGIN/../lib/libfoo.so", "-o", "lib/libfoo.so", "foo.c")
				cc(t, dir, "gcc", "-o", "bin/prog", "main.c", "lib/libfoo.so")
				return fixture{file: dir + "/bin/prog", check: func(t *testing.T, got lddJSON) {
					wantLib(t, got, "$ORIGIN/../lib/libfoo.so", dir+"/bin/../lib/libfoo.so", "direct")
				}}
			},
		}, {
			// gcc -shared -fPIC -o lib/libfoo.so foo.c; gcc -shared -fPIC -o lib/libalias.so bar.c
			// gcc -o prog mainbar.c -Llib -lfoo -lalias -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/lib'
			// rm lib/libalias.so; ln -s libfoo.so lib/libalias.so
			// libalias.so is the file already loaded as libfoo.so: one object.
			name: "same file by two names",
			setup: func(t *testing.T, dir string) fixture {
				writeFile(t, dir, "foo.c", fooC)
				writeFile(t, dir, "bar.c", barC)
				writeFile(t, dir, "mainbar.c", mainBarC)
				cc(t, dir, "gcc", "-shared", "-fPIC", "-o", "lib/libfoo.so", "foo.c")
				cc(t, dir, "gcc", "-shared", "-fPIC", "-o", "lib/libalias.so", "bar.c")
				cc(t, dir, "gcc", "-o", "prog", "mainbar.c", "-Llib", "-lfoo", "-lalias", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/lib")
				removeFile(t, dir+"/lib/libalias.so")
				symlink(t, "libfoo.so", dir+"/lib/libalias.so")
				return fixture{file: dir + "/prog", check: func(t *testing.T, got lddJSON) {
					wantLib(t, got, "libfoo.so", dir+"/lib/libfoo.so", "runpath")
					wantOnce(t, got)
					if len(got.Libraries) != 2 {
						t.Errorf("%d libraries, want libfoo.so and libc.so.6", len(got.Libraries))
					}
				}}
			},
		}, {
			// gcc -shared -fPIC -Wl,-soname,libbar.so -o lib/libbar.so bar.c
			// gcc -shared -fPIC -Wl,-soname,libfoo.so -o lib/libfoo.so foobar.c -Llib -lbar
			// gcc -o prog mainbar.c -Llib -lfoo -lbar -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/lib'
			name: "reuse by name",
			setup: func(t *testing.T, dir string) fixture {
				buildFooNeedsBar(t, dir, "lib")
				writeFile(t, dir, "mainbar.c", mainBarC)
				cc(t, dir, "gcc", "-o", "prog", "mainbar.c", "-Llib", "-lfoo", "-lbar", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/lib")
				return fixture{file: dir + "/prog", check: func(t *testing.T, got lddJSON) {
					wantLib(t, got, "libfoo.so", dir+"/lib/libfoo.so", "runpath")
					l := wantLib(t, got, "libbar.so", dir+"/lib/libbar.so", "runpath")
					if l.NeededBy != dir+"/prog" {
						t.Errorf("libbar.so needed_by = %q, want the program %q", l.NeededBy, dir+"/prog")
					}
					wantOnce(t, got)
				}}
			},
		}, {
			// gcc -shared -fPIC -Wl,-soname,libbar.so.1 -o lib/libbar.so bar.c
			// gcc -shared -fPIC -Wl,-soname,libfoo.so -o lib/libfoo.so foobar.c -Llib -lbar   (needs libbar.so.1)
			// gcc -shared -fPIC -o tmp/libbar.so bar.c   (no soname)
			// gcc -o prog mainbar.c -Ltmp -Llib -lfoo -lbar -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/lib'   (needs libbar.so)
			// rm -r tmp
			// No file is called libbar.so.1: libfoo's libbar.so.1 is the
			// program's libbar.so, by its DT_SONAME.
			name: "reuse by soname",
			setup: func(t *testing.T, dir string) fixture {
				writeFile(t, dir, "bar.c", barC)
				writeFile(t, dir, "foobar.c", fooBarC)
				writeFile(t, dir, "mainbar.c", mainBarC)
				cc(t, dir, "gcc", "-shared", "-fPIC", "-Wl,-soname,libbar.so.1", "-o", "lib/libbar.so", "bar.c")
				cc(t, dir, "gcc", "-shared", "-fPIC", "-Wl,-soname,libfoo.so", "-o", "lib/libfoo.so", "foobar.c", "-Llib", "-lbar")
				cc(t, dir, "gcc", "-shared", "-fPIC", "-o", "tmp/libbar.so", "bar.c")
				cc(t, dir, "gcc", "-o", "prog", "mainbar.c", "-Ltmp", "-Llib", "-lfoo", "-lbar", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/lib")
				if err := os.RemoveAll(dir + "/tmp"); err != nil {
					t.Fatal(err)
				}
				return fixture{file: dir + "/prog", check: func(t *testing.T, got lddJSON) {
					wantLib(t, got, "libbar.so", dir+"/lib/libbar.so", "runpath")
					for _, l := range got.Libraries {
						if l.Name == "libbar.so.1" {
							t.Errorf("libbar.so.1 listed (%+v), want it matched to libbar.so by DT_SONAME", l)
						}
					}
					wantOnce(t, got)
				}}
			},
		}, {
			// gcc -shared -fPIC -o H/libfoo.so foo.c
			// gcc -shared -fPIC -o H/glibc-hwcaps/x86-64-v2/libfoo.so foo2.c
			// gcc -o prog main.c -LH -lfoo -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/H'
			name: "glibc-hwcaps",
			setup: func(t *testing.T, dir string) fixture {
				buildHWCaps(t, dir)
				return fixture{file: dir + "/prog", check: func(t *testing.T, got lddJSON) {
					wantLib(t, got, "libfoo.so", dir+"/H/glibc-hwcaps/x86-64-v2/libfoo.so", "runpath")
				}}
			},
		}, {
			// As above, with --hwcaps none; the loader's own switch is
			// --glibc-hwcaps-mask ''.
			name: "glibc-hwcaps none",
			setup: func(t *testing.T, dir string) fixture {
				buildHWCaps(t, dir)
				return fixture{
					file:   dir + "/prog",
					flags:  []string{"--hwcaps", "none"},
					oracle: []string{glibcLoader, "--glibc-hwcaps-mask", "", "--list"},
					check: func(t *testing.T, got lddJSON) {
						wantLib(t, got, "libfoo.so", dir+"/H/libfoo.so", "runpath")
					},
				}
			},
		}, {
			// As above, with --hwcaps x86-64-v3: the x86-64-v2 copy is not
			// among the levels searched.
			name: "glibc-hwcaps other level",
			setup: func(t *testing.T, dir string) fixture {
				buildHWCaps(t, dir)
				return fixture{
					file:   dir + "/prog",
					flags:  []string{"--hwcaps", "x86-64-v3"},
					oracle: []string{glibcLoader, "--glibc-hwcaps-mask", "x86-64-v3", "--list"},
					check: func(t *testing.T, got lddJSON) {
						wantLib(t, got, "libfoo.so", dir+"/H/libfoo.so", "runpath")
					},
				}
			},
		}}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, tool := range tc.tools {
				requireTool(t, tool)
			}
			dir := tempDir(t)
			fx := tc.setup(t, dir)
			args := append(append([]string{"ldd", "--json"}, fx.flags...), fx.file)
			res, stderr, code := runLddJSON(t, bin, 1, args...)
			got := res[0]
			if code != fx.wantCode {
				t.Errorf("fromscratch ldd exit code = %d, want %d\nstderr: %s", code, fx.wantCode, stderr)
			}
			if got.Error != "" {
				t.Fatalf("fromscratch ldd = error %q", got.Error)
			}
			if fx.check != nil {
				fx.check(t, got)
			}
			if t.Failed() {
				t.Logf("fromscratch ldd --json:\n%s", describeResult(got))
			}

			for _, kv := range fx.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			switch {
			case fx.loadError != "":
				w := glibcLdd(fx.file)
				if !strings.Contains(w.skip, fx.loadError) {
					t.Fatalf("ldd %s: want the loader to fail with %q, got %v %q", fx.file, fx.loadError, w.set, w.skip)
				}
				return
			case fx.static:
				w := glibcLdd(fx.file)
				if !w.static && w.skip != "not a dynamic executable" {
					t.Fatalf("ldd %s = %v %q, want statically linked", fx.file, w.set, w.skip)
				}
				return
			case fx.oracle == nil:
				w := glibcLdd(fx.file)
				if w.skip != "" || w.static {
					t.Fatalf("ldd %s: no answer to compare: %q", fx.file, w.skip)
				}
				wantInterpreter(t, got, glibcLoader, "glibc")
				if d := diffSets(w.set, withoutUnlisted(resultSet(got, realpath), w.set, got, realpath)); d != "" {
					t.Errorf("fromscratch ldd and glibc ldd differ: %s", d)
				}
				comparePaths(t, traceLoader(t, "ldd", fx.file), got)
			default:
				wantTrace(t, strings.Join(fx.oracle, " "), traceLoader(t, append(fx.oracle, fx.file)...), got, realpath)
			}
			wantRealpaths(t, got, realpath)
		})
	}
}

// badCandidate is a fixture where libfoo.so in LD_LIBRARY_PATH (dir/L) is a
// file the loader refuses with loadError, and a good libfoo.so is in the
// program's RUNPATH (dir/R):
//
//	gcc -shared -fPIC -o R/libfoo.so foo.c
//	gcc -o prog main.c -LR -lfoo -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/R'
func badCandidate(name, loadError string, makeBad func(t *testing.T, dir string)) fixtureCase {
	return fixtureCase{name: name, setup: func(t *testing.T, dir string) fixture {
		writeFile(t, dir, "foo.c", fooC)
		writeFile(t, dir, "main.c", mainC)
		cc(t, dir, "gcc", "-shared", "-fPIC", "-o", "R/libfoo.so", "foo.c")
		cc(t, dir, "gcc", "-o", "prog", "main.c", "-LR", "-lfoo", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/R")
		if err := os.MkdirAll(dir+"/L", 0o755); err != nil {
			t.Fatal(err)
		}
		makeBad(t, dir)
		return fixture{
			file:      dir + "/prog",
			flags:     []string{"--library-path", dir + "/L"},
			env:       []string{"LD_LIBRARY_PATH=" + dir + "/L"},
			loadError: loadError,
			wantCode:  1,
			check: func(t *testing.T, got lddJSON) {
				for _, l := range got.Libraries {
					if l.Name == "libfoo.so" && l.Found {
						t.Errorf("libfoo.so found at %s via %s; the loader stops at %s/L/libfoo.so: %s", l.Path, l.Via, dir, loadError)
					}
				}
			},
		}
	}}
}

// buildFooNeedsBar builds sub/libbar.so and sub/libfoo.so (which needs
// libbar.so and has no search path), and writes main.c.
func buildFooNeedsBar(t *testing.T, dir, sub string) {
	t.Helper()
	writeFile(t, dir, "bar.c", barC)
	writeFile(t, dir, "foobar.c", fooBarC)
	writeFile(t, dir, "main.c", mainC)
	cc(t, dir, "gcc", "-shared", "-fPIC", "-Wl,-soname,libbar.so", "-o", sub+"/libbar.so", "bar.c")
	cc(t, dir, "gcc", "-shared", "-fPIC", "-Wl,-soname,libfoo.so", "-o", sub+"/libfoo.so", "foobar.c", "-L"+sub, "-lbar")
}

// buildRPathD1D2 builds d2/libfoo.so and prog with DT_RPATH $ORIGIN/d1:$ORIGIN/d2.
func buildRPathD1D2(t *testing.T, dir string) {
	t.Helper()
	writeFile(t, dir, "main.c", mainC)
	cc(t, dir, "gcc", "-shared", "-fPIC", "-o", "d2/libfoo.so", "foo.c")
	cc(t, dir, "gcc", "-o", "prog", "main.c", "-Ld2", "-lfoo", "-Wl,--disable-new-dtags", "-Wl,-rpath,$ORIGIN/d1:$ORIGIN/d2")
}

// buildLR builds two different L/libfoo.so and R/libfoo.so and prog with
// $ORIGIN/R as DT_RUNPATH or DT_RPATH (dtags).
func buildLR(t *testing.T, dir, dtags string) {
	t.Helper()
	writeFile(t, dir, "foo.c", fooC)
	writeFile(t, dir, "foo2.c", foo2C)
	writeFile(t, dir, "main.c", mainC)
	cc(t, dir, "gcc", "-shared", "-fPIC", "-o", "L/libfoo.so", "foo.c")
	cc(t, dir, "gcc", "-shared", "-fPIC", "-o", "R/libfoo.so", "foo2.c")
	cc(t, dir, "gcc", "-o", "prog", "main.c", "-LR", "-lfoo", "-Wl,"+dtags, "-Wl,-rpath,$ORIGIN/R")
}

// buildHWCaps builds H/libfoo.so, H/glibc-hwcaps/x86-64-v2/libfoo.so and
// prog with DT_RUNPATH $ORIGIN/H; it skips when this CPU lacks x86-64-v2.
func buildHWCaps(t *testing.T, dir string) {
	t.Helper()
	out, _ := exec.Command(glibcLoader, "--help").CombinedOutput()
	if !strings.Contains(string(out), "x86-64-v2 (supported, searched)") {
		t.Skipf("%s --help: x86-64-v2 not supported here:\n%s", glibcLoader, out)
	}
	writeFile(t, dir, "foo.c", fooC)
	writeFile(t, dir, "foo2.c", foo2C)
	writeFile(t, dir, "main.c", mainC)
	cc(t, dir, "gcc", "-shared", "-fPIC", "-o", "H/libfoo.so", "foo.c")
	cc(t, dir, "gcc", "-shared", "-fPIC", "-o", "H/glibc-hwcaps/x86-64-v2/libfoo.so", "foo2.c")
	cc(t, dir, "gcc", "-o", "prog", "main.c", "-LH", "-lfoo", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/H")
}

// TestFixtureBadInput gives fromscratch ldd unusable files among good ones:
// each bad one gets exactly one "fromscratch: FILE: reason" line on stderr
// and an "error" in the JSON, the good ones are still answered, the exit
// code is 2, and nothing panics or hangs.
func TestFixtureBadInput(t *testing.T) {
	requireTool(t, "gcc")
	bin := fromscratchBin(t)
	dir := tempDir(t)

	writeFile(t, dir, "hello.c", helloC)
	writeFile(t, dir, "foo.c", fooC)
	// gcc -o good hello.c; gcc -c -o obj.o foo.c
	cc(t, dir, "gcc", "-o", "good", "hello.c")
	cc(t, dir, "gcc", "-c", "-o", "obj.o", "foo.c")
	good := readFile(t, dir+"/good")

	type badFile struct {
		name   string
		reason string // a part of the reason
		make   func(p string)
	}
	bad := []badFile{
		{"text", "not an ELF file", func(p string) {
			writeFile(t, dir, filepath.Base(p), strings.Repeat("just some text\n", 20))
		}},
		{"truncated", "malformed ELF", func(p string) { writeFile(t, dir, filepath.Base(p), string(good[:100])) }},
		{"directory", "is a directory", func(p string) { mkdir(t, p) }},
		{"loop", "too many levels of symbolic links", func(p string) {
			symlink(t, "loop2", p)
			symlink(t, "loop", dir+"/loop2")
		}},
		{"nonexistent", "no such file or directory", func(string) {}},
		{"bogus-phdrs", "malformed ELF", func(p string) {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint64(b[0x20:], 0xffffffffffff0000) // e_phoff
			binary.LittleEndian.PutUint16(b[0x38:], 0xffff)             // e_phnum
			writeFile(t, dir, filepath.Base(p), string(b))
		}},
		{"bogus-phdrs-small", "malformed ELF", func(p string) {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint64(b[0x20:], uint64(len(b)-8)) // e_phoff
			writeFile(t, dir, filepath.Base(p), string(b))
		}},
		{"relocatable", "not a program or shared library", func(p string) {
			if err := os.Rename(dir+"/obj.o", p); err != nil {
				t.Fatal(err)
			}
		}},
		{"fifo", "not a regular file", func(p string) {
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}},
	}
	if os.Geteuid() != 0 {
		bad = append(bad, badFile{"unreadable", "permission denied", func(p string) {
			writeFile(t, dir, filepath.Base(p), string(good))
			if err := os.Chmod(p, 0); err != nil {
				t.Fatal(err)
			}
		}})
	} else {
		t.Log("running as root: no unreadable-file case (root reads any file)")
	}

	files := []string{dir + "/good"}
	for _, b := range bad {
		p := dir + "/" + b.name
		b.make(p)
		files = append(files, p)
	}
	files = append(files, "/bin/true")
	args := append([]string{"ldd", "--json"}, files...)
	res, stderr, code := runLddJSON(t, bin, len(files), args...)
	if code != 2 {
		t.Errorf("fromscratch ldd exit code = %d, want 2", code)
	}

	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != len(bad) {
		t.Errorf("fromscratch ldd stderr has %d lines, want %d (one per bad file):\n%s", len(lines), len(bad), stderr)
	}
	for i, b := range bad {
		p := files[i+1]
		prefix := "fromscratch: " + p + ": "
		var mine []string
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				mine = append(mine, l)
			}
		}
		if len(mine) != 1 {
			t.Errorf("%s: stderr lines %q, want exactly one %q...", b.name, mine, prefix)
		} else if !strings.Contains(mine[0], b.reason) {
			t.Errorf("%s: stderr %q, want the reason %q", b.name, mine[0], b.reason)
		}
		if r := res[i+1]; r.File != p || !strings.Contains(r.Error, b.reason) || len(r.Libraries) != 0 {
			t.Errorf("%s: fromscratch ldd --json = %+v, want file %q with error %q", b.name, r, p, b.reason)
		}
	}
	for _, i := range []int{0, len(files) - 1} {
		r := res[i]
		if r.File != files[i] || r.Error != "" || r.Static || r.InterpreterFound == nil || !*r.InterpreterFound {
			t.Errorf("good file %s: fromscratch ldd --json = %+v, want it answered", files[i], r)
		}
		wantLib(t, r, "libc.so.6", "", "")
	}
}

// TestFixtureJSONLibraries: "libraries" is always a JSON array (DESIGN.md),
// [] when nothing is loaded: a static program, a bad file, a musl program
// that needs only libc.so (the loader itself), a glibc program with a
// PT_INTERP and no DT_NEEDED.
func TestFixtureJSONLibraries(t *testing.T) {
	requireTool(t, "gcc")
	bin := fromscratchBin(t)
	dir := tempDir(t)
	// gcc -static -o static hello.c
	// gcc -nostdlib -o nolibs start.c
	// musl-gcc -o musl hello.c
	writeFile(t, dir, "hello.c", helloC)
	writeFile(t, dir, "start.c", "void _start(void) { for (;;) ; }\n")
	writeFile(t, dir, "bad", "not an ELF file\n")
	cc(t, dir, "gcc", "-static", "-o", "static", "hello.c")
	cc(t, dir, "gcc", "-nostdlib", "-o", "nolibs", "start.c")
	files := []string{dir + "/static", dir + "/bad", dir + "/nolibs"}
	if _, err := exec.LookPath("musl-gcc"); err == nil {
		cc(t, dir, "musl-gcc", "-o", "musl", "hello.c")
		files = append(files, dir+"/musl")
	}
	stdout, stderr, code := runFromscratch(t, bin, append([]string{"ldd", "--json"}, files...)...)
	if code != 2 {
		t.Errorf("fromscratch ldd exit code = %d, want 2 (one bad file)\nstderr: %s", code, stderr)
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil || len(raw) != len(files) {
		t.Fatalf("fromscratch ldd --json: bad JSON (%v) or not %d objects:\n%s", err, len(files), stdout)
	}
	for i, o := range raw {
		if l := string(o["libraries"]); l != "[]" {
			t.Errorf(`fromscratch ldd --json %s: "libraries": %s, want []`, files[i], l)
		}
	}
}

// runLddJSON runs fromscratch (from "/") with args, which must ask for
// --json, and decodes its answer for n files. It fails the test on a crash,
// a panic, a timeout or bad JSON.
func runLddJSON(t *testing.T, bin string, n int, args ...string) ([]lddJSON, string, int) {
	t.Helper()
	stdout, stderr, code := runFromscratch(t, bin, args...)
	var res []lddJSON
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("fromscratch %s: bad JSON: %v\n%s\nstderr: %s", strings.Join(args, " "), err, stdout, stderr)
	}
	if len(res) != n {
		t.Fatalf("fromscratch %s gave %d objects, want %d", strings.Join(args, " "), len(res), n)
	}
	return res, stderr, code
}

// runFromscratch runs fromscratch with args from "/" and returns its
// output and exit code.
func runFromscratch(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	return cliRun{bin: bin, dir: "/", limit: time.Minute}.run(t, args...)
}

// trace is a real loader's list of what it loads (glibc's ldd, ld.so
// --list, musl's ld.so --list).
type trace struct {
	// paths maps each name listed to the path printed, "" for "not
	// found". A line without "=>" (the loader, or a DT_NEEDED that is a
	// path) maps the path to itself.
	paths map[string]string
	out   string
}

// set returns the real paths loaded and "not found: NAME", as glibcLdd.
func (tr trace) set(real func(string) string) map[string]bool {
	s := map[string]bool{}
	for name, p := range tr.paths {
		if p == "" {
			s["not found: "+name] = true
		} else {
			s[real(p)] = true
		}
	}
	return s
}

// wantTrace checks fromscratch's answer got against a real loader's
// listing tr (loader says which): the same real paths, but for what the
// loader does not list (see withoutUnlisted), and the same path strings.
func wantTrace(t *testing.T, loader string, tr trace, got lddJSON, real func(string) string) {
	t.Helper()
	want := tr.set(real)
	if d := diffSets(want, withoutUnlisted(resultSet(got, real), want, got, real)); d != "" {
		t.Errorf("fromscratch ldd and %s differ: %s", loader, d)
	}
	comparePaths(t, tr, got)
}

// traceLoader runs argv (from "/") and parses its ldd-style listing.
func traceLoader(t *testing.T, argv ...string) trace {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = "/"
	return traceCmd(t, ctx, cmd)
}

// traceCmd runs cmd and parses its ldd-style listing.
func traceCmd(t *testing.T, ctx context.Context, cmd *exec.Cmd) trace {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s = %v", cmd, err)
	}
	tr := trace{paths: map[string]string{}, out: string(out)}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := lddArrow.FindStringSubmatch(line); m != nil {
			if m[2] == "not found" {
				tr.paths[m[1]] = ""
			} else {
				tr.paths[m[1]] = m[2]
			}
		} else if m := lddLoader.FindStringSubmatch(line); m != nil {
			tr.paths[m[1]] = m[1]
		}
	}
	if len(tr.paths) == 0 {
		t.Fatalf("%s: no listing (err %v):\n%s", cmd, err, out)
	}
	return tr
}

// comparePaths checks that fromscratch lists the same names as the real
// loader, with the same path strings. The loader itself is left out of
// Libraries by fromscratch: under its own path, or under the name musl
// gives it (libc.so => /lib/ld-musl-x86_64.so.1).
func comparePaths(t *testing.T, tr trace, got lddJSON) {
	t.Helper()
	listed := map[string]bool{}
	for _, l := range got.Libraries {
		listed[l.Name] = true
		want, ok := tr.paths[l.Name]
		if !ok && l.Via == "direct" {
			// glibc lists a DT_NEEDED with tokens by its expansion.
			listed[l.Path] = true
			want, ok = tr.paths[l.Path]
		}
		switch {
		case !ok:
			t.Errorf("%s => %q listed; the real loader does not list it:\n%s", l.Name, l.Path, tr.out)
		case want != l.Path:
			t.Errorf("%s => %q (found %v), real loader %q", l.Name, l.Path, l.Found, want)
		}
	}
	for name, p := range tr.paths {
		if !listed[name] && !(p != "" && p == got.Interpreter) {
			t.Errorf("real loader lists %s => %q; fromscratch does not", name, p)
		}
	}
}

// withoutUnlisted drops the interpreter from got's set when the real
// loader does not list it: glibc leaves itself out of the listing when no
// object names it in DT_NEEDED (rtld.c, rtld_multiple_ref), e.g. when
// libc.so.6 is not found; the kernel still loads it, as fromscratch says.
func withoutUnlisted(gs, want map[string]bool, got lddJSON, real func(string) string) map[string]bool {
	if k := real(got.Interpreter); got.Interpreter != "" && gs[k] && !want[k] {
		delete(gs, k)
	}
	return gs
}

// resultSet is fromscratch's answer r as the oracles compare it: the real
// paths (resolved by real) of the loader and the libraries loaded, and
// "not found: NAME" for each one missing.
func resultSet(r lddJSON, real func(string) string) map[string]bool {
	s := map[string]bool{}
	if r.Static {
		return s
	}
	if r.InterpreterFound != nil && *r.InterpreterFound {
		s[real(r.Interpreter)] = true
	} else if r.Interpreter != "" {
		s["not found: "+r.Interpreter] = true
	}
	for _, l := range r.Libraries {
		if l.Found {
			s[real(l.Path)] = true
		} else {
			s["not found: "+l.Name] = true
		}
	}
	return s
}

// wantRealpaths checks each library's realpath field against real(path).
func wantRealpaths(t *testing.T, got lddJSON, real func(string) string) {
	t.Helper()
	for _, l := range got.Libraries {
		if l.Found && l.Realpath != real(l.Path) {
			t.Errorf("%s: realpath = %q, want %q (of %q)", l.Name, l.Realpath, real(l.Path), l.Path)
		}
	}
}

// wantLib checks that name was found at path (any path if "") via via (any
// if "") and returns it.
func wantLib(t *testing.T, got lddJSON, name, path, via string) ldso.Library {
	t.Helper()
	for _, l := range got.Libraries {
		if l.Name != name {
			continue
		}
		if !l.Found || (path != "" && l.Path != path) || (via != "" && l.Via != via) {
			t.Errorf("%s => %q found %v via %q, want %q via %q", name, l.Path, l.Found, l.Via, path, via)
		}
		return l
	}
	t.Errorf("%s not listed, want %q via %q", name, path, via)
	return ldso.Library{}
}

// wantMissing checks that name is listed as not found.
func wantMissing(t *testing.T, got lddJSON, name string) {
	t.Helper()
	for _, l := range got.Libraries {
		if l.Name == name {
			if l.Found || l.Path != "" {
				t.Errorf("%s => %q found %v via %q, want not found and path \"\"", name, l.Path, l.Found, l.Via)
			}
			return
		}
	}
	t.Errorf("%s not listed, want it listed as not found", name)
}

// wantOnce checks that no name and no real path is listed twice.
func wantOnce(t *testing.T, got lddJSON) {
	t.Helper()
	seen := map[string]bool{}
	for _, l := range got.Libraries {
		for _, k := range []string{"name " + l.Name, "realpath " + l.Realpath} {
			if l.Realpath == "" && strings.HasPrefix(k, "realpath") {
				continue
			}
			if seen[k] {
				t.Errorf("%s listed twice", k)
			}
			seen[k] = true
		}
	}
}

func wantStatic(t *testing.T, got lddJSON) {
	t.Helper()
	if !got.Static || got.Interpreter != "" || len(got.Libraries) != 0 {
		t.Errorf("fromscratch ldd = %+v, want static, no interpreter, no libraries", got)
	}
}

func wantInterpreter(t *testing.T, got lddJSON, interp, flavor string) {
	t.Helper()
	if got.Interpreter != interp || got.InterpreterFound == nil || !*got.InterpreterFound || got.Flavor != flavor {
		t.Errorf("interpreter = %q (found %v), loader %q; want %q found, %q", got.Interpreter, got.InterpreterFound, got.Flavor, interp, flavor)
	}
}

// describeResult prints r for a failure message.
func describeResult(r lddJSON) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\tinterpreter %s (found %v)\n", r.Interpreter, r.InterpreterFound != nil && *r.InterpreterFound)
	for _, l := range r.Libraries {
		fmt.Fprintf(&b, "\t%s => %q found %v via %q (realpath %q, needed by %s)\n", l.Name, l.Path, l.Found, l.Via, l.Realpath, l.NeededBy)
	}
	return b.String()
}

// tempDir is t.TempDir with symbolic links resolved, so that the paths the
// loaders print can be compared as strings.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// cc runs a compiler in dir, creating the directory of its -o file first.
func cc(t *testing.T, dir, compiler string, args ...string) {
	t.Helper()
	if out, err := command(dir, compiler, args...); err != nil {
		t.Fatalf("%s %s = %v\n%s", compiler, strings.Join(args, " "), err, out)
	}
}

func command(dir, name string, args ...string) ([]byte, error) {
	for i, a := range args {
		if a == "-o" && i+1 < len(args) {
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(args[i+1])), 0o755); err != nil {
				return nil, err
			}
		}
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func removeFile(t *testing.T, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func requireFile(t *testing.T, p string) {
	t.Helper()
	testenv.File(t, p)
}
