package testenv

import (
	"testing"
)

// recorder is a testing.TB that records how Missing stops it.
type recorder struct {
	testing.TB
	failed, skipped bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Fatalf(string, ...any) { r.failed = true }
func (r *recorder) Skipf(string, ...any)  { r.skipped = true }

func TestMissing(t *testing.T) {
	for _, tt := range []struct {
		ci, docker string
		fail       bool
	}{
		{"", "", false},
		{"true", "", true},
		{"1", "", true},
		{"yes", "", false}, // scripts/test's is_ci: true or 1
		{"", "1", true},
	} {
		t.Setenv("CI", tt.ci)
		t.Setenv("FROMSCRATCH_REQUIRE_DOCKER", tt.docker)
		r := &recorder{TB: t}
		Missing(r, "no %s", "tool")
		if r.failed != tt.fail || r.skipped == tt.fail {
			t.Errorf("CI=%q FROMSCRATCH_REQUIRE_DOCKER=%q: failed %v, skipped %v; want failed %v", tt.ci, tt.docker, r.failed, r.skipped, tt.fail)
		}
	}
}
