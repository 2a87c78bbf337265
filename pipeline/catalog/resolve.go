package catalog

import (
	"fmt"
	"strings"

	"github.com/s6builder/s6builder/pipeline/inputerr"
	"github.com/s6builder/s6builder/pipeline/version"
)

// Selection is one release of each package that build together.
type Selection struct {
	Skalibs, Execline, S6 Release
}

// ByPackage returns the selected release of pkg.
func (s Selection) ByPackage(pkg string) Release {
	switch pkg {
	case Skalibs:
		return s.Skalibs
	case Execline:
		return s.Execline
	default:
		return s.S6
	}
}

// Resolve picks the releases for a request. An empty s6 means the newest s6;
// an empty skalibs or execline means the one the s6 release needs (the one
// released with it). Explicit versions must be compatible: skarnet breaks
// compatibility only in major.minor, so a dependency is compatible when it is
// in the same major.minor line as the needed one and not older.
func (c *Catalog) Resolve(s6, skalibs, execline string) (Selection, error) {
	var sel Selection
	var err error
	if s6 == "" {
		if sel.S6, err = c.Newest(S6); err != nil {
			return sel, err
		}
	} else if sel.S6, err = c.lookupString(S6, s6); err != nil {
		return sel, err
	}
	need := map[string]version.Version{Skalibs: sel.S6.NeedsSkalibs, Execline: sel.S6.NeedsExecline}
	for _, d := range []struct {
		pkg  string
		want string
		into *Release
	}{{Skalibs, skalibs, &sel.Skalibs}, {Execline, execline, &sel.Execline}} {
		min := need[d.pkg]
		if d.want == "" {
			if min.IsZero() {
				return sel, inputerr.New("", "", "the catalogue does not say which %s s6 %s needs: give {arg:%s}, or add \"skalibs\" and \"execline\" to its entry in a {arg:catalog} file", d.pkg, sel.S6.Version, d.pkg)
			}
			if *d.into, err = c.Lookup(d.pkg, min); err != nil {
				return sel, fmt.Errorf("s6 %s needs %s %s: %w", sel.S6.Version, d.pkg, min, err)
			}
			continue
		}
		if *d.into, err = c.lookupString(d.pkg, d.want); err != nil {
			return sel, err
		}
		if !min.IsZero() && !Compatible(min, d.into.Version) {
			return sel, inputerr.New(d.pkg, d.want, "%s %s does not work with s6 %s, which needs %s %s or a later %s.x release (known: %s)",
				d.pkg, d.into.Version, sel.S6.Version, d.pkg, min, min.Minor(), c.compatibleList(d.pkg, min))
		}
	}
	return sel, nil
}

// Compatible reports whether have can replace the needed release need.
func Compatible(need, have version.Version) bool {
	return have[0] == need[0] && have[1] == need[1] && have.AtLeast(need)
}

func (c *Catalog) compatibleList(pkg string, need version.Version) string {
	var vs []string
	for _, r := range c.Releases(pkg) {
		if Compatible(need, r.Version) {
			vs = append(vs, r.Version.String())
		}
	}
	if len(vs) == 0 {
		return "none in the catalogue"
	}
	return strings.Join(vs, ", ")
}

func (c *Catalog) lookupString(pkg, s string) (Release, error) {
	v, err := version.Parse(s)
	if err != nil {
		return Release{}, inputerr.New(pkg, s, "%v", err)
	}
	return c.Lookup(pkg, v)
}
