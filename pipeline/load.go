package pipeline

import (
	"github.com/s6builder/s6builder/pipeline/catalog"
)

// Layer is a catalogue file a front end read (the CLI's --catalog and
// --lock, the Dagger module's catalog argument, a test's fixtures), named
// as that front end names it in the provenance of the digests it sets.
type Layer struct {
	Source string       // e.g. "--catalog releases.json", "catalog", "fixtures"
	File   catalog.File // parsed by catalog.ParseFile or catalog.ReadFile
	// Lock: digests pinned on first fetch; one that contradicts a digest
	// the catalogue already has is refused rather than applied.
	Lock bool
}

// LoadCatalog is the one catalogue loader of every front end, bench and
// test: the embedded catalogue, then each layer in order.
func LoadCatalog(layers ...Layer) (*catalog.Catalog, error) {
	cat, err := catalog.Default()
	if err != nil {
		return nil, err
	}
	for _, l := range layers {
		if !l.Lock {
			cat.Apply(l.File, l.Source)
			continue
		}
		if err := cat.ApplyLock(l.File, l.Source); err != nil {
			return nil, err
		}
	}
	return cat, nil
}
