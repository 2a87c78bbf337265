package main

import (
	"os"

	"github.com/spf13/cobra"
)

func versionsCmd() *cobra.Command {
	var (
		asJSON  bool
		catFile string
	)
	cmd := &cobra.Command{
		Use:   "versions",
		Short: "List the releases s6builder knows, with what each s6 needs",
		Long: `List every skalibs, execline and s6 release in the catalogue: release date,
for s6 the skalibs and execline it needs, and the published tarball digest
(- when none is known; such a release needs a digest from --catalog).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := catalogWith(catFile)
			if err != nil {
				return err
			}
			if asJSON {
				return cat.WriteJSON(os.Stdout)
			}
			return cat.WriteTable(os.Stdout)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&catFile, "catalog", os.Getenv("S6BUILDER_CATALOG"), "JSON catalogue file that adds or overrides releases; env S6BUILDER_CATALOG")
	return cmd
}
