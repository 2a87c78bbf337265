package release

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
)

// OverlayManifest records every input of an s6-overlay output (s6builder
// overlay): enough to rebuild it (s6builder verify) and to audit it.
type OverlayManifest struct {
	S6builder       string            `json:"s6builder"`  // the version that made it
	S6Overlay       string            `json:"s6_overlay"` // the release
	SourceDateEpoch int64             `json:"source_date_epoch"`
	Mirror          string            `json:"mirror"`
	Platforms       []OverlayPlatform `json:"platforms"`
	Sources         []Source          `json:"sources"` // every tarball fetched, by package
	Files           []OverlayFile     `json:"files"`   // the tarballs written
}

// OverlayPlatform is one platform's arch tarball and how it was built.
type OverlayPlatform struct {
	Platform      string    `json:"platform"`
	BuildPlatform string    `json:"build_platform"`
	Tarball       string    `json:"tarball"`
	Toolchain     Toolchain `json:"toolchain"` // its image and setup (no inventory)
	Builds        []Build   `json:"builds"`
}

// OverlayFile is a tarball of the output and its sha256.
type OverlayFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// NewOverlayManifest describes the plans (pipeline.NewOverlay, one per
// platform) whose tarballs, named files, are in dir.
func NewOverlayManifest(version string, plans []*pipeline.Plan, dir string, files []string) (*OverlayManifest, error) {
	if len(plans) == 0 {
		return nil, fmt.Errorf("no s6-overlay plan")
	}
	noarch := plans[0].Stage(pipeline.IDOverlayNoarch)
	if noarch == nil {
		return nil, fmt.Errorf("not an s6-overlay plan")
	}
	m := &OverlayManifest{S6builder: version, S6Overlay: noarch.Version, SourceDateEpoch: plans[0].SourceDateEpoch, Mirror: plans[0].Request.Mirror}
	seen := map[string]bool{}
	for _, p := range plans {
		tc := p.Stage(pipeline.IDToolchain).Image
		op := OverlayPlatform{Platform: p.Request.Platform, BuildPlatform: p.Request.BuildPlatform, Tarball: p.OverlayArchTarballs()[0],
			Toolchain: Toolchain{Image: tc.Ref, Platform: tc.Platform}}
		for _, st := range tc.Setup {
			op.Toolchain.Setup = append(op.Toolchain.Setup, st.Args)
		}
		for _, s := range p.Stages {
			switch {
			case s.Kind == pipeline.KindFetch && !seen[s.Fetch.Filename]:
				seen[s.Fetch.Filename] = true
				m.Sources = append(m.Sources, Source{Package: s.Package, Version: s.Version, Tarball: s.Fetch.Filename, URL: s.Fetch.URL, Digest: s.Fetch.Digest})
			case s.Kind == pipeline.KindBuild:
				op.Builds = append(op.Builds, Build{Stage: s.ID, Env: s.Exec.Env, Steps: s.Exec.Steps})
			}
		}
		m.Platforms = append(m.Platforms, op)
	}
	sort.Slice(m.Sources, func(i, j int) bool { return m.Sources[i].Package < m.Sources[j].Package })
	for _, name := range files {
		sum, err := Sha256File(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		m.Files = append(m.Files, OverlayFile{Name: name, SHA256: sum})
	}
	return m, nil
}

// WriteOverlay writes, in dir beside the tarballs files, the manifest,
// the SBOM and SHA256SUMS over them all.
func WriteOverlay(dir, version string, plans []*pipeline.Plan, files []string) (*OverlayManifest, error) {
	m, err := NewOverlayManifest(version, plans, dir, files)
	if err != nil {
		return nil, err
	}
	return m, writeRecords(dir, m, OverlaySPDX(m), files)
}

// ReadOverlayManifest reads manifest.json of an s6-overlay output; ok is
// false when dir's manifest is not one (a release of the family's).
func ReadOverlayManifest(dir string) (m *OverlayManifest, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, false, err
	}
	m = &OverlayManifest{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, false, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	if m.S6Overlay == "" {
		return nil, false, nil
	}
	if len(m.Platforms) == 0 {
		return nil, true, fmt.Errorf("%s lists no platform", ManifestFile)
	}
	return m, true, nil
}

// Catalog is the catalogue file of the digests the manifest records for
// releases of the catalogue's packages (a rebuild fetches exactly those).
func (m *OverlayManifest) Catalog() catalog.File {
	var f catalog.File
	for _, s := range m.Sources {
		if catalog.IsKnown(s.Package) {
			f.Releases = append(f.Releases, catalog.FileRelease{Package: s.Package, Version: s.Version, Digest: s.Digest})
		}
	}
	return f
}

// OverlaySPDX is an SPDX 2.3 document of an s6-overlay output: each
// tarball a package generated from every source tarball. Reproducible, as
// SPDX is.
func OverlaySPDX(m *OverlayManifest) map[string]any {
	b, _ := json.Marshal(m)
	sum := sha256.Sum256(b)
	var packages, rels []map[string]any
	for _, s := range m.Sources {
		algo, hexsum, _ := strings.Cut(s.Digest, ":")
		packages = append(packages, map[string]any{
			"SPDXID": "SPDXRef-Source-" + spdxID(s.Tarball), "name": s.Package, "versionInfo": s.Version,
			"downloadLocation": s.URL, "filesAnalyzed": false, "packageFileName": s.Tarball,
			"primaryPackagePurpose": "SOURCE",
			"checksums":             []map[string]string{{"algorithm": strings.ToUpper(algo), "checksumValue": hexsum}},
			"licenseConcluded":      "NOASSERTION", "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION",
		})
	}
	for _, f := range m.Files {
		if strings.HasSuffix(f.Name, ".sha256") {
			continue
		}
		id := "SPDXRef-Artifact-" + spdxID(f.Name)
		packages = append(packages, map[string]any{
			"SPDXID": id, "name": f.Name, "versionInfo": m.S6Overlay,
			"downloadLocation": "NOASSERTION", "filesAnalyzed": false, "packageFileName": f.Name,
			"primaryPackagePurpose": "ARCHIVE",
			"checksums":             []map[string]string{{"algorithm": "SHA256", "checksumValue": f.SHA256}},
			"licenseConcluded":      "NOASSERTION", "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION",
			"comment": "s6-overlay " + m.S6Overlay + " built from source by s6builder " + m.S6builder,
		})
		rels = append(rels, map[string]any{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": id})
		for _, s := range m.Sources {
			rels = append(rels, map[string]any{"spdxElementId": id, "relationshipType": "GENERATED_FROM", "relatedSpdxElement": "SPDXRef-Source-" + spdxID(s.Tarball)})
		}
	}
	return spdxDocument("s6-overlay-"+m.S6Overlay, sum, m.SourceDateEpoch, m.S6builder, packages, rels)
}
