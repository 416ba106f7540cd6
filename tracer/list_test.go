package tracer

import (
	"slices"
	"strings"
	"testing"
)

func TestReadList(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
		err      string
	}{
		{"text", "# fromscratch trace: iconv (exit 0)\n/usr/lib/a\n\n/usr/lib/b/../c\n/usr/lib/a\n# not found: /x\n", []string{"/usr/lib/a", "/usr/lib/c"}, ""},
		{"spaces", "  /a  \n", []string{"/a"}, ""},
		{"relative", "/a\nb\n", nil, `line 2: "b" is not an absolute path`},
		{"json", `{"argv":["x"],"exit_code":0,"accesses":[{"path":"/a","op":"open","found":true,"pid":1},{"path":"/b","op":"stat","found":false,"pid":1},{"path":"/a","op":"stat","found":true,"pid":1}]}`, []string{"/a"}, ""},
		{"json-relative", `{"accesses":[{"path":"a","found":true}]}`, nil, `"a" is not an absolute path`},
		{"json-bad", `{"accesses":`, nil, "not a trace's JSON"},
		{"empty", "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadList(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ReadList() = %q, %v; want error %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("ReadList() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func FuzzReadList(f *testing.F) {
	f.Add("/a\n# c\n/b\n")
	f.Add(`{"accesses":[{"path":"/a","found":true}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		paths, err := ReadList(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, p := range paths {
			if !strings.HasPrefix(p, "/") {
				t.Fatalf("path %q is not absolute", p)
			}
		}
	})
}
