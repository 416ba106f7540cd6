package ldso

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseCache parses arbitrary bytes and calls every accessor: errors
// must be *CacheError inside the input, and a lookup may only return the
// path of an entry of that name that the loader accepts. Seeds: the
// checked-in caches here and testdata/fuzz/FuzzParseCache.
func FuzzParseCache(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(cacheTestdata, "*.cache"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	hwcapLists := [][]string{nil, {"x86-64-v4", "x86-64-v3", "x86-64-v2"}, {"x86-64-v2"}, {"power10", "power9"}}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCache(b)
		if err != nil {
			var ce *CacheError
			if !errors.As(err, &ce) || c != nil {
				t.Fatalf("ParseCache() = %v, %v; want nil and a *CacheError", c, err)
			}
			if ce.Offset < 0 || ce.Offset > int64(len(b)) || ce.Error() == "" {
				t.Fatalf("ParseCache() = %v: offset %d outside the %d-byte input", err, ce.Offset, len(b))
			}
			return
		}
		switch c.Format() {
		case cacheFormatNew, cacheFormatOld, cacheFormatCompat:
		default:
			t.Fatalf("Format() = %q", c.Format())
		}
		ents := c.Entries()
		if len(ents)*cacheOldEntry > len(b) {
			t.Fatalf("Entries() has %d entries in %d bytes", len(ents), len(b))
		}
		check := func(name string, flags uint32, hwcaps []string) {
			p := c.Lookup(name, flags, hwcaps)
			if p == "" {
				return
			}
			ld := loaderFor(flags)
			if i := strings.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			for _, e := range ents {
				if e.Path == p && libcmp(name, e.Name, ld.unsignedChar) == 0 && acceptFlags(flags, e.Flags) {
					return
				}
			}
			t.Fatalf("Lookup(%q, %#x, %v) = %q, which no accepted entry of that name holds", name, flags, hwcaps, p)
		}
		for i, e := range ents {
			if i == 64 {
				break
			}
			for _, flags := range []uint32{e.Flags, cacheTestX8664, cacheFlagELFLibc6, cacheFlagARMLibHF | cacheFlagELFLibc6} {
				for _, hw := range hwcapLists {
					check(e.Name, flags, hw)
				}
				check(e.Name, flags, []string{e.HWCapSubdir})
			}
		}
		check("", cacheTestX8664, nil)
		check(string(b[:min(len(b), 24)]), cacheTestX8664, nil)
	})
}

// FuzzReadConf reads an arbitrary ld.so.conf that includes an arbitrary
// ld.so.conf.d/a.conf (which may include itself through nested/n.conf):
// ReadConf must succeed with distinct, non-empty directories.
func FuzzReadConf(f *testing.F) {
	f.Add([]byte(confTestMain), []byte("/a1\ninclude nested/*.conf\n"))
	f.Add([]byte("include /etc/ld.so.conf.d/*.conf\n"), []byte("/usr/lib/x86_64-linux-gnu\ninclude /etc/ld.so.conf\n"))
	f.Add([]byte("include\t*/*.conf /etc/*\n=libc6\n /a/ //\n"), []byte("hwcap 0 x\n#\x00\r\n"))
	f.Fuzz(func(t *testing.T, top, inc []byte) {
		_, fsys := confTestRoot(t, map[string]confTestFile{
			"etc/ld.so.conf":                 {body: string(top)},
			"etc/ld.so.conf.d/a.conf":        {body: string(inc)},
			"etc/ld.so.conf.d/nested/n.conf": {body: string(inc)},
			"etc/ld.so.conf.d/b.conf":        {link: "nested/n.conf"},
		})
		dirs, err := ReadConf(fsys, "/etc/ld.so.conf")
		if err != nil {
			t.Fatalf("ReadConf() = %v", err)
		}
		seen := map[string]bool{}
		for _, d := range dirs {
			if d == "" || seen[d] || strings.ContainsAny(d, "#\n\x00") || strings.HasSuffix(d, "/") ||
				strings.TrimLeft(d, confSpace) != d {
				t.Fatalf("ReadConf() = %q: bad or repeated directory %q", dirs, d)
			}
			seen[d] = true
		}
	})
}
