package inspect

import (
	"errors"
	"strconv"
	"strings"
)

// Gates are limits an image must keep to (as a CI gate).
type Gates struct {
	// MaxWaste is the most wasted bytes allowed; nil for no limit.
	MaxWaste *WasteLimit
	// MinEfficiency is the least efficiency allowed (0 to 1); 0 for no
	// limit.
	MinEfficiency float64
}

// Gate names a limit of [Gates].
type Gate string

// The gates.
const (
	GateMaxWaste      Gate = "max-waste"
	GateMinEfficiency Gate = "min-efficiency"
)

// Check returns the gates r does not pass, in the order of [Gates]' fields.
// The wasted bytes are compared in the unit the limit was given in: a
// percentage of the total bytes, or bytes.
func (r *Report) Check(g Gates) []Gate {
	var crossed []Gate
	if l := g.MaxWaste; l != nil {
		if l.Percent && r.WastedPercent > l.Value || !l.Percent && float64(r.WastedBytes) > l.Value {
			crossed = append(crossed, GateMaxWaste)
		}
	}
	if g.MinEfficiency > 0 && r.Efficiency < g.MinEfficiency {
		crossed = append(crossed, GateMinEfficiency)
	}
	return crossed
}

// WasteLimit is a limit on wasted bytes: a number of bytes, or a
// percentage of the total bytes.
type WasteLimit struct {
	// Percent says Value is a percentage; else it is bytes.
	Percent bool
	Value   float64
	// Unit is the unit the limit was written in: "%", "KiB", "MB", ...,
	// "B", or "" for plain bytes.
	Unit string
	mult float64 // bytes a Unit
}

// The units of a limit in bytes, as ParseWasteLimit tries them.
var wasteUnits = []struct {
	suffix string
	mult   float64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1}}

// ErrBadPercent and ErrBadBytes are the errors of ParseWasteLimit.
var (
	ErrBadPercent = errors.New("want a percentage")
	ErrBadBytes   = errors.New("want BYTES (e.g. 1048576, 10MB) or PCT (e.g. 5%)")
)

// ParseWasteLimit parses "5%", "1048576", "10MB", "1.5GiB" (decimal units
// K, M, G, KB, MB, GB; binary KiB, MiB, GiB; B).
func ParseWasteLimit(s string) (WasteLimit, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 0 {
			return WasteLimit{}, ErrBadPercent
		}
		return WasteLimit{Percent: true, Value: v, Unit: "%"}, nil
	}
	l := WasteLimit{mult: 1}
	for _, u := range wasteUnits {
		if p, ok := strings.CutSuffix(s, u.suffix); ok {
			s, l.Unit, l.mult = p, u.suffix, u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v < 0 {
		return WasteLimit{}, ErrBadBytes
	}
	l.Value = v * l.mult
	return l, nil
}

// Format writes n bytes in the limit's unit: "10.04MB", or "1048577 bytes"
// for a limit in bytes.
func (l WasteLimit) Format(n int64) string {
	if l.mult <= 1 {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	return strconv.FormatFloat(float64(n)/l.mult, 'f', -1, 64) + l.Unit
}
