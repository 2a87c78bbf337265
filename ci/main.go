// Build the s6 supervision suite (skalibs, execline, s6) from source
//
// s6builder's plan (package pipeline) decides every stage: which releases,
// which tarballs and digests, which argv runs in which container. This module
// translates that plan into Dagger calls, as engine/buildkit translates it
// into LLB; it decides nothing of its own. Tarballs are fetched by Dagger's
// http with the catalogue's checksum; every build step runs in the toolchain
// image, one withExec per step, so Dagger caches each stage separately.
package main

import (
	"context"
	"strings"

	"dagger/s-6-builder/internal/dagger"

	"github.com/s6builder/s6builder/pipeline"
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
	// Target platform, e.g. linux/arm64 (default: the engine's)
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
) (*dagger.Directory, error) {
	r := request{s6: s6, skalibs: skalibs, execline: execline, platform: platform, static: static,
		toolchain: toolchain, mirror: mirror, catalog: catalog, jobs: jobs}
	return r.output(ctx, exported)
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
) (*dagger.Directory, error) {
	r := request{s6: s6, skalibs: skalibs, execline: execline, platform: platform, static: static,
		toolchain: toolchain, mirror: mirror, catalog: catalog, jobs: jobs}
	return r.output(ctx, func(*pipeline.Plan) string { return pipeline.IDSources })
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
		return "", err
	}
	var b strings.Builder
	if err := cat.WriteTable(&b); err != nil {
		return "", err
	}
	return b.String(), nil
}
