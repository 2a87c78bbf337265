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
	"strings"

	"dagger/s-6-builder/internal/dagger"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/inputerr"
)

// S6Builder builds skalibs, execline and s6 from source.
type S6Builder struct{}

// Build skalibs, execline and s6 and return the merged install tree
// (bin, sbin, libexec, lib, include), e.g.
// `dagger call build --s6 2.1.6.0 export --path ./s6dist`
func (m *S6Builder) Build(
	ctx context.Context,
	// s6 release to build, e.g. 2.1.6.0 (`dagger call versions` lists them)
	s6 string,
	// skalibs release (default: the one the s6 release needs)
	// +optional
	skalibs string,
	// execline release (default: the one the s6 release needs)
	// +optional
	execline string,
	// Target platform, e.g. linux/arm64 (default: the engine's); a foreign
	// one is cross-compiled on the engine's platform unless emulate is set
	// +optional
	platform dagger.Platform,
	// Link fully statically against musl; false links against shared libraries
	// +default=true
	static bool,
	// Toolchain image with make and a C compiler, used as is (default: a
	// pinned Debian image plus an install of build-essential and musl-tools,
	// and of the target's cross compiler and musl for a foreign platform)
	// +optional
	toolchain string,
	// Base URL that replaces https://skarnet.org/software; tarballs are
	// fetched from MIRROR/<pkg>/<tarball>
	// +optional
	mirror string,
	// JSON catalogue file that adds or overrides releases and digests
	// +optional
	catalog *dagger.File,
	// Parallel make jobs (default: the build container's CPU count)
	// +optional
	jobs int,
	// Members of the family to add beside skalibs, execline and s6: s6-rc,
	// s6-linux-init, s6-portable-utils, s6-linux-utils, s6-dns,
	// s6-networking, or all; PKG=VERSION pins one (default: the newest
	// release that works with the rest)
	// +optional
	with []string,
	// Installation prefix compiled into the programs (s6 runs
	// PREFIX/libexec/s6-ftrigrd); the result holds them under it, ready to
	// extract at / (default: /)
	// +optional
	prefix string,
	// Several target platforms at once, in Docker's names or s6-overlay's
	// (`dagger call platforms` lists them): the result then holds one
	// <os>_<arch>[_<variant>]/ tree per platform, e.g. linux_arm_v7/
	// +optional
	platforms []string,
	// Build a foreign platform with its own toolchain under the engine's
	// emulator instead of cross-compiling on the engine's platform (slower;
	// for a target no cross compiler covers)
	// +optional
	emulate bool,
) (*dagger.Directory, error) {
	r := request{s6: s6, skalibs: skalibs, execline: execline, platform: platform, static: static,
		toolchain: toolchain, mirror: mirror, catalog: catalog, jobs: jobs, with: with, prefix: prefix, emulate: emulate}
	if len(platforms) > 0 {
		return inWords(r.forEachPlatform(ctx, platforms, func(one request) (*dagger.Directory, error) {
			return one.output(ctx, exported)
		}))
	}
	return inWords(r.output(ctx, exported))
}

// Unpacked sources of skalibs, execline and s6, one <pkg>-<version>/ folder
// each, exactly as the build compiles them
func (m *S6Builder) Sources(
	ctx context.Context,
	// s6 release, e.g. 2.1.6.0 (`dagger call versions` lists them)
	s6 string,
	// skalibs release (default: the one the s6 release needs)
	// +optional
	skalibs string,
	// execline release (default: the one the s6 release needs)
	// +optional
	execline string,
	// Platform of the toolchain container that unpacks (default: the engine's)
	// +optional
	platform dagger.Platform,
	// Plan a static build (the sources are the same either way)
	// +default=true
	static bool,
	// Toolchain image that runs tar, used as is (default: a pinned Debian
	// image plus an install of build-essential and musl-tools)
	// +optional
	toolchain string,
	// Base URL that replaces https://skarnet.org/software
	// +optional
	mirror string,
	// JSON catalogue file that adds or overrides releases and digests
	// +optional
	catalog *dagger.File,
	// Parallel make jobs (part of the plan; unused by unpacking)
	// +optional
	jobs int,
	// Members of the family to add beside skalibs, execline and s6: s6-rc,
	// s6-linux-init, s6-portable-utils, s6-linux-utils, s6-dns,
	// s6-networking, or all; PKG=VERSION pins one (default: the newest
	// release that works with the rest)
	// +optional
	with []string,
	// Installation prefix compiled into the programs (s6 runs
	// PREFIX/libexec/s6-ftrigrd); the result holds them under it, ready to
	// extract at / (default: /)
	// +optional
	prefix string,
) (*dagger.Directory, error) {
	r := request{s6: s6, skalibs: skalibs, execline: execline, platform: platform, static: static,
		toolchain: toolchain, mirror: mirror, catalog: catalog, jobs: jobs, with: with, prefix: prefix}
	return inWords(r.output(ctx, func(*pipeline.Plan) string { return pipeline.IDSources }))
}

// A container image with s6-svscan as PID 1 over a service tree, e.g.
// `dagger call image --s6 2.1.6.0 --services ./etc/s6 --base debian:bookworm-slim export --path image.tar`
//
// The base container with the dist (built from the request for prefix, or
// the dist argument) at /, the service tree at servicesDir, an
// .s6-svscan/finish added when the tree has none, PATH set so s6-svscan
// finds s6-supervise, and the entrypoint `s6-svscan SERVICES_DIR`: the image
// `s6builder image` makes. Export, publish or open a terminal in the result.
// The image sets no stop signal (Dagger cannot set one): runtimes send
// SIGTERM, which ends s6-svscan cleanly; a base with a stop signal of its
// own keeps it.
func (m *S6Builder) Image(
	ctx context.Context,
	// s6 release to build, e.g. 2.1.6.0 (required unless dist is given)
	// +optional
	s6 string,
	// skalibs release (default: the one the s6 release needs)
	// +optional
	skalibs string,
	// execline release (default: the one the s6 release needs)
	// +optional
	execline string,
	// Target platform of the build, e.g. linux/arm64; it must be the base
	// container's (default: the base container's)
	// +optional
	platform dagger.Platform,
	// Link fully statically against musl; false links against shared libraries
	// (then the base needs the toolchain's libc)
	// +default=true
	static bool,
	// Toolchain image with make and a C compiler, used as is (default: a
	// pinned Debian image plus an install of build-essential and musl-tools)
	// +optional
	toolchain string,
	// Base URL that replaces https://skarnet.org/software; tarballs are
	// fetched from MIRROR/<pkg>/<tarball>
	// +optional
	mirror string,
	// JSON catalogue file that adds or overrides releases and digests
	// +optional
	catalog *dagger.File,
	// Parallel make jobs (default: the build container's CPU count)
	// +optional
	jobs int,
	// Members of the family to add beside skalibs, execline and s6: s6-rc,
	// s6-linux-init, s6-portable-utils, s6-linux-utils, s6-dns,
	// s6-networking, or all; PKG=VERSION pins one (default: the newest
	// release that works with the rest)
	// +optional
	with []string,
	// Service tree: one directory per service, each with an executable run
	// file, and optionally .s6-svscan/finish (required unless init is s6-rc)
	// +optional
	services *dagger.Directory,
	// Base image, any distribution, e.g. debian:bookworm-slim
	base *dagger.Container,
	// Your own s6 and execline install tree (with bin/s6-svscan) instead of
	// a build; give no other request argument than platform with it
	// +optional
	dist *dagger.Directory,
	// Installation prefix: the dist is built for it and goes at /, its
	// programs under it (default: /usr/local; the base's /bin is often a
	// link to usr/bin, which no tree can be copied onto); with dist, where
	// that tree's programs are, e.g. /usr for a tree with usr/bin
	// +optional
	prefix string,
	// Where the service tree goes in the image (default: /etc/s6)
	// +optional
	servicesDir string,
	// Build a foreign platform under the engine's emulator instead of
	// cross-compiling it
	// +optional
	emulate bool,
	// What PID 1 runs: s6-svscan over services (default), or s6-rc:
	// s6-linux-init in container mode, then the bundle of rc (needs with
	// s6-rc,s6-linux-init)
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
	r := request{s6: s6, skalibs: skalibs, execline: execline, platform: platform, static: static,
		toolchain: toolchain, mirror: mirror, catalog: catalog, jobs: jobs, with: with, prefix: prefix, emulate: emulate}
	switch init {
	case "", "s6-svscan":
		for name, set := range map[string]bool{"rc": rc != nil, "bundle": bundle != "", "user": user != "", "graceTime": graceTime != 0} {
			if set {
				return inWords[*dagger.Container](nil, inputerr.New(name, "", "it is for an s6-rc image: give {arg:init} %s", pipeline.InitS6Rc))
			}
		}
		return inWords(r.image(ctx, imageArgs{services: services, base: base, dist: dist, servicesDir: servicesDir}))
	case pipeline.InitS6Rc:
		for name, set := range map[string]bool{"services": services != nil, "dist": dist != nil, "servicesDir": servicesDir != ""} {
			if set {
				return inWords[*dagger.Container](nil, inputerr.New(name, "", "an s6-rc image builds its dist and takes its services from {arg:rc}: leave {arg:%s} out", name))
			}
		}
		return inWords(r.rcImage(ctx, rcArgs{base: base, rc: rc, bundle: bundle, user: user, graceMS: graceTime}))
	default:
		return inWords[*dagger.Container](nil, inputerr.New("init", init, "want s6-svscan (PID 1 over a flat service tree) or %s (s6-linux-init, then an s6-rc bundle)", pipeline.InitS6Rc))
	}
}

// Run the supervision smoke test on the build and return its checks, one
// `ok  <check>` line each, e.g. `dagger call test --s6 2.1.6.0`
//
// The plan's smoke stage, in the toolchain container with the dist mounted
// read-only at /dist: s6-svscan -h exits 100, a service comes up, killing it
// runs finish and restarts it, s6-svscanctl -t ends the scan. A failing
// check fails the call, with the test's output. This function is never
// cached, but its steps are, as every step: the test runs again when the
// dist, the toolchain or the test changes, or the engine's cache no longer
// holds its result; a passing result for the same inputs is reused (a
// failure is not). The CLI reruns it on every request; Dagger has no way to
// ask that of one step without adding an input the plan does not have.
//
// +cache="never"
func (m *S6Builder) Test(
	ctx context.Context,
	// s6 release to test, e.g. 2.1.6.0 (`dagger call versions` lists them)
	s6 string,
	// skalibs release (default: the one the s6 release needs)
	// +optional
	skalibs string,
	// execline release (default: the one the s6 release needs)
	// +optional
	execline string,
	// Target platform, e.g. linux/arm64 (default: the engine's); the test runs
	// on it
	// +optional
	platform dagger.Platform,
	// Link fully statically against musl; false links against shared libraries
	// +default=true
	static bool,
	// Toolchain image with make and a C compiler, used as is (default: a
	// pinned Debian image plus an install of build-essential and musl-tools)
	// +optional
	toolchain string,
	// Base URL that replaces https://skarnet.org/software; tarballs are
	// fetched from MIRROR/<pkg>/<tarball>
	// +optional
	mirror string,
	// JSON catalogue file that adds or overrides releases and digests
	// +optional
	catalog *dagger.File,
	// Parallel make jobs (default: the build container's CPU count)
	// +optional
	jobs int,
	// Members of the family to add beside skalibs, execline and s6: s6-rc,
	// s6-linux-init, s6-portable-utils, s6-linux-utils, s6-dns,
	// s6-networking, or all; PKG=VERSION pins one (default: the newest
	// release that works with the rest)
	// +optional
	with []string,
	// Installation prefix compiled into the programs (s6 runs
	// PREFIX/libexec/s6-ftrigrd); the result holds them under it, ready to
	// extract at / (default: /)
	// +optional
	prefix string,
	// Build a foreign platform under the engine's emulator instead of
	// cross-compiling it (the test itself runs on the target platform)
	// +optional
	emulate bool,
) (string, error) {
	r := request{s6: s6, skalibs: skalibs, execline: execline, platform: platform, static: static,
		toolchain: toolchain, mirror: mirror, catalog: catalog, jobs: jobs, with: with, prefix: prefix, emulate: emulate}
	return inWords(r.smoke(ctx))
}

// Release artifacts of the request, one tarball per platform, as
// `s6builder release` writes them: s6-<version>-<os>_<arch>[_<variant>].tar.gz
// (the dist, to extract at /), manifest.json (every input), sbom.spdx.json
// and SHA256SUMS, e.g.
// `dagger call release --s6 2.15.1.0 --platforms linux/amd64,linux/arm64 export --path ./release`
//
// The tarballs are reproducible as the CLI's are (sorted entries, owner
// 0:0, every time sourceDateEpoch, gzip without a name or a time), whatever
// times Dagger gives the dist's files. Unlike the CLI's, the release has no
// provenance attestation: Dagger's API does not expose BuildKit's.
func (m *S6Builder) Release(
	ctx context.Context,
	// s6 release to build, e.g. 2.15.1.0 (`dagger call versions` lists them)
	s6 string,
	// skalibs release (default: the one the s6 release needs)
	// +optional
	skalibs string,
	// execline release (default: the one the s6 release needs)
	// +optional
	execline string,
	// Target platforms, in Docker's names or s6-overlay's (default: the
	// engine's); a foreign one is cross-compiled unless emulate is set
	// +optional
	platforms []string,
	// Link fully statically against musl; false links against shared libraries
	// +default=true
	static bool,
	// Toolchain image with make and a C compiler, used as is (default: a
	// pinned Debian image plus an install of build-essential and musl-tools,
	// and of the target's cross compiler and musl for a foreign platform)
	// +optional
	toolchain string,
	// Base URL that replaces https://skarnet.org/software; tarballs are
	// fetched from MIRROR/<pkg>/<tarball>
	// +optional
	mirror string,
	// JSON catalogue file that adds or overrides releases and digests
	// +optional
	catalog *dagger.File,
	// Parallel make jobs (default: the build container's CPU count)
	// +optional
	jobs int,
	// Members of the family to add beside skalibs, execline and s6: s6-rc,
	// s6-linux-init, s6-portable-utils, s6-linux-utils, s6-dns,
	// s6-networking, or all; PKG=VERSION pins one (default: the newest
	// release that works with the rest)
	// +optional
	with []string,
	// Installation prefix compiled into the programs (s6 runs
	// PREFIX/libexec/s6-ftrigrd); the result holds them under it, ready to
	// extract at / (default: /)
	// +optional
	prefix string,
	// Build foreign platforms under the engine's emulator instead of
	// cross-compiling them
	// +optional
	emulate bool,
	// Time of every file in the tarballs, in seconds since 1970 (default:
	// midnight UTC of the day the newest source release was tagged)
	// +optional
	sourceDateEpoch int,
) (*dagger.Directory, error) {
	r := request{s6: s6, skalibs: skalibs, execline: execline, static: static,
		toolchain: toolchain, mirror: mirror, catalog: catalog, jobs: jobs, with: with, prefix: prefix, emulate: emulate}
	return inWords(r.release(ctx, platforms, int64(sourceDateEpoch)))
}

// Publish a multi-platform image with s6-svscan as PID 1 over a service
// tree: for each platform, the image `image` makes over the base
// reference's image for that platform, with that platform's dist
// (cross-compiled on the engine's platform), as one OCI index (Dagger's
// platform variants); returns the published reference with its digest, e.g.
// `dagger call publish --address registry.example.com/app:s6 --platforms linux/amd64,linux/arm64 --s6 2.15.1.0 --services ./etc/s6 --base debian:bookworm-slim`
func (m *S6Builder) Publish(
	ctx context.Context,
	// Image name to publish to, e.g. registry.example.com/app:s6
	address string,
	// Platforms of the image, in Docker's names or s6-overlay's
	platforms []string,
	// s6 release to build, e.g. 2.15.1.0
	s6 string,
	// Service tree: one directory per service, each with an executable run
	// file, and optionally .s6-svscan/finish
	services *dagger.Directory,
	// Base image reference offering every platform, e.g. debian:bookworm-slim
	base string,
	// skalibs release (default: the one the s6 release needs)
	// +optional
	skalibs string,
	// execline release (default: the one the s6 release needs)
	// +optional
	execline string,
	// Link fully statically against musl; false links against shared libraries
	// +default=true
	static bool,
	// Toolchain image with make and a C compiler, used as is (default: a
	// pinned Debian image plus an install of build-essential and musl-tools,
	// and of the target's cross compiler and musl for a foreign platform)
	// +optional
	toolchain string,
	// Base URL that replaces https://skarnet.org/software
	// +optional
	mirror string,
	// JSON catalogue file that adds or overrides releases and digests
	// +optional
	catalog *dagger.File,
	// Parallel make jobs (default: the build container's CPU count)
	// +optional
	jobs int,
	// Members of the family to add beside skalibs, execline and s6
	// +optional
	with []string,
	// Installation prefix: the dist is built for it and goes at / (default:
	// /usr/local)
	// +optional
	prefix string,
	// Where the service tree goes in the image (default: /etc/s6)
	// +optional
	servicesDir string,
) (string, error) {
	r := request{s6: s6, skalibs: skalibs, execline: execline, static: static,
		toolchain: toolchain, mirror: mirror, catalog: catalog, jobs: jobs, with: with, prefix: prefix}
	return inWords(r.publish(ctx, address, platforms, base, imageArgs{services: services, servicesDir: servicesDir}))
}

// List the releases s6builder knows: release date, for s6 the skalibs and
// execline it needs, and the tarball digest (- when none is known)
func (m *S6Builder) Versions(
	ctx context.Context,
	// JSON catalogue file that adds or overrides releases and digests
	// +optional
	catalog *dagger.File,
) (string, error) {
	cat, err := loadCatalog(ctx, catalog)
	if err != nil {
		return inWords("", err)
	}
	var b strings.Builder
	if err := cat.WriteTable(&b); err != nil {
		return "", err
	}
	return b.String(), nil
}

// List the platforms the platform argument takes: Docker's name, the names
// s6-overlay gives the same architecture, Debian's architecture, and notes
func (m *S6Builder) Platforms() (string, error) {
	var b strings.Builder
	if err := pipeline.WritePlatforms(&b); err != nil {
		return "", err
	}
	return b.String(), nil
}
