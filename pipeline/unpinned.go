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
	for _, pkg := range catalog.Packages {
		if r := sel.ByPackage(pkg); r.Digest == "" {
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
	sel, err := cat.Resolve(req.S6, req.Skalibs, req.Execline)
	if err != nil {
		return req, sel, err
	}
	req.S6, req.Skalibs, req.Execline = sel.S6.Version.String(), sel.Skalibs.Version.String(), sel.Execline.Version.String()
	return req, sel, nil
}
