package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/s6builder/s6builder/pipeline/catalog"
)

func planCmd() *cobra.Command {
	var (
		rf      requestFlags
		asJSON  bool
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Print the stages of a build with their cache keys",
		Long: `Print the plan for a request: every stage, what it depends on and its key. A
key is a hash of the stage's own inputs and its parents' keys, so comparing
two plans shows which stages a change invalidates. Nothing is built.`,
		Example: `  s6builder plan --s6 2.1.6.0
  s6builder plan --s6 2.1.5.0 --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := rf.plan()
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(p)
			}
			r := p.Request
			link := "static"
			if r.Dynamic {
				link = "dynamic"
			}
			how := link
			if r.Cross() {
				how += ", cross-compiled on " + r.BuildPlatform
			}
			fmt.Printf("s6 %s, execline %s, skalibs %s for %s (%s, CC=%s)\ntoolchain %s\n\n",
				r.S6, r.Execline, r.Skalibs, r.Platform, how, r.CC, r.Toolchain.Image)
			if len(r.With) > 0 {
				fmt.Printf("with %s\n", strings.Join(r.With, ", "))
			}
			for _, n := range p.Selection.Notes() {
				fmt.Printf("note: %s\n", n)
			}
			dw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			for _, pkg := range p.Selection.Packages() {
				rel, _ := p.Selection.Release(pkg)
				fmt.Fprintf(dw, "digest\t%s\t%s\t%s\n", rel.Tarball, rel.Digest, catalog.Publishers(rel.Digest.String(), rel.DigestPublishers, rel.DigestSource))
			}
			dw.Flush()
			fmt.Println()
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "STAGE\tKEY\tDEPENDS ON")
			for _, s := range p.Stages {
				fmt.Fprintf(w, "%s\t%s\t%s\n", s.ID, s.Key[:16], strings.Join(s.Deps, " "))
				if !verbose {
					continue
				}
				if s.Fetch != nil {
					fmt.Fprintf(w, "\t  %s %s\t\n", s.Fetch.URL, s.Fetch.Digest)
				}
				if s.Exec != nil {
					for _, st := range s.Exec.Steps {
						fmt.Fprintf(w, "\t  %s: %s\t\n", st.Name, strings.Join(st.Args, " "))
					}
				}
			}
			return w.Flush()
		},
	}
	rf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the whole plan as JSON (full keys, argv, mounts)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "also print each stage's URL, digest and commands")
	return cmd
}
