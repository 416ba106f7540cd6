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
