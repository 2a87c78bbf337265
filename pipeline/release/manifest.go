package release

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/s6builder/s6builder/pipeline"
)

// Manifest records every input of a release: enough to rebuild it
// (s6builder verify) and to audit it.
type Manifest struct {
	S6builder       string      `json:"s6builder"` // the version that made it
	SourceDateEpoch int64       `json:"source_date_epoch"`
	Artifacts       []Artifact  `json:"artifacts"`
	Toolchains      []Toolchain `json:"toolchains"`
}

// Artifact is one platform's tarball and what went into it.
type Artifact struct {
	File          string           `json:"file"`
	SHA256        string           `json:"sha256"`
	Platform      string           `json:"platform"`
	BuildPlatform string           `json:"build_platform"`
	Request       pipeline.Request `json:"request"` // normalized: toolchain, CC, mirror...
	Sources       []Source         `json:"sources"`
	Builds        []Build          `json:"builds"`
}

// Source is a source tarball: where it came from and who published its
// digest.
type Source struct {
	Package    string `json:"package"`
	Version    string `json:"version"`
	Released   string `json:"released,omitempty"`
	Tarball    string `json:"tarball"`
	URL        string `json:"url"`
	Digest     string `json:"digest"`
	Published  string `json:"digest_published_by"`
	Publishers int    `json:"digest_publishers"` // independent sources; 0 = given by the user
}

// Build is one package's build stage: its environment and each step's argv.
type Build struct {
	Stage string          `json:"stage"`
	Env   []string        `json:"env"`
	Steps []pipeline.Step `json:"steps"`
}

// Toolchain is a toolchain image and what is inside it.
type Toolchain struct {
	Image    string     `json:"image"`
	Platform string     `json:"platform"`
	Setup    [][]string `json:"setup,omitempty"`
	// Packages: `dpkg-query -W` of the image after its setup, one
	// "name version architecture" line each ("" where it has no dpkg).
	Packages []string `json:"packages"`
	// Compilers: the first line of `<CC> --version` of each CC used.
	Compilers map[string]string `json:"compilers"`
}

// Inventory is what the engine found inside a toolchain image.
type Inventory struct {
	Packages  []string
	Compilers map[string]string
}

// ToolchainKey names a plan's toolchain stage for inventories: image and
// platform.
func ToolchainKey(p *pipeline.Plan) string {
	s := p.Stage(pipeline.IDToolchain)
	return s.Image.Ref + " " + s.Image.Platform
}

// NewManifest describes plans, whose tarballs are in dir, built with the
// toolchains inventoried.
func NewManifest(version string, epoch int64, plans []*pipeline.Plan, dir string, inv map[string]Inventory) (*Manifest, error) {
	m := &Manifest{S6builder: version, SourceDateEpoch: epoch}
	seen := map[string]bool{}
	for _, p := range plans {
		file := TarballName(p)
		sum, err := Sha256File(filepath.Join(dir, file))
		if err != nil {
			return nil, err
		}
		a := Artifact{File: file, SHA256: sum, Platform: p.Request.Platform, BuildPlatform: p.Request.BuildPlatform, Request: p.Request}
		for _, pkg := range p.Selection.Packages() {
			rel, _ := p.Selection.Release(pkg)
			a.Sources = append(a.Sources, Source{Package: pkg, Version: rel.Version.String(), Released: rel.Released,
				Tarball: rel.Tarball, URL: pipeline.TarballURL(p.Request.Mirror, rel), Digest: rel.Digest.String(),
				Published: rel.DigestSource, Publishers: rel.DigestPublishers})
			if s := p.Stage("build/" + pkg); s != nil && s.Exec != nil {
				a.Builds = append(a.Builds, Build{Stage: s.ID, Env: s.Exec.Env, Steps: s.Exec.Steps})
			}
		}
		m.Artifacts = append(m.Artifacts, a)

		key := ToolchainKey(p)
		if seen[key] {
			continue
		}
		seen[key] = true
		tc := p.Stage(pipeline.IDToolchain).Image
		in, ok := inv[key]
		if !ok {
			return nil, fmt.Errorf("no inventory of the toolchain %s", key)
		}
		t := Toolchain{Image: tc.Ref, Platform: tc.Platform, Packages: in.Packages, Compilers: in.Compilers}
		for _, st := range tc.Setup {
			t.Setup = append(t.Setup, st.Args)
		}
		m.Toolchains = append(m.Toolchains, t)
	}
	return m, nil
}

// ReadManifest reads a release's manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	if len(m.Artifacts) == 0 {
		return nil, fmt.Errorf("%s lists no artifact", ManifestFile)
	}
	return &m, nil
}

// Write makes a release in dir from plans and their dist trees (dists[i]
// for plans[i]): the tarballs, manifest.json, sbom.spdx.json and
// SHA256SUMS over them all. skip names files of the dist trees to leave out
// (the front end's own markers).
func Write(dir, version string, epoch int64, plans []*pipeline.Plan, dists []string, inv map[string]Inventory, skip ...string) (*Manifest, error) {
	var names []string
	for i, p := range plans {
		name := TarballName(p)
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		err = WriteTarball(f, dists[i], epoch, skip...)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		names = append(names, name)
	}
	m, err := NewManifest(version, epoch, plans, dir, inv)
	if err != nil {
		return nil, err
	}
	return m, writeRecords(dir, m, SPDX(m), names)
}

// writeRecords writes, beside the files named in dir, the manifest, the
// SBOM and SHA256SUMS over them all.
func writeRecords(dir string, manifest, sbom any, names []string) error {
	if err := writeJSON(filepath.Join(dir, ManifestFile), manifest); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, SBOMFile), sbom); err != nil {
		return err
	}
	return WriteSums(dir, append(slices.Clone(names), ManifestFile, SBOMFile))
}

// SPDX is an SPDX 2.3 document of the release: each source tarball a
// package with its download location and sha256, each artifact a package
// generated from the sources it was built from. Its namespace and creation
// time derive from the manifest, so it is reproducible too.
func SPDX(m *Manifest) map[string]any {
	b, _ := json.Marshal(m)
	sum := sha256.Sum256(b)
	var packages []map[string]any
	var rels []map[string]any
	seen := map[string]bool{}
	for _, a := range m.Artifacts {
		aid := "SPDXRef-Artifact-" + spdxID(a.File)
		packages = append(packages, map[string]any{
			"SPDXID": aid, "name": a.File, "versionInfo": a.Request.S6,
			"downloadLocation": "NOASSERTION", "filesAnalyzed": false,
			"packageFileName":       a.File,
			"primaryPackagePurpose": "ARCHIVE",
			"checksums":             []map[string]string{{"algorithm": "SHA256", "checksumValue": a.SHA256}},
			"licenseConcluded":      "NOASSERTION", "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION",
			"comment": "dist tree for " + a.Platform + ", built on " + a.BuildPlatform + " by s6builder " + m.S6builder,
		})
		rels = append(rels, map[string]any{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": aid})
		for _, s := range a.Sources {
			sid := "SPDXRef-Source-" + spdxID(s.Tarball)
			rels = append(rels, map[string]any{"spdxElementId": aid, "relationshipType": "GENERATED_FROM", "relatedSpdxElement": sid})
			if seen[sid] {
				continue
			}
			seen[sid] = true
			algo, hexsum, _ := strings.Cut(s.Digest, ":")
			packages = append(packages, map[string]any{
				"SPDXID": sid, "name": s.Package, "versionInfo": s.Version,
				"downloadLocation": s.URL, "filesAnalyzed": false, "packageFileName": s.Tarball,
				"primaryPackagePurpose": "SOURCE",
				"supplier":              "Organization: skarnet.org",
				"checksums":             []map[string]string{{"algorithm": strings.ToUpper(algo), "checksumValue": hexsum}},
				"licenseConcluded":      "NOASSERTION", "licenseDeclared": "ISC", "copyrightText": "NOASSERTION",
				"comment": "digest published by " + s.Published,
			})
		}
	}
	name := "s6builder release"
	if len(m.Artifacts) > 0 {
		name = "s6-" + m.Artifacts[0].Request.S6
	}
	return spdxDocument(name, sum, m.SourceDateEpoch, m.S6builder, packages, rels)
}

// spdxDocument is an SPDX 2.3 document of packages, sorted by SPDX ID,
// and their relationships; its namespace is the manifest's digest sum and
// its creation time the release's, so that it is reproducible.
func spdxDocument(name string, sum [32]byte, epoch int64, version string, packages, rels []map[string]any) map[string]any {
	sort.SliceStable(packages, func(i, j int) bool { return packages[i]["SPDXID"].(string) < packages[j]["SPDXID"].(string) })
	return map[string]any{
		"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
		"name":              name,
		"documentNamespace": "https://s6builder.invalid/spdx/" + hex.EncodeToString(sum[:]),
		"creationInfo": map[string]any{
			"created":  time.Unix(epoch, 0).UTC().Format(time.RFC3339),
			"creators": []string{"Tool: s6builder-" + version},
		},
		"packages":      packages,
		"relationships": rels,
	}
}

// spdxID makes an SPDX identifier part of a file name (letters, digits,
// '.' and '-' only).
func spdxID(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		}
		return '-'
	}, s)
}
