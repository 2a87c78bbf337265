package catalog

import (
	"fmt"
	"strings"

	"github.com/s6builder/s6builder/pipeline/inputerr"
	"github.com/s6builder/s6builder/pipeline/version"
)

// Selection is one release of each package that build together: an s6
// release and the packages it builds against.
type Selection struct {
	releases map[string]Release
	notes    []string // choices worth telling the user about
}

// Notes says where the selection departs from the plain requirements.
func (s Selection) Notes() []string { return s.notes }

// verifiable returns the oldest release of pkg compatible with need that
// has a published digest.
func (c *Catalog) verifiable(pkg string, need version.Version) (Release, bool) {
	for _, r := range c.Releases(pkg) {
		if Compatible(need, r.Version) && r.Digest != "" {
			return r, true
		}
	}
	return Release{}, false
}

// Packages lists the selected packages in build order.
func (s Selection) Packages() []string {
	var out []string
	for _, p := range Packages {
		if _, ok := s.releases[p]; ok {
			out = append(out, p)
		}
	}
	return out
}

// Release returns the selected release of pkg; ok is false when pkg is not
// part of the selection.
func (s Selection) Release(pkg string) (r Release, ok bool) {
	r, ok = s.releases[pkg]
	return r, ok
}

// Resolve picks the releases for a request: the s6 release (the newest
// when s6 is ""), and for each package it builds against the release in
// pins, or when none is pinned, the one the s6 release needs (the one
// released with it). A pinned release must be compatible: skarnet breaks
// compatibility only in major.minor, so a dependency is compatible when it
// is in the same major.minor line as the needed one and not older.
//
// members adds packages of the family (and what they build against): each
// at the release in pins, or the newest release whose requirements the
// selected packages meet.
func (c *Catalog) Resolve(s6 string, pins map[string]string, members ...string) (Selection, error) {
	sel, err := c.resolveS6(s6, pins)
	if err != nil {
		return sel, err
	}
	want := map[string]bool{}
	for _, m := range members {
		if !IsPackage(m) {
			return sel, inputerr.New("with", m, "not a package of the family: want %s, or all", strings.Join(Packages, ", "))
		}
		for _, p := range closure(m) {
			want[p] = true
		}
	}
	for _, pkg := range Packages { // build order: what a package needs is selected before it
		if !want[pkg] {
			continue
		}
		if _, ok := sel.releases[pkg]; ok {
			if v := pins[pkg]; v != "" && pkg != S6 {
				if r := sel.releases[pkg]; r.Version.String() != v {
					return sel, inputerr.New("with", pkg+"="+v, "s6 %s needs %s %s", sel.releases[S6].Version, pkg, r.Version)
				}
			}
			continue
		}
		rel, err := c.member(sel, pkg, pins[pkg])
		if err != nil {
			return sel, err
		}
		sel.releases[pkg] = rel
	}
	return sel, nil
}

// member picks pkg's release for the selection so far: the pinned one,
// which must work with it, or the newest that does.
func (c *Catalog) member(sel Selection, pkg, pin string) (Release, error) {
	if pin != "" {
		rel, err := c.lookupString(pkg, pin)
		if err != nil {
			return rel, err
		}
		if why := sel.misfit(rel, false); why != "" {
			return rel, inputerr.New("with", pkg+"="+pin, "%s %s %s; releases that work: %s", pkg, rel.Version, why, c.fitting(sel, pkg))
		}
		return rel, nil
	}
	rels := c.Releases(pkg)
	for i := len(rels) - 1; i >= 0; i-- {
		if sel.misfit(rels[i], true) == "" {
			return rels[i], nil
		}
	}
	newest := "none known"
	if len(rels) > 0 {
		newest = rels[len(rels)-1].Name() + " " + sel.misfit(rels[len(rels)-1], true)
	}
	return Release{}, inputerr.New("with", pkg, "no %s release works with %s (the newest, %s)", pkg, sel.describe(Links(pkg)), newest)
}

// misfit says why rel cannot build against the selection ("" when it can):
// each package it builds against must be selected at a release compatible
// with the one rel needs. A requirement nobody recorded is refused when
// strict (automatic picks build only what is known to work).
func (s Selection) misfit(rel Release, strict bool) string {
	var why []string
	for _, d := range rel.Links() {
		have, ok := s.releases[d]
		need := rel.Needs[d]
		switch {
		case !ok:
			why = append(why, "needs "+d+", which is not selected")
		case need.IsZero() && strict:
			why = append(why, "does not say which "+d+" it needs")
		case !need.IsZero() && !Compatible(need, have.Version):
			why = append(why, fmt.Sprintf("needs %s %s or a later %s.x, not %s", d, need, need.Minor(), have.Version))
		}
	}
	return strings.Join(why, "; ")
}

// describe names the selected releases of pkgs: "skalibs 2.15.1.0, s6 2.15.1.0".
func (s Selection) describe(pkgs []string) string {
	var out []string
	for _, p := range pkgs {
		if r, ok := s.releases[p]; ok {
			out = append(out, p+" "+r.Version.String())
		}
	}
	return strings.Join(out, ", ")
}

// fitting lists pkg's releases that build against the selection.
func (c *Catalog) fitting(sel Selection, pkg string) string {
	var vs []string
	for _, r := range c.Releases(pkg) {
		if sel.misfit(r, false) == "" {
			vs = append(vs, r.Version.String())
		}
	}
	if len(vs) == 0 {
		return "none in the catalogue"
	}
	return strings.Join(vs, ", ")
}

// resolveS6 picks the s6 release and the packages it builds against.
func (c *Catalog) resolveS6(s6 string, pins map[string]string) (Selection, error) {
	sel := Selection{releases: map[string]Release{}}
	var top Release
	var err error
	if s6 == "" {
		if top, err = c.Newest(S6); err != nil {
			return sel, err
		}
	} else if top, err = c.lookupString(S6, s6); err != nil {
		return sel, err
	}
	sel.releases[S6] = top
	for _, dep := range closure(S6) {
		if dep == S6 {
			continue
		}
		min, want := top.Needs[dep], pins[dep]
		var rel Release
		switch {
		case want == "" && min.IsZero():
			return sel, inputerr.New("", "", "the catalogue does not say which %s s6 %s needs: give {arg:%s}, or add %s to its entry in a {arg:catalog} file", dep, top.Version, dep, quotedList(Links(S6)))
		case want == "":
			if rel, err = c.Lookup(dep, min); err != nil {
				return sel, fmt.Errorf("s6 %s needs %s %s: %w", top.Version, dep, min, err)
			}
			if rel.Digest == "" {
				// Prefer what can be verified: the oldest later release of
				// the same line that someone published a digest for.
				if alt, ok := c.verifiable(dep, min); ok {
					sel.notes = append(sel.notes, fmt.Sprintf("%s %s (which s6 %s needs) has no published digest; %s %s, a later release of its line, has one",
						dep, min, top.Version, dep, alt.Version))
					rel = alt
				}
			}
		default:
			if rel, err = c.lookupString(dep, want); err != nil {
				return sel, err
			}
			if !min.IsZero() && !Compatible(min, rel.Version) {
				return sel, inputerr.New(dep, want, "%s %s does not work with s6 %s, which needs %s %s or a later %s.x release (known: %s)",
					dep, rel.Version, top.Version, dep, min, min.Minor(), c.compatibleList(dep, min))
			}
		}
		sel.releases[dep] = rel
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

// quotedList is "\"a\" and \"b\"".
func quotedList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, " and ")
}
