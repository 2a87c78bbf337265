package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	bk "github.com/s6builder/s6builder/engine/buildkit"
)

func testCmd() *cobra.Command {
	var (
		rf             requestFlags
		addr, progress string
	)
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Build, then run the supervision smoke test in a container",
		Long: `Build the request (cached stages are reused) and run the supervision smoke
test in a container with the built binaries: s6-svscan -h exits 100, a
service comes up (s6-svok, s6-svstat), killing it runs finish and restarts
it, s6-svscanctl -t ends the scan. Each check is printed; a failure names the
check and shows the service log. The test itself runs every time.`,
		Example: `  s6builder test --s6 2.1.6.0`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := rf.plan()
			if err != nil {
				return err
			}
			c, stop, err := connect(cmd, addr, rf.toolchainRef())
			if err != nil {
				return err
			}
			defer stop()
			rep, err := bk.Build(cmd.Context(), c.Client, p, bk.Options{Smoke: true, Progress: progress})
			if err != nil {
				return fmt.Errorf("smoke test of s6 %s failed: %w", p.Request.S6, c.explain(err))
			}
			for _, check := range rep.Smoke {
				fmt.Printf("ok  %s\n", check)
			}
			fmt.Fprintf(os.Stderr, "s6builder: s6 %s (execline %s, skalibs %s): %d checks passed\n",
				p.Request.S6, p.Request.Execline, p.Request.Skalibs, len(rep.Smoke))
			return nil
		},
	}
	rf.register(cmd.Flags())
	cmd.Flags().StringVar(&addr, "addr", os.Getenv("BUILDKIT_HOST"), "BuildKit daemon address; env BUILDKIT_HOST")
	progressVar(cmd.Flags(), &progress)
	return cmd
}
