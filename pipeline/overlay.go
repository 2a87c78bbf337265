package pipeline

import (
	_ "embed"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/s6builder/s6builder/pipeline/catalog"
	"github.com/s6builder/s6builder/pipeline/inputerr"
	"github.com/s6builder/s6builder/pipeline/recipe"
	"github.com/s6builder/s6builder/pipeline/version"
)

// OverlayArchive is where s6-overlay's release sources are published when
// no mirror is given: GitHub's archive of the release tag, which unpacks
// to s6-overlay-<version>/. Nobody publishes its digest (a catalogue file
// pins one, as for any release without a published digest).
const OverlayArchive = "https://github.com/just-containers/s6-overlay/archive/refs/tags/v%s.tar.gz"

// OverlayHelpersArchive is where s6-overlay-helpers' release sources are
// published when no mirror is given: GitHub's archive of the release tag.
const OverlayHelpersArchive = "https://github.com/just-containers/s6-overlay-helpers/archive/refs/tags/v%s.tar.gz"

// OverlayShebangDir is s6-overlay's SHEBANGDIR (conf/defaults.mk): where
// its scripts find execlineb, the /command of its slashpackage layout.
const OverlayShebangDir = "/command"

// Stage IDs of an s6-overlay plan.
const (
	IDOverlayFetch = "fetch/" + catalog.Overlay
	// IDOverlayToolchain is the build platform's toolchain, without a
	// target's cross compiler: what the noarch stage runs in.
	IDOverlayToolchain = "toolchain/noarch"
	IDOverlayNoarch    = "overlay-noarch" // the noarch tarballs and their .sha256 files
	IDOverlayArch      = "overlay-arch"   // the platform's two arch tarballs and their .sha256 files
)

// OverlaySymlinksArch is the arch symlinks tarball: one name for every
// platform (its links name the programs, which every platform has).
const OverlaySymlinksArch = "s6-overlay-symlinks-arch.tar.xz"

// OverlayArchTarball is the name of the platform's programs' tarball, as
// s6-overlay names it: s6-overlay-x86_64.tar.xz.
func OverlayArchTarball(arch string) string { return "s6-overlay-" + arch + ".tar.xz" }

// KindAssemble puts a release's files together into trees and tarballs.
const KindAssemble Kind = "assemble"

// OverlayNoarchTarballs are the tarballs of IDOverlayNoarch, named as
// s6-overlay's releases name them; each has a <name>.sha256 beside it.
var OverlayNoarchTarballs = []string{"s6-overlay-noarch.tar.xz", "s6-overlay-symlinks-noarch.tar.xz", "syslogd-overlay-noarch.tar.xz"}

// overlayArchScript puts the packages' slashpackage trees together and
// makes the arch tarballs as s6-overlay's Makefile does.
//
//go:embed overlay-arch.sh
var overlayArchScript string

// OverlayArchScript is overlay-arch.sh with the tarball function, a
// constant of the binary: the arch name, the epoch, the output directory
// and the trees reach it as arguments, set by NewOverlay.
var OverlayArchScript = overlayTarballScript + overlayArchScript

// overlayTarballScript defines the tarball function both scripts use.
//
//go:embed overlay-tarball.sh
var overlayTarballScript string

// overlayNoarchScript makes the noarch trees and tarballs as s6-overlay's
// Makefile does.
//
//go:embed overlay-noarch.sh
var overlayNoarchScript string

// OverlayNoarchScript is overlay-noarch.sh with the tarball function, a
// constant of the binary: the tarball's path, the version, SHEBANGDIR, the
// epoch and the output directory reach it as arguments, each checked by
// NewOverlay.
var OverlayNoarchScript = overlayTarballScript + overlayNoarchScript

// OverlayRequest is what to make of an s6-overlay release, and how.
type OverlayRequest struct {
	Version string `json:"version"` // the s6-overlay release, e.g. 3.2.3.2
	// Platform is the one whose programs the arch tarballs hold; "" = the
	// build platform. Front ends make one plan per platform; the noarch
	// stage is the same in each, so it is built once.
	Platform string `json:"platform,omitempty"`
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
	// With overrides the releases the s6-overlay release names
	// (conf/versions): PKG=VERSION each, for its packages.
	With []string `json:"with,omitempty"`
}

// NewOverlay plans the tarballs of an s6-overlay release for one platform:
// its source tarball fetched by digest and one stage that assembles the
// noarch trees and tarballs (IDOverlayNoarch); and the packages its
// conf/versions names, each fetched by digest and built as its
// mk/skaware.mk builds them (slashpackage, static), BearSSL for
// s6-networking, and one stage that makes the platform's arch tarballs
// from their trees (IDOverlayArch).
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
	platform := r.Platform
	if platform == "" {
		platform = r.BuildPlatform
	}
	req, err := Request{Platform: platform, BuildPlatform: r.BuildPlatform, Toolchain: r.Toolchain, Mirror: r.Mirror}.Normalize()
	if err != nil {
		return nil, err
	}
	target, ok := TargetOf(req.Platform)
	if !ok || len(target.S6Overlay) == 0 || target.S6Overlay[0] == "" {
		return nil, inputerr.New("platform", req.Platform, "s6-overlay has no tarball for it: want one of %s", strings.Join(overlayPlatforms(), ", "))
	}
	rel, err := cat.Lookup(catalog.Overlay, v)
	if err != nil {
		return nil, err
	}
	set, err := catalog.OverlayVersions(v)
	if err != nil {
		return nil, err
	}
	pkgs, err := recipe.OverlayPackages(v)
	if err != nil {
		return nil, inputerr.New("s6Overlay", v.String(), "%v", err)
	}
	if set, err = overlayWith(cat, set, pkgs, r.With); err != nil {
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
	// The noarch trees are the same for every platform: they are made in
	// the build platform's own toolchain (no cross compilers), so that
	// every platform's plan shares them by key.
	native, err := Request{Platform: req.BuildPlatform, Toolchain: r.Toolchain, Mirror: r.Mirror}.Normalize()
	if err != nil {
		return nil, err
	}
	noarchToolchain := toolchainStage(native)
	noarchToolchain.ID = IDOverlayToolchain
	p := &Plan{Request: req, SourceDateEpoch: epoch}
	p.add(toolchainStage(req))
	p.add(noarchToolchain)
	p.add(&Stage{ID: IDOverlayFetch, Kind: KindFetch, Package: catalog.Overlay, Version: v.String(),
		Fetch: &Fetch{URL: src, Filename: rel.Tarball, Digest: rel.Digest.String()}})
	p.add(&Stage{ID: IDOverlayNoarch, Kind: KindAssemble, Package: catalog.Overlay, Version: v.String(),
		Deps: []string{IDOverlayToolchain, IDOverlayFetch},
		Exec: &Exec{
			Toolchain: IDOverlayToolchain,
			Env:       []string{"PATH=" + DefaultPath},
			Mounts:    []Mount{{Target: InDir, From: IDOverlayFetch, Readonly: true}},
			Steps: []Step{{Name: "noarch tarballs", Dir: "/", Args: []string{"sh", "-c", OverlayNoarchScript, "overlay-noarch",
				InDir + "/" + rel.Tarball, v.String(), OverlayShebangDir, strconv.FormatInt(epoch, 10), OutDir}}},
			Output: OutDir,
		}})
	if err := p.addOverlayArch(cat, req, target.S6Overlay[0], set, pkgs, epoch); err != nil {
		return nil, err
	}
	return p, nil
}

// NewOverlays plans r for each target platform, in order: the plans of a
// front end's platform list ("" is the build platform). toolchains
// replaces r.Toolchain for the targets it names.
func NewOverlays(cat *catalog.Catalog, r OverlayRequest, targets []string, toolchains map[string]Toolchain) ([]*Plan, error) {
	plans := make([]*Plan, 0, len(targets))
	for _, t := range targets {
		one := r
		one.Platform = t
		if tc, ok := toolchains[t]; ok {
			one.Toolchain = tc
		}
		p, err := NewOverlay(cat, one)
		if err != nil {
			return nil, err
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// overlayWith applies the request's PKG=VERSION overrides to the set the
// release was made with, and checks that every package's release has the
// releases its package/deps-build asks for (the catalogue's requirements).
func overlayWith(cat *catalog.Catalog, set catalog.OverlaySet, pkgs []recipe.OverlayPackage, with []string) (catalog.OverlaySet, error) {
	if len(with) == 0 {
		return set, nil
	}
	versions := maps.Clone(set.Versions)
	var names []string
	for _, p := range pkgs {
		names = append(names, p.Name)
	}
	for _, w := range with {
		pkg, ver, ok := strings.Cut(w, "=")
		if !ok || ver == "" {
			return set, inputerr.New("with", w, "want PACKAGE=VERSION, e.g. s6=2.15.0.0")
		}
		if _, known := versions[pkg]; !known {
			return set, inputerr.New("with", w, "s6-overlay %s builds %s: %s is not one of them", set.Overlay, strings.Join(names, ", "), pkg)
		}
		v, err := version.Parse(ver)
		if err != nil {
			return set, inputerr.New("with", w, "%v", err)
		}
		if _, err := cat.Lookup(pkg, v); err != nil {
			return set, err
		}
		versions[pkg] = v
	}
	for _, p := range pkgs {
		rel, err := cat.Lookup(p.Name, versions[p.Name])
		if err != nil {
			return set, err
		}
		for _, dep := range slices.Sorted(maps.Keys(rel.Needs)) {
			have, inSet := versions[dep]
			if inSet && !rel.Needs[dep].IsZero() && have.Less(rel.Needs[dep]) && rel.NeedsStatus[dep] != "optional" {
				return set, inputerr.New("with", strings.Join(with, ","), "%s %s needs %s %s or later (its package/deps-build), and the set has %s %s: give {arg:with} %s=VERSION of a later release, or leave %s at %s",
					p.Name, rel.Version, dep, rel.Needs[dep], dep, have, dep, dep, set.Versions[dep])
			}
		}
	}
	set.Versions = versions
	return set, nil
}

// overlayPlatforms names the platforms s6-overlay has tarballs for.
func overlayPlatforms() []string {
	var out []string
	for _, t := range Targets {
		if len(t.S6Overlay) > 0 && t.S6Overlay[0] != "" {
			out = append(out, t.Platform+" ("+t.S6Overlay[0]+")")
		}
	}
	return out
}

// addOverlayArch adds the stages of the arch tarballs: the vendored
// sources and the packages fetched and built, then IDOverlayArch.
func (p *Plan) addOverlayArch(cat *catalog.Catalog, req Request, arch string, set catalog.OverlaySet, pkgs []recipe.OverlayPackage, epoch int64) error {
	be := newBuildEnv(req)
	env, cross := be.env, be.cross
	triples, ok := TargetOf(req.Platform)
	if !ok {
		return fmt.Errorf("s6-overlay %s: no triples known for %s", set.Overlay, req.Platform)
	}
	ar := "ar"
	if be.isCross {
		ar = cross.GNUTriple + "-ar"
	}
	var tls *catalog.Vendored
	for i, vd := range set.Vendored {
		if vd.Name == recipe.OverlayTLS {
			tls = &set.Vendored[i]
		}
	}
	if tls == nil {
		return fmt.Errorf("s6-overlay %s: the catalogue names no %s release", set.Overlay, recipe.OverlayTLS)
	}
	tlsURL := tls.URL
	if req.Mirror != DefaultMirror {
		tlsURL = req.Mirror + "/" + tls.Name + "/" + url.PathEscape(tls.Tarball)
	}
	p.add(&Stage{ID: fetchID(tls.Name), Kind: KindFetch, Package: tls.Name, Version: tls.Version,
		Fetch: &Fetch{URL: tlsURL, Filename: tls.Tarball, Digest: tls.Digest.String()}})
	// BearSSL as mk/bearssl.mk builds it: its static library, with the
	// target's compiler; headers and library into include/ and lib/.
	tlsDir := SrcDir + "/" + tls.TopDir
	p.add(&Stage{ID: buildID(tls.Name), Kind: KindBuild, Package: tls.Name, Version: tls.Version,
		Deps: []string{IDToolchain, fetchID(tls.Name)},
		Exec: &Exec{
			Env:    env,
			Mounts: []Mount{{Target: InDir, From: fetchID(tls.Name), Readonly: true}, {Target: SrcDir, Tmpfs: true}},
			Steps: []Step{
				{Name: "unpack", Dir: SrcDir, Args: []string{"tar", "-xf", InDir + "/" + tls.Tarball, "-C", SrcDir, "--no-same-owner"}},
				{Name: "make", Dir: tlsDir, Args: recipe.MakeArgv(req.Jobs, "lib", "CC="+req.CC, "LD="+req.CC, "LDDLL="+req.CC, "AR="+ar)},
				{Name: "install", Dir: tlsDir, Args: []string{"sh", "-c", tlsInstallScript, "install", OutDir}},
			},
			Output: OutDir,
		}})

	byName := map[string]recipe.OverlayPackage{}
	var builds, dirs []string
	var mounts []Mount
	for _, pkg := range pkgs {
		v, ok := set.Versions[pkg.Name]
		if !ok {
			return fmt.Errorf("s6-overlay %s: its versions name no %s release", set.Overlay, pkg.Name)
		}
		rel, err := cat.Lookup(pkg.Name, v)
		if err != nil {
			return err
		}
		if rel.Digest == "" {
			return missingDigest(rel)
		}
		src := TarballURL(req.Mirror, rel)
		if pkg.Name == catalog.OverlayHelpers && req.Mirror == DefaultMirror {
			src = fmt.Sprintf(OverlayHelpersArchive, url.PathEscape(v.String()))
		}
		ver := v.String()
		p.add(&Stage{ID: fetchID(pkg.Name), Kind: KindFetch, Package: pkg.Name, Version: ver,
			Fetch: &Fetch{URL: src, Filename: rel.Tarball, Digest: rel.Digest.String()}})
		tarball := Mount{Target: InDir, From: fetchID(pkg.Name), Readonly: true}
		opts := recipe.OverlayOptions{Target: triples.MuslTriple, Tools: triples.GNUTriple + "-", Jobs: req.Jobs, DestDir: OutDir}
		ms := []Mount{tarball, {Target: SrcDir, Tmpfs: true}}
		deps := []string{IDToolchain, fetchID(pkg.Name)}
		for _, d := range pkg.Deps {
			root := DepsDir + "/" + d
			if d == recipe.OverlayTLS {
				opts.TLSRoot = root
			} else {
				dp, ok := byName[d]
				if !ok {
					return fmt.Errorf("s6-overlay %s: %s builds on %s, which is not built before it", set.Overlay, pkg.Name, d)
				}
				opts.Deps = append(opts.Deps, recipe.SlashDep{Package: dp, Version: set.Versions[d], Root: root})
			}
			ms = append(ms, Mount{Target: root, From: buildID(d), Readonly: true})
			deps = append(deps, buildID(d))
		}
		// s6-overlay's compilers see the kernel headers in every compile
		// (its wrappers' -idirafter): skalibs' sysdeps (nsgetparent)
		// depend on them.
		ms, deps, buildEnv := p.withKernelHeaders(be, ms, deps)
		r, err := recipe.ForOverlay(pkg, v, opts)
		if err != nil {
			return err
		}
		unpack := Step{Name: "unpack", Dir: SrcDir, Args: []string{"tar", "-xzf", InDir + "/" + rel.Tarball, "-C", SrcDir, "--no-same-owner"}}
		p.add(&Stage{ID: buildID(pkg.Name), Kind: KindBuild, Package: pkg.Name, Version: ver, Deps: deps,
			Exec: buildExec(buildEnv, ms, unpack, r, req.Platform)})
		byName[pkg.Name] = pkg
		builds = append(builds, buildID(pkg.Name))
		root := DepsDir + "/" + pkg.Name
		mounts = append(mounts, Mount{Target: root, From: buildID(pkg.Name), Readonly: true})
		dirs = append(dirs, root)
	}
	args := append([]string{"sh", "-c", OverlayArchScript, "overlay-arch", arch, strconv.FormatInt(epoch, 10), OutDir}, dirs...)
	p.add(&Stage{ID: IDOverlayArch, Kind: KindAssemble, Package: catalog.Overlay, Version: set.Overlay.String(),
		Deps: append([]string{IDOverlayToolchain}, builds...),
		Exec: &Exec{
			Toolchain: IDOverlayToolchain,
			Env:       []string{"PATH=" + DefaultPath},
			Mounts:    mounts,
			Steps:     []Step{{Name: "arch tarballs", Dir: "/", Args: args}},
			Output:    OutDir,
		}})
	return nil
}

// tlsInstallScript is mk/bearssl.mk's install: the headers and the static
// library, into $1/include and $1/lib. A constant.
const tlsInstallScript = `set -e; mkdir -p "$1/include" "$1/lib"; cp -a inc/*.h "$1/include/"; cp -f build/libbearssl.a "$1/lib/libbearssl.a"`

// OverlayArchTarballs are the tarballs of an s6-overlay plan's
// IDOverlayArch stage: the platform's programs, named with s6-overlay's
// name for it, and the arch symlinks; each has a <name>.sha256 beside it.
func (p *Plan) OverlayArchTarballs() []string {
	t, _ := TargetOf(p.Request.Platform)
	if len(t.S6Overlay) == 0 {
		return nil
	}
	return []string{OverlayArchTarball(t.S6Overlay[0]), OverlaySymlinksArch}
}

// IDOverlayRootfs is the overlay as an image holds it: the noarch and the
// platform's arch tarballs extracted at /, as `ADD s6-overlay-....tar.xz /`
// in an s6-overlay user's Dockerfile does.
const IDOverlayRootfs = "overlay-rootfs"

// InitS6Overlay is ImageSpec.Init for an image that boots with
// s6-overlay's /init.
const InitS6Overlay = "s6-overlay"

// OverlayImage is what an s6-overlay image is made of besides the plan.
type OverlayImage struct {
	// Base is the base image's reference (any distribution: the programs
	// are static); "" for a front end whose base is a container.
	Base string
	// Root is whether the user gives a tree of their own to copy at /
	// (etc/s6-overlay/s6-rc.d/..., etc/cont-init.d, etc/services.d...).
	Root bool
}

// overlayRootfsScript extracts the tarballs given as arguments into the
// output, keeping their modes (s6-overlay-suexec is setuid). A constant.
const overlayRootfsScript = `set -e; out=$1; shift; for t in "$@"; do tar -C "$out" -xJpf "$t"; done`

// AddOverlayImage adds IDOverlayRootfs to an s6-overlay plan and returns
// the image spec: the base, the overlay at /, the user's tree at /, and
// /init as the entrypoint, which runs the container's CMD (if any) once
// the services are up.
func AddOverlayImage(p *Plan, o OverlayImage) (ImageSpec, error) {
	var base string
	if o.Base != "" { // "": a front end whose base is a container
		var err error
		if base, err = imageBase(o.Base); err != nil {
			return ImageSpec{}, err
		}
	}
	arch := p.OverlayArchTarballs()
	if p.Stage(IDOverlayNoarch) == nil || p.Stage(IDOverlayArch) == nil || len(arch) == 0 {
		return ImageSpec{}, fmt.Errorf("an s6-overlay image needs an s6-overlay plan")
	}
	noarch := p.Stage(IDOverlayNoarch)
	if p.Stage(IDOverlayRootfs) == nil {
		p.add(&Stage{ID: IDOverlayRootfs, Kind: KindAssemble, Package: noarch.Package, Version: noarch.Version,
			Deps: []string{IDOverlayToolchain, IDOverlayNoarch, IDOverlayArch},
			Exec: &Exec{
				Toolchain: IDOverlayToolchain,
				Env:       []string{"PATH=" + DefaultPath},
				Mounts:    []Mount{{Target: "/in/noarch", From: IDOverlayNoarch, Readonly: true}, {Target: "/in/arch", From: IDOverlayArch, Readonly: true}},
				Steps: []Step{{Name: "extract", Dir: "/", Args: []string{"sh", "-c", overlayRootfsScript, "extract", OutDir,
					"/in/noarch/" + OverlayNoarchTarballs[0], "/in/arch/" + arch[0]}}},
				Output: OutDir,
			}})
	}
	s := ImageSpec{
		Base:       base,
		Init:       InitS6Overlay,
		Entrypoint: []string{"/init"},
		WorkingDir: "/",
		StopSignal: StopSignal,
		Layers:     []string{IDOverlayRootfs},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "s6-overlay " + noarch.Version,
			"io.s6builder.release.s6-overlay":      noarch.Version,
			"io.s6builder.s6-overlay.arch-tarball": arch[0],
		},
	}
	for _, st := range p.Stages {
		if st.Kind == KindBuild {
			s.Labels["io.s6builder.release."+st.Package] = st.Version
		}
	}
	if o.Root {
		s.ServicesDir = "/"
	}
	return s, nil
}
