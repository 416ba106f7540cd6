package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// version is the module version and VCS revision the binary was built
// from: "v1.2.0" for `go install ...@v1.2.0`, "(devel) commit 1a2b3c4d5e6f
// (modified)" for a build in a checkout.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified, when string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (modified)"
			}
		case "vcs.time":
			when = " " + s.Value
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " commit " + rev + modified + when
	}
	return fmt.Sprintf("%s, %s, %s/%s", v, bi.GoVersion, runtime.GOOS, runtime.GOARCH)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the commit fromscratch was built from",
		Long: `version prints the module version fromscratch was built as (a tag for
go install ...@vX.Y.Z, "(devel)" in a checkout), the VCS commit, whether the
checkout was modified and the commit time, the Go version and the platform.
fromscratch --version prints the same.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "fromscratch "+version())
			return err
		},
	}
}

// suggestFlag adds "(did you mean --output?)" to an unknown flag error when
// a flag of cmd is near the one typed.
func suggestFlag(cmd *cobra.Command, err error) string {
	msg := err.Error()
	name, ok := strings.CutPrefix(msg, "unknown flag: --")
	if !ok {
		return msg
	}
	name, _, _ = strings.Cut(name, "=")
	best, bestD := "", 3
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		d := levenshtein(strings.ToLower(name), f.Name)
		if d < bestD || strings.HasPrefix(f.Name, name) && bestD > 0 && len(name) >= 3 && best == "" {
			best, bestD = f.Name, d
		}
	})
	if best == "" {
		return msg
	}
	return fmt.Sprintf("%s (did you mean --%s?)", msg, best)
}

// suggestCommand turns cobra's "unknown command" error and its suggestion
// block into one line.
func suggestCommand(msg string) string {
	head, sugg, ok := strings.Cut(msg, "\n\nDid you mean this?\n")
	if !ok {
		return msg
	}
	var names []string
	for _, l := range strings.Split(sugg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			names = append(names, l)
		}
	}
	if len(names) == 0 {
		return head
	}
	return fmt.Sprintf("%s (did you mean %s?)", head, strings.Join(names, " or "))
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
