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
	// DigestPublishers: independent packagers who published the digest
	// (2 or more: corroborated); 0 for a digest from a catalogue file.
	DigestPublishers int `json:"digest_publishers,omitempty"`
	// Needs is the oldest release of each package it builds against.
	Needs  map[string]string `json:"needs,omitempty"`
	Source string            `json:"source,omitempty"`
}

// Entries lists every release, the packages in reverse build order (the
// members that link against the most first), each oldest first.
func (c *Catalog) Entries() []Entry {
	var out []Entry
	order := []string{Overlay, OverlayHelpers} // built from the family's programs: first
	for i := len(Packages) - 1; i >= 0; i-- {
		order = append(order, Packages[i])
	}
	for _, pkg := range order {
		for _, r := range c.Releases(pkg) {
			e := Entry{Package: pkg, Version: r.Version.String(), Released: r.Released, Tarball: r.Tarball,
				Digest: r.Digest.String(), DigestSource: r.DigestSource, DigestPublishers: r.DigestPublishers, Source: r.Source}
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
// what each release needs, its digest and how many packagers published it.
func (c *Catalog) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "PACKAGE\tVERSION\tRELEASED\tNEEDS\tDIGEST\tPUBLISHED BY\n")
	for _, e := range c.Entries() {
		var needs []string
		for _, dep := range Packages {
			if v, ok := e.Needs[dep]; ok {
				needs = append(needs, dep+" "+v)
			}
		}
		d := "-"
		if e.Digest != "" {
			d = e.Digest[:min(len(e.Digest), 19)] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Package, e.Version, dash(e.Released), dash(strings.Join(needs, ", ")), d, Publishers(e.Digest, e.DigestPublishers, e.DigestSource))
	}
	return tw.Flush()
}

// Publishers says who vouches for a digest: "3 packagers (corroborated)",
// "1 packager", the catalogue or lock file that gave it, or "-" for none.
func Publishers(digest string, n int, source string) string {
	switch {
	case digest == "":
		return "-"
	case n == 0:
		return source
	case n == 1:
		return "1 packager"
	}
	return fmt.Sprintf("%d packagers (corroborated)", n)
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
