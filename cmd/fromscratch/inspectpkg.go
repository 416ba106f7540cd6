package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// printPackages prints the packages section of inspect.
func printPackages(w io.Writer, r *inspectJSON) {
	if len(r.Packages) == 0 {
		fmt.Fprintf(w, "\nPackages:    none recorded (%s of files)\n", human(r.UnpackagedBytes))
		return
	}
	var bytes int64
	for _, p := range r.Packages {
		bytes += p.Bytes
	}
	fmt.Fprintf(w, "\nPackages:    %d, %s of files; %s not from a package\n", len(r.Packages), human(bytes), human(r.UnpackagedBytes))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tVERSION\tARCH\tFILES\tBYTES")
	for _, p := range r.Packages {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", p.Name, p.Version, p.Architecture, p.Files, human(p.Bytes))
	}
	tw.Flush()
}
