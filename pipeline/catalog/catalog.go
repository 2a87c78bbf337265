// Package catalog knows every release of the packages data/packages.tsv
// lists: when it was released, its tarball, the digest someone published
// for that tarball, and which releases of the packages it links against it
// needs. The facts are data files
// (data/*.tsv, embedded) with their sources beside them; users add or override
// releases and digests with a JSON catalogue file (see File).
package catalog

import (
	"bufio"
	"bytes"
	_ "crypto/sha256" // digest algorithms the catalogue accepts
	_ "crypto/sha512"
	"embed"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/s6builder/s6builder/pipeline/inputerr"
	"github.com/s6builder/s6builder/pipeline/version"
)

// Release is one release of one package.
type Release struct {
	Package  string
	Version  version.Version
	Released string // YYYY-MM-DD, "" when unknown
	Source   string // where the release fact comes from

	Tarball      string        // file name, e.g. s6-2.1.6.0.tar.gz
	Digest       digest.Digest // "" when nobody published one
	DigestSource string        // who published Digest
	// DigestPublishers counts the independent packagers who published
	// Digest (0: a digest of the user's, from a catalogue or lock file);
	// two or more is a corroborated digest.
	DigestPublishers int

	// The oldest release of each package it builds against, where known
	// (data/<package>-requirements.tsv, or a catalogue file), with how
	// the release's INSTALL calls it (required, optional...).
	Needs       map[string]version.Version
	NeedsStatus map[string]string
	NeedsSource string
}

// Links returns the packages this release builds against, in build order:
// those its requirements name as required or recommended, or, when its
// requirements are not known, every package its package links against.
func (r Release) Links() []string {
	if len(r.Needs) == 0 {
		return Links(r.Package)
	}
	var out []string
	for _, p := range Packages {
		if v, ok := r.Needs[p]; ok && !v.IsZero() {
			switch r.NeedsStatus[p] {
			case "", "required", "recommended":
				out = append(out, p)
			}
		}
	}
	return out
}

// Name is "pkg-version".
func (r Release) Name() string { return r.Package + "-" + r.Version.String() }

// Catalog is a set of releases, indexed by package and version.
type Catalog struct {
	releases map[string]map[version.Version]*Release
}

//go:embed data/*.tsv
var dataFS embed.FS

// Default returns the catalogue embedded in the binary.
func Default() (*Catalog, error) {
	c := &Catalog{releases: map[string]map[version.Version]*Release{}}
	if err := c.loadReleases(); err != nil {
		return nil, err
	}
	if err := c.loadRequirements(); err != nil {
		return nil, err
	}
	if err := c.loadDigests(); err != nil {
		return nil, err
	}
	return c, nil
}

// Lookup returns the release of pkg at v, or an error naming the nearest
// known releases.
func (c *Catalog) Lookup(pkg string, v version.Version) (Release, error) {
	if !IsKnown(pkg) {
		return Release{}, fmt.Errorf("unknown package %q: want one of %s", pkg, known())
	}
	if r, ok := c.releases[pkg][v]; ok {
		return *r, nil
	}
	return Release{}, inputerr.New("", "", "unknown %s release %s%s", pkg, v, c.nearest(pkg, v))
}

// Releases returns pkg's releases, oldest first.
func (c *Catalog) Releases(pkg string) []Release {
	out := make([]Release, 0, len(c.releases[pkg]))
	for _, r := range c.releases[pkg] {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version.Less(out[j].Version) })
	return out
}

// Newest returns pkg's newest release.
func (c *Catalog) Newest(pkg string) (Release, error) {
	rs := c.Releases(pkg)
	if len(rs) == 0 {
		return Release{}, fmt.Errorf("the catalogue has no %s release", pkg)
	}
	return rs[len(rs)-1], nil
}

// nearest names the known releases on either side of v, for error messages.
func (c *Catalog) nearest(pkg string, v version.Version) string {
	rs := c.Releases(pkg)
	if len(rs) == 0 {
		return ""
	}
	i := sort.Search(len(rs), func(i int) bool { return !rs[i].Version.Less(v) })
	var near []string
	if i > 0 {
		near = append(near, rs[i-1].Version.String())
	}
	if i < len(rs) {
		near = append(near, rs[i].Version.String())
	}
	return fmt.Sprintf(" (nearest known: %s; `{cmd:versions}` lists all)", strings.Join(near, ", "))
}

// entry returns the release of pkg at v, creating it with defaults.
func (c *Catalog) entry(pkg string, v version.Version) *Release {
	m := c.releases[pkg]
	if m == nil {
		m = map[version.Version]*Release{}
		c.releases[pkg] = m
	}
	r := m[v]
	if r == nil {
		r = &Release{Package: pkg, Version: v, Tarball: DefaultTarball(pkg, v)}
		m[v] = r
	}
	return r
}

// DefaultTarball is skarnet's tarball name for pkg at v.
func DefaultTarball(pkg string, v version.Version) string {
	return pkg + "-" + v.String() + ".tar.gz"
}

// ParseTarball splits "s6-2.1.6.0.tar.gz" into package and version.
func ParseTarball(name string) (string, version.Version, error) {
	m := tarballName.FindStringSubmatch(name)
	if m == nil {
		return "", version.Version{}, fmt.Errorf("tarball %q: want <package>-<version>.tar.gz with a package of %s", name, known())
	}
	v, err := version.Parse(m[2])
	if err != nil {
		return "", version.Version{}, fmt.Errorf("tarball %q: %w", name, err)
	}
	return m[1], v, nil
}

// ParseDigest accepts "sha256:<hex>" or "sha512:<hex>".
func ParseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", fmt.Errorf("digest %q: want sha256:<64 hex> or sha512:<128 hex> (%v)", s, err)
	}
	if d.Algorithm() != digest.SHA256 && d.Algorithm() != digest.SHA512 {
		return "", fmt.Errorf("digest %q: only sha256 and sha512 are accepted", s)
	}
	return d, nil
}

func (c *Catalog) loadReleases() error {
	return eachRow("data/releases.tsv", 4, func(f []string) error {
		pkg := f[0]
		if !IsKnown(pkg) {
			return fmt.Errorf("unknown package %q", pkg)
		}
		v, err := version.Parse(f[1])
		if err != nil {
			return err
		}
		r := c.entry(pkg, v)
		r.Released, r.Source = f[2], f[3]
		return nil
	})
}

// loadRequirements reads data/<package>-requirements.tsv for every package
// that has one: a row per release, with "<dep>_min" (and "<dep>_status")
// columns for the packages it builds against.
func (c *Catalog) loadRequirements() error {
	for _, pkg := range append(append([]string{}, Packages...), OverlayHelpers) {
		name := "data/" + pkg + "-requirements.tsv"
		if _, err := dataFS.Open(name); err != nil {
			continue
		}
		header, err := headerOf(name)
		if err != nil {
			return err
		}
		err = eachRow(name, len(header), func(f []string) error {
			v, err := version.Parse(f[0])
			if err != nil {
				return err
			}
			r := c.entry(pkg, v)
			r.Needs, r.NeedsStatus = map[string]version.Version{}, map[string]string{}
			for i, col := range header {
				switch {
				case col == "released" && r.Released == "":
					r.Released = f[i]
				case col == "source":
					r.NeedsSource = f[i]
					if r.Source == "" {
						r.Source = f[i]
					}
				case strings.HasSuffix(col, "_min") && IsPackage(strings.TrimSuffix(col, "_min")) && f[i] != "":
					if r.Needs[strings.TrimSuffix(col, "_min")], err = version.Parse(f[i]); err != nil {
						return err
					}
				case strings.HasSuffix(col, "_status") && IsPackage(strings.TrimSuffix(col, "_status")):
					r.NeedsStatus[strings.TrimSuffix(col, "_status")] = f[i]
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// headerOf returns the column names of a TSV data file.
func headerOf(name string) ([]string, error) {
	b, err := dataFS.ReadFile(name)
	if err != nil {
		return nil, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strings.Split(first, "\t"), nil
}

func (c *Catalog) loadDigests() error {
	return eachRow("data/tarball-digests.tsv", 5, func(f []string) error {
		pkg, v, err := ParseTarball(f[0])
		if err != nil {
			return err
		}
		d, err := ParseDigest(f[1] + ":" + f[2])
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(f[4])
		if err != nil || n < 1 {
			return fmt.Errorf("%s: publishers %q: want a count of 1 or more", f[0], f[4])
		}
		r := c.entry(pkg, v)
		r.Digest, r.DigestSource, r.DigestPublishers = d, f[3], n
		return nil
	})
}

// eachRow calls fn with the fields of every data row of a TSV file that has a
// header line; it refuses rows with the wrong number of fields.
func eachRow(name string, nfields int, fn func([]string) error) error {
	b, err := dataFS.ReadFile(name)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		if line == 1 || strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		f := strings.Split(sc.Text(), "\t")
		if len(f) != nfields {
			return fmt.Errorf("%s:%d: %d fields, want %d", name, line, len(f), nfields)
		}
		if err := fn(f); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	return sc.Err()
}
