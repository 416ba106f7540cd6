package inspect

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// TestGates: each gate, at and past its limit, in the unit it was given
// in; Read checks Options.Gates.
func TestGates(t *testing.T) {
	// 790 wasted bytes of 10000: 7.9%, efficiency 0.921.
	r := &Report{TotalBytes: 10000, WastedBytes: 790, WastedPercent: 7.9, Efficiency: 0.921}
	for _, tc := range []struct {
		maxWaste string
		minEff   float64
		want     []Gate
	}{
		{"", 0, nil},
		{"790", 0, nil},
		{"789", 0, []Gate{GateMaxWaste}},
		{"789B", 0, []Gate{GateMaxWaste}},
		{"0.79KB", 0, nil},
		{"0.78K", 0, []Gate{GateMaxWaste}},
		{"1KiB", 0.921, nil},
		{"7.9%", 0, nil},
		{"7.89%", 0.95, []Gate{GateMaxWaste, GateMinEfficiency}},
		{"", 0.9211, []Gate{GateMinEfficiency}},
	} {
		var g Gates
		if tc.maxWaste != "" {
			l, err := ParseWasteLimit(tc.maxWaste)
			if err != nil {
				t.Fatalf("ParseWasteLimit(%q) = %v", tc.maxWaste, err)
			}
			g.MaxWaste = &l
		}
		g.MinEfficiency = tc.minEff
		if got := r.Check(g); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Check(max waste %q, min efficiency %v) = %v, want %v", tc.maxWaste, tc.minEff, got, tc.want)
		}
	}

	l, _ := ParseWasteLimit("100B")
	rep, err := Read(context.Background(), testImage(t), Options{Gates: Gates{MaxWaste: &l, MinEfficiency: 0.5}, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Gate{GateMaxWaste}; !reflect.DeepEqual(rep.Crossed, want) {
		t.Errorf("Read: crossed %v, want %v (wasted %d, efficiency %v)", rep.Crossed, want, rep.WastedBytes, rep.Efficiency)
	}
}

// TestParseWasteLimit: units, and the limit written back in its unit.
func TestParseWasteLimit(t *testing.T) {
	for _, tc := range []struct {
		in      string
		percent bool
		value   float64
		format  string // of 1536 bytes
	}{
		{"5%", true, 5, ""},
		{"1048576", false, 1048576, "1536 bytes"},
		{"10MB", false, 10e6, "0.001536MB"},
		{"1.5KiB", false, 1536, "1.5KiB"},
		{"2 G", false, 2e9, "0.000001536G"},
		{"7B", false, 7, "1536 bytes"},
	} {
		l, err := ParseWasteLimit(tc.in)
		if err != nil || l.Percent != tc.percent || l.Value != tc.value {
			t.Errorf("ParseWasteLimit(%q) = %+v, %v; want percent %v, value %v", tc.in, l, err, tc.percent, tc.value)
		}
		if tc.format != "" && l.Format(1536) != tc.format {
			t.Errorf("ParseWasteLimit(%q).Format(1536) = %q, want %q", tc.in, l.Format(1536), tc.format)
		}
	}
	for bad, want := range map[string]error{"": ErrBadBytes, "-1": ErrBadBytes, "x": ErrBadBytes, "10TB": ErrBadBytes,
		"-5%": ErrBadPercent, "%": ErrBadPercent, " 0.5 % ": ErrBadPercent} {
		if _, err := ParseWasteLimit(bad); !errors.Is(err, want) {
			t.Errorf("ParseWasteLimit(%q) = %v, want %v", bad, err, want)
		}
	}
}
