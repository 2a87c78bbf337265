package recipe

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/s6builder/s6builder/pipeline/version"
)

// ProfileProgram is one program a profile keeps of the dist: its path
// under the prefix (bin/s6-svscan), its package, and the first release of
// that package that installs it.
type ProfileProgram struct {
	Package, Path string
	Since         version.Version
}

//go:embed data/profiles.tsv
var profilesTSV string

// profiles are data/profiles.tsv's rows by profile name, read once.
var profiles = sync.OnceValues(func() (map[string][]ProfileProgram, error) {
	r := csv.NewReader(strings.NewReader(profilesTSV))
	r.Comma, r.FieldsPerRecord = '\t', 5
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("profiles.tsv: %w", err)
	}
	out := map[string][]ProfileProgram{}
	for i, f := range rows[1:] {
		since, err := version.Parse(f[3])
		if err != nil {
			return nil, fmt.Errorf("profiles.tsv:%d: %w", i+2, err)
		}
		out[f[0]] = append(out[f[0]], ProfileProgram{Package: f[1], Path: f[2], Since: since})
	}
	return out, nil
})

// Profiles names the profiles, sorted.
func Profiles() []string {
	ps, _ := profiles()
	return slices.Sorted(maps.Keys(ps))
}

// Profile is the programs of the profile name, or an error naming the
// profiles there are.
func Profile(name string) ([]ProfileProgram, error) {
	ps, err := profiles()
	if err != nil {
		return nil, err
	}
	p, ok := ps[name]
	if !ok {
		return nil, fmt.Errorf("no such profile: want one of %s", strings.Join(Profiles(), ", "))
	}
	return p, nil
}
