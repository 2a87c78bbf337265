package catalog

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Entry is one release as `s6builder versions` lists it.
type Entry struct {
	Package      string `json:"package"`
	Version      string `json:"version"`
	Released     string `json:"released,omitempty"`
	Tarball      string `json:"tarball"`
	Digest       string `json:"digest,omitempty"`
	DigestSource string `json:"digest_source,omitempty"`
	// Needs is the oldest release of each package it builds against.
	Needs  map[string]string `json:"needs,omitempty"`
	Source string            `json:"source,omitempty"`
}

// Entries lists every release, the packages in reverse build order (s6
// first), each oldest first.
func (c *Catalog) Entries() []Entry {
	var out []Entry
	for i := len(Packages) - 1; i >= 0; i-- {
		pkg := Packages[i]
		for _, r := range c.Releases(pkg) {
			e := Entry{Package: pkg, Version: r.Version.String(), Released: r.Released, Tarball: r.Tarball,
				Digest: r.Digest.String(), DigestSource: r.DigestSource, Source: r.Source}
			for dep, v := range r.Needs {
				if e.Needs == nil {
					e.Needs = map[string]string{}
				}
				e.Needs[dep] = v.String()
			}
			out = append(out, e)
		}
	}
	return out
}

// WriteTable prints the catalogue as the CLI and the Dagger module show it:
// a column for each package s6 builds against.
func (c *Catalog) WriteTable(w io.Writer) error {
	deps := Links(S6)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "PACKAGE\tVERSION\tRELEASED\t%s\tDIGEST\n", strings.ToUpper(strings.Join(deps, "\t")))
	for _, e := range c.Entries() {
		d := "-"
		if e.Digest != "" {
			d = e.Digest[:min(len(e.Digest), 19)] + "..."
		}
		cols := []string{e.Package, e.Version, dash(e.Released)}
		for _, dep := range deps {
			cols = append(cols, dash(e.Needs[dep]))
		}
		fmt.Fprintf(tw, "%s\t%s\n", strings.Join(cols, "\t"), d)
	}
	return tw.Flush()
}

// WriteJSON prints the catalogue as JSON entries.
func (c *Catalog) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c.Entries())
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
