package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/s6builder/s6builder/pipeline/version"
)

// File is the user catalogue format (`--catalog FILE`): JSON that adds
// releases or overrides what the embedded catalogue says about them.
//
//	{
//	  "releases": [
//	    {"package": "s6", "version": "2.1.6.0", "digest": "sha256:...",
//	     "tarball": "s6-2.1.6.0.tar.gz", "skalibs": "2.3.5.1", "execline": "2.1.2.2"},
//	    {"package": "s6-rc", "version": "0.7.0.0", "digest": "sha256:...",
//	     "needs": {"skalibs": "2.15.0.0", "execline": "2.9.7.0", "s6": "2.14.0.0"}}
//	  ]
//	}
//
// package and version are required; tarball defaults to
// <package>-<version>.tar.gz; digest is sha256:<hex> or sha512:<hex>; needs
// gives, for packages the release links against, the oldest release it
// builds with (a release that gives needs replaces what the catalogue knew of
// them: those it leaves out are not linked). skalibs and execline are the
// older spelling of needs, for s6 releases.
type File struct {
	Releases []FileRelease `json:"releases"`
}

// FileRelease is one entry of a File.
type FileRelease struct {
	Package  string `json:"package"`
	Version  string `json:"version"`
	Tarball  string `json:"tarball,omitempty"`
	Digest   string `json:"digest,omitempty"`
	Released string `json:"released,omitempty"`
	Skalibs  string `json:"skalibs,omitempty"`
	Execline string `json:"execline,omitempty"`

	Needs map[string]string `json:"needs,omitempty"`
}

// needs is the release's needs, skalibs and execline included.
func (r FileRelease) needs() map[string]string {
	if r.Skalibs == "" && r.Execline == "" && len(r.Needs) == 0 {
		return nil
	}
	m := map[string]string{}
	for k, v := range r.Needs {
		m[k] = v
	}
	if r.Skalibs != "" {
		m["skalibs"] = r.Skalibs
	}
	if r.Execline != "" {
		m["execline"] = r.Execline
	}
	return m
}

// maxFileSize bounds a catalogue file; the embedded one is ~30 kB.
const maxFileSize = 4 << 20

var (
	safeTarball = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}\.tar\.gz$`)
	dateRE      = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
)

// ReadFile parses and validates a catalogue file.
func ReadFile(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, fmt.Errorf("catalogue: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return File{}, fmt.Errorf("catalogue %s: %w", path, err)
	}
	if len(b) > maxFileSize {
		return File{}, fmt.Errorf("catalogue %s: larger than %d bytes", path, maxFileSize)
	}
	cf, err := ParseFile(b)
	if err != nil {
		return File{}, fmt.Errorf("catalogue %s: %w", path, err)
	}
	return cf, nil
}

// ParseFile parses and validates catalogue JSON; unknown fields are errors so
// that a typo does not silently drop a digest.
func ParseFile(b []byte) (File, error) {
	var cf File
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cf); err != nil {
		return File{}, fmt.Errorf("not a catalogue (JSON with a \"releases\" list): %s%w", where(b, err), err)
	}
	if dec.More() {
		return File{}, fmt.Errorf("trailing data after the catalogue object")
	}
	if err := checkValues(b); err != nil {
		return File{}, err
	}
	seen := map[string]int{}
	tarballs := map[string]int{} // tarball file -> the entry that names it
	for i, r := range cf.Releases {
		if err := r.validate(); err != nil {
			return File{}, fmt.Errorf("releases[%d]: %w", i, err)
		}
		// One file is one release: a second digest for it, or a release
		// that names another's file, would label one tarball as two.
		name := r.Tarball
		if name == "" {
			name = DefaultTarball(r.Package, version.MustParse(r.Version))
		}
		if j, ok := tarballs[name]; ok && (cf.Releases[j].Package != r.Package || cf.Releases[j].Version != r.Version) {
			return File{}, fmt.Errorf("releases[%d] and releases[%d] both name the tarball %s, as %s %s and %s %s: one file is one release",
				j, i, name, cf.Releases[j].Package, cf.Releases[j].Version, r.Package, r.Version)
		}
		tarballs[name] = i
		key := r.Package + " " + version.MustParse(r.Version).String()
		if j, ok := seen[key]; ok {
			if diff := conflict(cf.Releases[j], r); diff != "" {
				return File{}, fmt.Errorf("releases[%d] and releases[%d] both describe %s, with different %s", j, i, key, diff)
			}
		}
		seen[key] = i
	}
	return cf, nil
}

// checkValues refuses what plain decoding would take as unset: a missing
// or null "releases", and null or empty-string fields, so that a slip in a
// catalogue never silently drops a digest or a tarball name.
func checkValues(b []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return fmt.Errorf("not a catalogue (JSON with a \"releases\" list): %w", err)
	}
	raw, ok := top["releases"]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return fmt.Errorf("not a catalogue: it needs a \"releases\" list (an empty one is [])")
	}
	var rels []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rels); err != nil {
		return fmt.Errorf("\"releases\": want a list of objects: %w", err)
	}
	for i, rel := range rels {
		if rel == nil {
			return fmt.Errorf("releases[%d]: null; want an object", i)
		}
		for k, v := range rel {
			switch strings.TrimSpace(string(v)) {
			case "null":
				return fmt.Errorf("releases[%d].%s: null; give a value or leave the field out", i, k)
			case `""`:
				return fmt.Errorf("releases[%d].%s: an empty value; give one or leave the field out", i, k)
			}
		}
	}
	return nil
}

// conflict names the fields in which two entries for one release differ,
// with both values, or "".
func conflict(a, b FileRelease) string {
	var diffs []string
	for _, f := range []struct{ name, a, b string }{
		{"tarball", a.Tarball, b.Tarball}, {"digest", a.Digest, b.Digest}, {"released", a.Released, b.Released},
		{"skalibs", a.Skalibs, b.Skalibs}, {"execline", a.Execline, b.Execline},
	} {
		if f.a != "" && f.b != "" && f.a != f.b {
			diffs = append(diffs, fmt.Sprintf("%s (%s and %s)", f.name, f.a, f.b))
		}
	}
	an, bn := a.needs(), b.needs()
	for _, dep := range Packages {
		if an != nil && bn != nil && an[dep] != bn[dep] {
			diffs = append(diffs, fmt.Sprintf("needs.%s (%s and %s)", dep, orNone(an[dep]), orNone(bn[dep])))
		}
	}
	return strings.Join(diffs, ", ")
}

func (r FileRelease) validate() error {
	if !IsKnown(r.Package) {
		return fmt.Errorf("package %q: want one of %s", r.Package, known())
	}
	if _, err := version.Parse(r.Version); err != nil {
		return err
	}
	if r.Tarball != "" && !safeTarball.MatchString(r.Tarball) {
		return fmt.Errorf("tarball %q: want a plain file name ending in .tar.gz", r.Tarball)
	}
	if r.Tarball != "" {
		// A tarball named as another release's is that release's.
		if pkg, v, err := ParseTarball(r.Tarball); err == nil && (pkg != r.Package || v != version.MustParse(r.Version)) {
			return fmt.Errorf("tarball %q is %s %s's name, not %s %s's", r.Tarball, pkg, v, r.Package, r.Version)
		}
	}
	if r.Digest != "" {
		if _, err := ParseDigest(r.Digest); err != nil {
			return err
		}
	}
	if r.Released != "" && !dateRE.MatchString(r.Released) {
		return fmt.Errorf("released %q: want YYYY-MM-DD", r.Released)
	}
	if (r.Skalibs != "" || r.Execline != "") && r.Package != S6 {
		return fmt.Errorf("%s %s: only s6 releases name the skalibs and execline they need", r.Package, r.Version)
	}
	if (r.Skalibs == "") != (r.Execline == "") {
		return fmt.Errorf("s6 %s: give both skalibs and execline, or neither", r.Version)
	}
	for dep, v := range r.Needs {
		if !slices.Contains(Links(r.Package), dep) {
			return fmt.Errorf("%s %s: needs.%s: %s links against %s only", r.Package, r.Version, dep, r.Package, orNone(strings.Join(Links(r.Package), ", ")))
		}
		if old := map[string]string{"skalibs": r.Skalibs, "execline": r.Execline}[dep]; old != "" {
			return fmt.Errorf("%s %s: %s is given twice (%q and needs.%s); give it once", r.Package, r.Version, dep, dep, dep)
		}
		if _, err := version.Parse(v); err != nil {
			return fmt.Errorf("%s %s: needs.%s: %w", r.Package, r.Version, dep, err)
		}
	}
	for _, s := range []string{r.Skalibs, r.Execline} {
		if s != "" {
			if _, err := version.Parse(s); err != nil {
				return err
			}
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Apply adds or overrides the file's releases; source names the file in the
// provenance of each fact it sets.
func (c *Catalog) Apply(cf File, source string) {
	for _, fr := range cf.Releases {
		v := version.MustParse(fr.Version) // validated by ParseFile
		r := c.entry(fr.Package, v)
		if r.Source == "" {
			r.Source = source
		}
		if fr.Tarball != "" {
			r.Tarball = fr.Tarball
		}
		if fr.Digest != "" {
			r.Digest, r.DigestSource, r.DigestPublishers = mustDigest(fr.Digest), source, 0
		}
		if fr.Released != "" {
			r.Released = fr.Released
		}
		if needs := fr.needs(); needs != nil {
			r.Needs, r.NeedsStatus, r.NeedsSource = map[string]version.Version{}, nil, source
			for dep, v := range needs {
				r.Needs[dep] = version.MustParse(v)
			}
		}
	}
}

func mustDigest(s string) digest.Digest {
	d, err := ParseDigest(s)
	if err != nil {
		panic(err)
	}
	return d
}

// where is "line L, column C: " of a JSON syntax or type error in b, or "".
func where(b []byte, err error) string {
	var off int64
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	default:
		return ""
	}
	// The error came after reading off bytes: at byte off-1.
	at := min(max(off-1, 0), int64(len(b)))
	line := 1 + bytes.Count(b[:at], []byte("\n"))
	col := at - int64(bytes.LastIndexByte(b[:at], '\n'))
	return fmt.Sprintf("line %d, column %d: ", line, col)
}
