package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/s6builder/s6builder/pipeline"
)

func platformsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "platforms",
		Short: "List the platforms --platform takes, in Docker's names and s6-overlay's",
		Long: `List the platforms s6builder knows: Docker's name (what --platform takes, as a
comma-separated list for several), the names s6-overlay gives the same
architecture (also accepted), Debian's architecture, and what to know about it.`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			return pipeline.WritePlatforms(os.Stdout)
		},
	}
}
