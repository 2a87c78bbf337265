package catalog

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/s6builder/s6builder/pipeline/inputerr"
	"github.com/s6builder/s6builder/pipeline/version"
)

// Vendored is a source s6-overlay's build needs that is not released as
// skarnet's packages are (BearSSL: a version of its own shape, a tarball
// a distribution ships), with its published digest (data/vendored.tsv).
type Vendored struct {
	Name, Version string
	Tarball       string // file name, as the mirror serves it: MIRROR/<name>/<tarball>
	TopDir        string // the directory the tarball unpacks to
	URL           string // where it is published
	Digest        digest.Digest
	DigestSource  string
}

// OverlaySet is what an s6-overlay release is made with: the release of
// each skarnet-style package its conf/versions names, and the vendored
// sources (data/overlay-versions.tsv).
type OverlaySet struct {
	Overlay  version.Version
	Versions map[string]version.Version // by package: the family's and OverlayHelpers
	Vendored []Vendored
	Source   map[string]string // where each version comes from, by package
}

// OverlayVersions is the set s6-overlay v was released with.
func OverlayVersions(v version.Version) (OverlaySet, error) {
	sets, err := overlaySets()
	if err != nil {
		return OverlaySet{}, err
	}
	s, ok := sets[v]
	if !ok {
		var known []string
		for k := range sets {
			known = append(known, k.String())
		}
		sort.Strings(known)
		return OverlaySet{}, inputerr.New("s6Overlay", v.String(), "s6builder does not know what this s6-overlay release is made with (its conf/versions): it knows %s", strings.Join(known, ", "))
	}
	return s, nil
}

// overlaySets are data/overlay-versions.tsv's sets, read once.
var overlaySets = sync.OnceValues(func() (map[version.Version]OverlaySet, error) {
	vendored, err := vendoredSources()
	if err != nil {
		return nil, err
	}
	sets := map[version.Version]OverlaySet{}
	err = eachRow("data/overlay-versions.tsv", 4, func(f []string) error {
		ov, err := version.Parse(f[0])
		if err != nil {
			return err
		}
		s, ok := sets[ov]
		if !ok {
			s = OverlaySet{Overlay: ov, Versions: map[string]version.Version{}, Source: map[string]string{}}
		}
		s.Source[f[1]] = f[3]
		if IsPackage(f[1]) || f[1] == OverlayHelpers {
			if s.Versions[f[1]], err = version.Parse(f[2]); err != nil {
				return err
			}
			sets[ov] = s
			return nil
		}
		for _, vd := range vendored {
			if vd.Name == f[1] && vd.Version == f[2] {
				s.Vendored = append(s.Vendored, vd)
				sets[ov] = s
				return nil
			}
		}
		return fmt.Errorf("%s %s is neither a package nor in data/vendored.tsv", f[1], f[2])
	})
	return sets, err
})

// vendoredSources are data/vendored.tsv's rows, read once.
var vendoredSources = sync.OnceValues(func() ([]Vendored, error) {
	var out []Vendored
	err := eachRow("data/vendored.tsv", 7, func(f []string) error {
		d, err := digest.Parse(f[5])
		if err != nil {
			return err
		}
		out = append(out, Vendored{Name: f[0], Version: f[1], Tarball: f[2], TopDir: f[3], URL: f[4], Digest: d, DigestSource: f[6]})
		return nil
	})
	return out, err
})

// VendoredTarball is the vendored source whose tarball is named name.
func VendoredTarball(name string) (Vendored, bool) {
	vendored, _ := vendoredSources() // embedded data, checked by its tests
	for _, vd := range vendored {
		if vd.Tarball == name {
			return vd, true
		}
	}
	return Vendored{}, false
}
