package pipeline

import (
	_ "embed"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/s6builder/s6builder/pipeline/catalog"
	"github.com/s6builder/s6builder/pipeline/inputerr"
	"github.com/s6builder/s6builder/pipeline/version"
)

// OverlayArchive is where s6-overlay's release sources are published when
// no mirror is given: GitHub's archive of the release tag, which unpacks
// to s6-overlay-<version>/. Nobody publishes its digest (a catalogue file
// pins one, as for any release without a published digest).
const OverlayArchive = "https://github.com/just-containers/s6-overlay/archive/refs/tags/v%s.tar.gz"

// OverlayShebangDir is s6-overlay's SHEBANGDIR (conf/defaults.mk): where
// its scripts find execlineb, the /command of its slashpackage layout.
const OverlayShebangDir = "/command"

// Stage IDs of an s6-overlay plan.
const (
	IDOverlayFetch  = "fetch/" + catalog.Overlay
	IDOverlayNoarch = "overlay-noarch" // the noarch tarballs and their .sha256 files
)

// KindAssemble puts a release's files together into trees and tarballs.
const KindAssemble Kind = "assemble"

// OverlayNoarchTarballs are the tarballs of IDOverlayNoarch, named as
// s6-overlay's releases name them; each has a <name>.sha256 beside it.
var OverlayNoarchTarballs = []string{"s6-overlay-noarch.tar.xz", "s6-overlay-symlinks-noarch.tar.xz", "syslogd-overlay-noarch.tar.xz"}

// OverlayNoarchScript makes the noarch trees and tarballs as s6-overlay's
// Makefile does (overlay-noarch.sh). A constant of the binary: it gets
// the tarball's path, the version, SHEBANGDIR, the epoch and the output
// directory as arguments, each checked by NewOverlay.
//
//go:embed overlay-noarch.sh
var OverlayNoarchScript string

// OverlayRequest is what to make of an s6-overlay release, and how.
type OverlayRequest struct {
	Version string `json:"version"` // the s6-overlay release, e.g. 3.2.3.2
	// Mirror "" fetches GitHub's tag archive (OverlayArchive); a mirror
	// serves it as MIRROR/s6-overlay/s6-overlay-<version>.tar.gz, laid out
	// as skarnet.org is for the family.
	Mirror    string    `json:"mirror,omitempty"`
	Toolchain Toolchain `json:"toolchain"` // zero = DefaultToolchain(); runs tar, sed, xz
	// BuildPlatform is where the toolchain runs ("" = this machine's).
	BuildPlatform string `json:"build_platform,omitempty"`
	// SourceDateEpoch is the time of every file in the tarballs, in
	// seconds since 1970; 0 = midnight UTC of the release's day.
	SourceDateEpoch int64 `json:"source_date_epoch,omitempty"`
}

// NewOverlay plans the noarch tarballs of an s6-overlay release: its
// source tarball fetched by digest, and one stage that assembles the
// trees and tarballs (IDOverlayNoarch).
func NewOverlay(cat *catalog.Catalog, r OverlayRequest) (*Plan, error) {
	if r.Version == "" {
		return nil, inputerr.New("s6Overlay", "", "give the s6-overlay release, e.g. {arg:s6Overlay} 3.2.3.2 (`{cmd:versions}` lists them)")
	}
	v, err := version.Parse(r.Version)
	if err != nil {
		return nil, inputerr.New("s6Overlay", r.Version, "%v", err)
	}
	// The toolchain as a family build's request has it on this platform,
	// checked the same way (a mirror URL, an image reference).
	req, err := Request{Platform: r.BuildPlatform, Toolchain: r.Toolchain, Mirror: r.Mirror}.Normalize()
	if err != nil {
		return nil, err
	}
	rel, err := cat.Lookup(catalog.Overlay, v)
	if err != nil {
		return nil, err
	}
	if rel.Digest == "" {
		return nil, missingDigest(rel)
	}
	if r.SourceDateEpoch < 0 {
		return nil, inputerr.New("sourceDateEpoch", strconv.FormatInt(r.SourceDateEpoch, 10), "want seconds since 1970")
	}
	epoch := r.SourceDateEpoch
	if epoch == 0 {
		day, err := time.Parse("2006-01-02", rel.Released)
		if err != nil {
			return nil, fmt.Errorf("s6-overlay %s has no release date in the catalogue: give a source date epoch", v)
		}
		epoch = day.Unix()
	}
	src := fmt.Sprintf(OverlayArchive, url.PathEscape(v.String()))
	if r.Mirror != "" {
		src = TarballURL(req.Mirror, rel)
	}
	p := &Plan{Request: req}
	p.add(toolchainStage(req))
	p.add(&Stage{ID: IDOverlayFetch, Kind: KindFetch, Package: catalog.Overlay, Version: v.String(),
		Fetch: &Fetch{URL: src, Filename: rel.Tarball, Digest: rel.Digest.String()}})
	p.add(&Stage{ID: IDOverlayNoarch, Kind: KindAssemble, Package: catalog.Overlay, Version: v.String(),
		Deps: []string{IDToolchain, IDOverlayFetch},
		Exec: &Exec{
			Env:    []string{"PATH=" + DefaultPath},
			Mounts: []Mount{{Target: InDir, From: IDOverlayFetch, Readonly: true}},
			Steps: []Step{{Name: "noarch tarballs", Dir: "/", Args: []string{"sh", "-c", OverlayNoarchScript, "overlay-noarch",
				InDir + "/" + rel.Tarball, v.String(), OverlayShebangDir, strconv.FormatInt(epoch, 10), OutDir}}},
			Output: OutDir,
		}})
	return p, nil
}
