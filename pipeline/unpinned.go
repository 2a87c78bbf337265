package pipeline

import (
	"github.com/s6builder/s6builder/pipeline/catalog"
)

// Unpinned returns the releases req selects that have no digest, so a front
// end that the user allowed to pin on first fetch knows what to fetch and
// record. It validates req as New does.
func Unpinned(cat *catalog.Catalog, req Request) ([]catalog.Release, error) {
	_, sel, err := resolve(cat, req)
	if err != nil {
		return nil, err
	}
	var out []catalog.Release
	for _, pkg := range sel.Packages() {
		if r, _ := sel.Release(pkg); r.Digest == "" {
			out = append(out, r)
		}
	}
	return out, nil
}

// resolve validates req and picks its releases; the returned request names
// the resolved versions.
func resolve(cat *catalog.Catalog, req Request) (Request, catalog.Selection, error) {
	req, err := req.Normalize()
	if err != nil {
		return req, catalog.Selection{}, err
	}
	members, withPins, err := req.members()
	if err != nil {
		return req, catalog.Selection{}, err
	}
	sel, err := cat.Resolve(req.S6, req.pins(withPins), members...)
	if err != nil {
		return req, sel, err
	}
	req.With = nil
	for _, pkg := range sel.Packages() {
		rel, _ := sel.Release(pkg)
		if f := req.versionOf(pkg); f != nil {
			*f = rel.Version.String()
		} else {
			req.With = append(req.With, pkg+"="+rel.Version.String())
		}
	}
	return req, sel, nil
}
