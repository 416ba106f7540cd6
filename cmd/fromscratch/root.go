package main

import (
	"github.com/spf13/cobra"
)

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "fromscratch",
		Short: "The smallest container image that runs, for any Linux program",
		Long: `fromscratch reads ELF files (it never runs them) and knows exactly what the
dynamic loader would load, so it can list a program's libraries for any root
filesystem and architecture, and build the smallest image that runs it.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.SetVersionTemplate("fromscratch {{.Version}}\n")
	root.AddCommand(newLddCmd(), newBuildCmd(), newDoctorCmd(), newInspectCmd(), newSquashCmd(), newSlimCmd(), newTraceCmd(), newVersionCmd())
	// A mistyped flag gets the nearest one: one line, as every error.
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usage("%s", suggestFlag(cmd, err))
	})
	return root
}

// wantArgs accepts min to max arguments (max < 0: no bound); otherwise it
// says, as a usage error, what the command takes: "fromscratch: ldd: want
// at least one FILE, got 0 arguments".
func wantArgs(min, max int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || max >= 0 && len(args) > max {
			return usage("%s: want %s, got %d arguments", cmd.Name(), what, len(args))
		}
		return nil
	}
}
