// Build the s6 supervision suite (skalibs, execline, s6) from source
//
// s6builder's plan (package pipeline) decides every stage: which releases,
// which tarballs and digests, which argv runs in which container. This module
// translates that plan into Dagger calls, as engine/buildkit translates it
// into LLB; it decides nothing of its own. Tarballs are fetched by Dagger's
// http with the catalogue's checksum; every build step runs in the toolchain
// image, one withExec per stage (its steps in sequence), so Dagger caches
// each stage separately.
package main

import (
	"context"
	"errors"
	"strings"

	"dagger/s-6-builder/internal/dagger"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/inputerr"
)

// S6Builder builds the s6 supervision suite from source. How to build
// (mirror, catalogue, toolchains, jobs, linking, prefix, emulation, release
// time) is set once, in the constructor; what to build (s6 and the family
// at which versions, for which platforms) is given to each call:
//
//	dagger call build --s6 2.1.6.0 export --path ./s6dist
//	dagger call --mirror URL --catalog FILE build --s6 2.15.1.0 --with all export --path ./s6dist
//	dagger call suite --s6 2.15.1.0 --with all test
type S6Builder struct {
	// Base URL that replaces https://skarnet.org/software
	Mirror string
	// JSON catalogue file that adds or overrides releases and digests
	// (nil: none; kept out of the API, where a missing file cannot be shown)
	// +private
	Catalog *dagger.File
	// Toolchain image, used as is ("": a pinned Debian image plus setup)
	Toolchain string
	// Toolchain images for single platforms, PLATFORM=REF
	PlatformToolchains []string
	// Parallel make jobs (0: the build container's CPU count)
	Jobs int
	// Fully static against musl (false: shared libraries)
	Static bool
	// One program per package where the release can (execline,
	// s6-portable-utils, s6-linux-utils), its commands links to it
	Multicall bool
	// Keep only the programs one use needs and what they exec ("": the
	// whole dist)
	Profile string
	// Installation prefix ("": / for a dist, /usr/local for an image)
	Prefix string
	// Foreign platforms under the engine's emulator, not cross-compiled
	Emulate bool
	// Time of every file in release tarballs (0: the newest source's day)
	SourceDateEpoch int
}

// Configure how s6 is built, once for every call of a pipeline.
//
// Every argument is optional, e.g.
// `dagger call --mirror URL --catalog FILE --toolchain REF build --s6 2.15.1.0 export --path ./s6dist`.
func New(
	// Base URL that replaces https://skarnet.org/software; tarballs are
	// fetched from MIRROR/<pkg>/<tarball>
	// +optional
	mirror string,
	// JSON catalogue file that adds or overrides releases and digests (the
	// versions function shows the result)
	// +optional
	catalog *dagger.File,
	// Toolchain image with make and a C compiler, used as is (default: a
	// pinned Debian image plus an install of build-essential and musl-tools,
	// and of the target's cross compiler and musl for a foreign platform)
	// +optional
	toolchain string,
	// Toolchain image for one platform, PLATFORM=REF, e.g.
	// linux/riscv64=REF for a cross compiler the toolchain lacks
	// +optional
	platformToolchains []string,
	// Parallel make jobs (default: the build container's CPU count; a
	// number is part of the steps' cache keys)
	// +optional
	jobs int,
	// Link fully statically against musl; false links against shared
	// libraries
	// +default=true
	static bool,
	// One program per package where its release can be built so
	// (execline, s6-portable-utils, s6-linux-utils), its commands links to
	// it, as s6-overlay builds them: the smallest dist
	// +optional
	multicall bool,
	// Keep only the programs one use needs and what they exec: pid1
	// (s6-svscan, s6-supervise, s6-svscanctl, s6-svc, s6-svok, s6-svstat,
	// s6-svwait) (default: the whole dist)
	// +optional
	profile string,
	// Installation prefix compiled into the programs (s6 runs
	// PREFIX/libexec/s6-ftrigrd); results hold them under it, ready to
	// extract at / (default: /, and /usr/local for images, whose base's /bin
	// is often a link)
	// +optional
	prefix string,
	// Build foreign platforms with their own toolchain under the engine's
	// emulator instead of cross-compiling them on the engine's platform
	// (slower; for a target no cross compiler covers)
	// +optional
	emulate bool,
	// Time of every file in release tarballs, in seconds since 1970
	// (default: midnight UTC of the day the newest source release was
	// tagged)
	// +optional
	sourceDateEpoch int,
) (*S6Builder, error) {
	m := &S6Builder{Mirror: mirror, Catalog: catalog, Toolchain: toolchain, PlatformToolchains: platformToolchains,
		Jobs: jobs, Static: static, Multicall: multicall, Profile: profile, Prefix: prefix, Emulate: emulate, SourceDateEpoch: sourceDateEpoch}
	// What needs no engine to refuse is refused here, before any call.
	if _, err := m.config(); err != nil {
		return nil, errors.New(inputerr.Render(err, words))
	}
	return m, nil
}

// Build s6 and what it needs, and return the install tree.
//
// skalibs, execline and s6 (and the family members of with), merged as
// make install writes them (bin, sbin, libexec, lib, include), e.g.
// `dagger call build --s6 2.1.6.0 export --path ./s6dist`; the same as
// `dagger call suite ... directory`.
func (m *S6Builder) Build(
	ctx context.Context,
	// s6 release to build, e.g. 2.1.6.0 (the versions function lists them)
	s6 string,
	// skalibs release (default: the one the s6 release needs)
	// +optional
	skalibs string,
	// execline release (default: the one the s6 release needs)
	// +optional
	execline string,
	// Members of the family to add beside skalibs, execline and s6: s6-rc,
	// s6-linux-init, s6-portable-utils, s6-linux-utils, s6-dns,
	// s6-networking, or all; PKG=VERSION pins one (default: the newest
	// release that works with the rest)
	// +optional
	with []string,
	// Target platform, e.g. linux/arm64 (default: the engine's); a foreign
	// one is cross-compiled on the engine's platform unless the constructor's
	// emulate is set
	// +optional
	platform dagger.Platform,
	// Several target platforms, in Docker's names or s6-overlay's (the
	// platforms function lists them): one <os>_<arch>[_<variant>]/ tree each
	// +optional
	platforms []string,
) (*dagger.Directory, error) {
	return m.Suite(s6, skalibs, execline, with, platform, platforms).Directory(ctx)
}

// Choose s6 and the family's versions and platforms, to chain what to do.
//
// Its functions build it (directory), unpack its sources, test it, put it
// in an image, release it or publish an image of it, e.g.
// `dagger call suite --s6 2.15.1.0 --with all test`.
func (m *S6Builder) Suite(
	// s6 release, e.g. 2.15.1.0 (the versions function lists them)
	s6 string,
	// skalibs release (default: the one the s6 release needs)
	// +optional
	skalibs string,
	// execline release (default: the one the s6 release needs)
	// +optional
	execline string,
	// Members of the family to add beside skalibs, execline and s6: s6-rc,
	// s6-linux-init, s6-portable-utils, s6-linux-utils, s6-dns,
	// s6-networking, or all; PKG=VERSION pins one (default: the newest
	// release that works with the rest)
	// +optional
	with []string,
	// Target platform, e.g. linux/arm64 (default: the engine's; for an
	// image, the base container's)
	// +optional
	platform dagger.Platform,
	// Several target platforms, in Docker's names or s6-overlay's (the
	// platforms function lists them)
	// +optional
	platforms []string,
) *Suite {
	return &Suite{Config: m, S6: s6, Skalibs: skalibs, Execline: execline, With: with, Platform: platform, Platforms: platforms}
}

// Suite is s6 and the family at chosen versions for chosen platforms,
// built as the module's configuration says.
type Suite struct {
	// +private
	Config *S6Builder
	// s6 release
	S6 string
	// skalibs release ("": the one s6 needs)
	Skalibs string
	// execline release ("": the one s6 needs)
	Execline string
	// Family members beside skalibs, execline and s6
	With []string
	// Target platform ("": the engine's)
	Platform dagger.Platform
	// Several target platforms
	Platforms []string
}

// The install tree, or one per platform.
//
// bin, sbin, libexec, lib, include as make install writes them; for several
// platforms, one <os>_<arch>[_<variant>]/ tree each, e.g.
// `dagger call suite --s6 2.1.6.0 directory export --path ./s6dist`.
func (s *Suite) Directory(ctx context.Context) (*dagger.Directory, error) {
	r, err := s.request()
	if err != nil {
		return inWords[*dagger.Directory](nil, err)
	}
	return inWords(r.forEachPlatform(ctx, func(one request) (*dagger.Directory, error) {
		return one.output(ctx, exported)
	}))
}

// The unpacked sources, one <pkg>-<version>/ folder each, as compiled.
func (s *Suite) Sources(ctx context.Context) (*dagger.Directory, error) {
	r, err := s.request()
	if err != nil {
		return inWords[*dagger.Directory](nil, err)
	}
	return inWords(r.output(ctx, func(*pipeline.Plan) string { return pipeline.IDSources }))
}

// Run the supervision smoke test and return its checks, one line each.
//
// Each line is `ok  <check>`, e.g. `dagger call suite --s6 2.1.6.0 test`.
// The plan's smoke stage, in the toolchain container with the dist mounted
// read-only at /dist: s6-svscan -h exits 100, a service comes up, killing it
// runs finish and restarts it, s6-svscanctl -t ends the scan, and each
// family member the dist has is checked. A failing check fails the call,
// with the test's output. The function is never cached; its steps are, as
// every step: a passing result for the same inputs is reused (a failure is
// not). For several platforms, each is tested in turn.
//
// +cache="never"
func (s *Suite) Test(ctx context.Context) (string, error) {
	r, err := s.request()
	if err != nil {
		return inWords("", err)
	}
	return inWords(r.smokeEach(ctx))
}

// A container image with s6 as PID 1 over a base container.
//
// E.g. `dagger call suite --s6 2.1.6.0 image --base debian:bookworm-slim --services ./etc/s6 export --path image.tar`.
// The dist is built for the base container's platform and the prefix
// (default /usr/local) and goes at /. With init s6-svscan (the default):
// the service tree at servicesDir, an .s6-svscan/finish added when the tree
// has none, PATH set so s6-svscan finds s6-supervise, and the entrypoint
// `s6-svscan SERVICES_DIR`. With init s6-rc: s6-linux-init in container
// mode, then the bundle of the rc tree, compiled at build time (the suite
// needs with s6-rc,s6-linux-init). The image sets no stop signal (Dagger
// cannot set one): runtimes send SIGTERM, which ends both cleanly.
func (s *Suite) Image(
	ctx context.Context,
	// Base image, any distribution, e.g. debian:bookworm-slim
	base *dagger.Container,
	// Service tree: one directory per service, each with an executable run
	// file, and optionally .s6-svscan/finish (required unless init is s6-rc)
	// +optional
	services *dagger.Directory,
	// Where the service tree goes in the image (default: /etc/s6)
	// +optional
	servicesDir string,
	// What PID 1 runs: s6-svscan over services (default), or s6-rc:
	// s6-linux-init in container mode, then the bundle of rc
	// +optional
	init string,
	// With init s6-rc: the s6-rc source tree (one directory per service or
	// bundle, each with a type file), compiled at build time
	// +optional
	rc *dagger.Directory,
	// With init s6-rc: the service or bundle brought up at boot (default:
	// default)
	// +optional
	bundle string,
	// With init s6-rc: UID[:GID] the container runs as (it owns /run; give
	// a read-only root a tmpfs at /run)
	// +optional
	user string,
	// With init s6-rc: milliseconds between the last SIGTERM and SIGKILL at
	// shutdown (default: 3000)
	// +optional
	graceTime int,
) (*dagger.Container, error) {
	r, err := s.request()
	if err != nil {
		return inWords[*dagger.Container](nil, err)
	}
	if len(s.Platforms) > 0 {
		return inWords[*dagger.Container](nil, inputerr.New("platforms", strings.Join(s.Platforms, ","),
			"an image is the base container's platform: leave {arg:platforms} out (`{cmd:suite} ... {cmd:publish}` makes a multi-platform image)"))
	}
	switch init {
	case "", "s6-svscan":
		for name, set := range map[string]bool{"rc": rc != nil, "bundle": bundle != "", "user": user != "", "graceTime": graceTime != 0} {
			if set {
				return inWords[*dagger.Container](nil, inputerr.New(name, "", "it is for an s6-rc image: give {arg:init} %s", pipeline.InitS6Rc))
			}
		}
		return inWords(r.image(ctx, imageArgs{services: services, base: base, servicesDir: servicesDir}))
	case pipeline.InitS6Rc:
		for name, set := range map[string]bool{"services": services != nil, "servicesDir": servicesDir != ""} {
			if set {
				return inWords[*dagger.Container](nil, inputerr.New(name, "", "an s6-rc image takes its services from {arg:rc}: leave {arg:%s} out", name))
			}
		}
		return inWords(r.rcImage(ctx, rcArgs{base: base, rc: rc, bundle: bundle, user: user, graceMS: graceTime}))
	default:
		return inWords[*dagger.Container](nil, inputerr.New("init", init, "want s6-svscan (PID 1 over a flat service tree) or %s (s6-linux-init, then an s6-rc bundle)", pipeline.InitS6Rc))
	}
}

// Reproducible release artifacts: a tarball per platform, manifest, SBOM.
//
// As `s6builder release` writes them: s6-<version>-<os>_<arch>[_<variant>].tar.gz
// for each platform (default: the engine's; the dist, to extract at /),
// manifest.json (every input), sbom.spdx.json and SHA256SUMS, e.g.
// `dagger call suite --s6 2.15.1.0 --platforms linux/amd64,linux/arm64 release export --path ./release`.
//
// The tarballs are reproducible as the CLI's are (sorted entries, owner
// 0:0, every time the constructor's sourceDateEpoch, gzip without a name
// or a time), whatever times Dagger gives the dist's files. Unlike the
// CLI's, the release has no provenance attestation: Dagger's API does not
// expose BuildKit's.
func (s *Suite) Release(ctx context.Context) (*dagger.Directory, error) {
	r, err := s.request()
	if err != nil {
		return inWords[*dagger.Directory](nil, err)
	}
	return inWords(r.release(ctx))
}

// Publish a multi-platform image with s6-svscan as PID 1 over a service tree.
//
// For each of the suite's platforms, the image `image` makes over the
// base reference's image for that platform, as one OCI index (Dagger's
// platform variants); returns the published reference with its digest, e.g.
// `dagger call suite --s6 2.15.1.0 --platforms linux/amd64,linux/arm64 publish --address registry.example.com/app:s6 --services ./etc/s6 --base debian:bookworm-slim`
func (s *Suite) Publish(
	ctx context.Context,
	// Image name to publish to, e.g. registry.example.com/app:s6
	address string,
	// Service tree: one directory per service, each with an executable run
	// file, and optionally .s6-svscan/finish
	services *dagger.Directory,
	// Base image reference offering every platform, e.g. debian:bookworm-slim
	base string,
	// Where the service tree goes in the image (default: /etc/s6)
	// +optional
	servicesDir string,
) (string, error) {
	r, err := s.request()
	if err != nil {
		return inWords("", err)
	}
	return inWords(r.publish(ctx, address, base, imageArgs{services: services, servicesDir: servicesDir}))
}

// List the releases s6builder knows, with their digests.
//
// Release date, for s6 the skalibs and execline it needs, and the tarball
// digest (- when none is known), with the constructor's catalogue applied.
func (m *S6Builder) Versions(ctx context.Context) (string, error) {
	cat, err := loadCatalog(ctx, m.Catalog)
	if err != nil {
		return inWords("", err)
	}
	var b strings.Builder
	if err := cat.WriteTable(&b); err != nil {
		return "", err
	}
	return b.String(), nil
}

// List the platforms the platform argument takes.
//
// Docker's name, the names s6-overlay gives the same architecture, Debian's
// architecture, and notes.
func (m *S6Builder) Platforms() (string, error) {
	var b strings.Builder
	if err := pipeline.WritePlatforms(&b); err != nil {
		return "", err
	}
	return b.String(), nil
}
