package catalog

import (
	"encoding/json"
	"fmt"
	"io"
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
	Skalibs      string `json:"skalibs,omitempty"`
	Execline     string `json:"execline,omitempty"`
	Source       string `json:"source,omitempty"`
}

// Entries lists every release: s6, then execline, then skalibs, oldest first.
func (c *Catalog) Entries() []Entry {
	var out []Entry
	for _, pkg := range []string{S6, Execline, Skalibs} {
		for _, r := range c.Releases(pkg) {
			e := Entry{Package: pkg, Version: r.Version.String(), Released: r.Released, Tarball: r.Tarball,
				Digest: r.Digest.String(), DigestSource: r.DigestSource, Source: r.Source}
			if !r.NeedsSkalibs.IsZero() {
				e.Skalibs, e.Execline = r.NeedsSkalibs.String(), r.NeedsExecline.String()
			}
			out = append(out, e)
		}
	}
	return out
}

// WriteTable prints the catalogue as the CLI and the Dagger module show it.
func (c *Catalog) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PACKAGE\tVERSION\tRELEASED\tSKALIBS\tEXECLINE\tDIGEST")
	for _, e := range c.Entries() {
		d := "-"
		if e.Digest != "" {
			d = e.Digest[:min(len(e.Digest), 19)] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Package, e.Version, dash(e.Released), dash(e.Skalibs), dash(e.Execline), d)
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
