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
		cache          bk.Cache
	)
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Build, then run the supervision smoke test in a container",
		Long: `Build the request (cached stages are reused) and run the supervision smoke
test in a container with the built binaries: s6-svscan -h exits 100, a
service comes up (s6-svok, s6-svstat), killing it runs finish and restarts
it, s6-svscanctl -t ends the scan. Each check is printed; a failure names the
check and shows the service log. The test itself runs every time.`,
		Example: `  s6builder test --s6 2.1.6.0
  s6builder test --s6 2.15.1.0 --with all --platform linux/amd64,linux/arm64`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, req, err := rf.load()
			if err != nil {
				return err
			}
			// --platform P,Q: the test runs for each, under the daemon's
			// emulators for a foreign one (refused up front without).
			reqs, err := plannable(cat, req)
			if err != nil {
				return err
			}
			c, stop, err := connect(cmd, addr, rf.toolchainRefs()...)
			if err != nil {
				return err
			}
			defer stop()
			plans, err := plansOnDaemon(cmd.Context(), c, cat, reqs)
			if err != nil {
				return err
			}
			for _, p := range plans {
				r := p.Request
				rep, err := bk.Build(cmd.Context(), c.Client, p, bk.Options{Smoke: true, Progress: progress, Cache: cache})
				if err != nil {
					return fmt.Errorf("smoke test of s6 %s for %s failed: %w", r.S6, r.Platform, c.explain(err))
				}
				warnCacheImports(rep)
				for _, check := range rep.Smoke {
					fmt.Printf("ok  %s\n", check)
				}
				fmt.Fprintf(os.Stderr, "s6builder: s6 %s (execline %s, skalibs %s) for %s: %d checks passed\n",
					r.S6, r.Execline, r.Skalibs, r.Platform, len(rep.Smoke))
			}
			return nil
		},
	}
	rf.register(cmd.Flags())
	cmd.Flags().StringVar(&addr, "addr", os.Getenv("BUILDKIT_HOST"), "BuildKit daemon address; env BUILDKIT_HOST")
	progressVar(cmd.Flags(), &progress)
	cacheVars(cmd.Flags(), &cache)
	return cmd
}
