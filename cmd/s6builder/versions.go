package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/s6builder/s6builder/pipeline/catalog"
)

// versionEntry is one release in `versions --json`.
type versionEntry struct {
	Package      string `json:"package"`
	Version      string `json:"version"`
	Released     string `json:"released,omitempty"`
	Tarball      string `json:"tarball"`
	Digest       string `json:"digest,omitempty"`
	DigestSource string `json:"digest_source,omitempty"`
	Skalibs      string `json:"skalibs,omitempty"`
	Execline     string `json:"execline,omitempty"`
	Source       string `json:"source,omitempty"`
}

func versionsCmd() *cobra.Command {
	var (
		asJSON  bool
		catFile string
	)
	cmd := &cobra.Command{
		Use:   "versions",
		Short: "List the releases s6builder knows, with what each s6 needs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := catalog.Default()
			if err != nil {
				return err
			}
			if catFile != "" {
				cf, err := catalog.ReadFile(catFile)
				if err != nil {
					return usageError{err}
				}
				cat.Apply(cf, "--catalog "+catFile)
			}
			var entries []versionEntry
			for _, pkg := range []string{catalog.S6, catalog.Execline, catalog.Skalibs} {
				for _, r := range cat.Releases(pkg) {
					e := versionEntry{Package: pkg, Version: r.Version.String(), Released: r.Released, Tarball: r.Tarball,
						Digest: r.Digest.String(), DigestSource: r.DigestSource, Source: r.Source}
					if !r.NeedsSkalibs.IsZero() {
						e.Skalibs, e.Execline = r.NeedsSkalibs.String(), r.NeedsExecline.String()
					}
					entries = append(entries, e)
				}
			}
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(entries)
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PACKAGE\tVERSION\tRELEASED\tSKALIBS\tEXECLINE\tDIGEST")
			for _, e := range entries {
				d := "-"
				if e.Digest != "" {
					d = e.Digest[:min(len(e.Digest), 19)] + "..."
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Package, e.Version, e.Released, dash(e.Skalibs), dash(e.Execline), d)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&catFile, "catalog", os.Getenv("S6BUILDER_CATALOG"), "JSON catalogue file that adds or overrides releases; env S6BUILDER_CATALOG")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
