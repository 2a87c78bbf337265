package main

import (
	"context"
	"fmt"
	"io/fs"
	"strings"

	"dagger/s-6-builder/internal/dagger"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/inputerr"
)

// s6-overlay's release tarballs, built from source for any platforms.
//
// As `s6builder overlay` writes them, each with its .sha256:
// s6-overlay-noarch.tar.xz, s6-overlay-symlinks-noarch.tar.xz,
// syslogd-overlay-noarch.tar.xz, s6-overlay-<arch>.tar.xz for each platform
// (x86_64, aarch64...) and s6-overlay-symlinks-arch.tar.xz, e.g.
// `dagger call overlay --s6-overlay 3.2.3.2 export --path ./s6-overlay`.
// The programs are the packages the release's conf/versions names, built
// as its mk/skaware.mk builds them; the constructor's mirror, catalog,
// toolchain and sourceDateEpoch apply (nobody publishes a digest for
// GitHub's archives of s6-overlay and s6-overlay-helpers: the catalog pins
// them).
func (m *S6Builder) Overlay(
	ctx context.Context,
	// s6-overlay release, e.g. 3.2.3.2 (the versions function lists them)
	s6Overlay string,
	// Platforms of the arch tarballs, in Docker's names or s6-overlay's
	// (default: the engine's)
	// +optional
	platforms []string,
	// Other releases than the s6-overlay release's conf/versions names,
	// PKG=VERSION each, e.g. s6-rc=0.6.1.1 (checked against each release's
	// package/deps-build)
	// +optional
	with []string,
) (*dagger.Directory, error) {
	plans, err := m.overlayPlans(ctx, s6Overlay, platforms, with, nil)
	if err != nil {
		return inWords[*dagger.Directory](nil, err)
	}
	return inWords(overlayTarballs(ctx, plans))
}

// A container with s6-overlay, built from source, over a base container.
//
// What an s6-overlay user's Dockerfile makes: the noarch and arch tarballs
// extracted at / (the base container's platform), the root tree copied at
// / (etc/s6-overlay/s6-rc.d, etc/s6-overlay/user-bundles.d,
// etc/cont-init.d, etc/services.d...) and /init as the entrypoint, e.g.
// `dagger call overlay-image --s6-overlay 3.2.3.2 --base debian:bookworm-slim --root ./root export --path image.tar`.
func (m *S6Builder) OverlayImage(
	ctx context.Context,
	// s6-overlay release, e.g. 3.2.3.2
	s6Overlay string,
	// Base image, any distribution, e.g. debian:bookworm-slim
	base *dagger.Container,
	// A tree copied at / of the image
	// +optional
	root *dagger.Directory,
	// Other releases than the s6-overlay release's conf/versions names,
	// PKG=VERSION each
	// +optional
	with []string,
) (*dagger.Container, error) {
	platform, err := base.Platform(ctx)
	if err != nil {
		return nil, fmt.Errorf("the base container's platform: %w", err)
	}
	image := pipeline.OverlayImage{Root: root != nil} // the base is a container
	plans, err := m.overlayPlans(ctx, s6Overlay, []string{string(platform)}, with, &image)
	if err != nil {
		return inWords[*dagger.Container](nil, err)
	}
	if root != nil {
		if err := checkOverlayRoot(ctx, root); err != nil {
			return inWords[*dagger.Container](nil, err)
		}
	}
	p := plans[0]
	rootfs, err := translate(p, pipeline.IDOverlayRootfs)
	if err != nil {
		return nil, err
	}
	ctr := base.WithDirectory("/", rootfs)
	if root != nil {
		ctr = ctr.WithDirectory("/", root)
	}
	return ctr.WithEntrypoint([]string{"/init"}).WithoutDefaultArgs(), nil
}

// overlayPlans plans s6-overlay for each platform (the engine's when none
// is given), compiled on the engine's platform; with image, each plan gets
// the image's stage too.
func (m *S6Builder) overlayPlans(ctx context.Context, version string, platforms, with []string, image *pipeline.OverlayImage) ([]*pipeline.Plan, error) {
	cfg, err := m.config()
	if err != nil {
		return nil, err
	}
	if version == "" {
		return nil, inputerr.New("s6Overlay", "", "give the s6-overlay release, e.g. {arg:s6Overlay} 3.2.3.2 (`{cmd:versions}` lists them)")
	}
	var targets []string
	if len(platforms) > 0 {
		if targets, err = pipeline.ParsePlatforms(strings.Join(platforms, ",")); err != nil {
			return nil, err
		}
	}
	req := pipeline.OverlayRequest{Version: version, Mirror: cfg.mirror, SourceDateEpoch: cfg.epoch, With: with}
	if cfg.toolchain != "" {
		req.Toolchain = pipeline.Toolchain{Image: cfg.toolchain}
	}
	cat, err := loadCatalog(ctx, cfg.catalog)
	if err != nil {
		return nil, err
	}
	// Planned once as if the first target (or this machine) built itself, to
	// refuse what needs no engine to refuse; then for the engine's platform.
	probe := req
	probe.BuildPlatform = firstOf(targets, "")
	if _, err := pipeline.NewOverlays(cat, probe, []string{firstOf(targets, "")}, cfg.platformToolchains); err != nil {
		return nil, err
	}
	native, err := dag.DefaultPlatform(ctx)
	if err != nil {
		return nil, fmt.Errorf("the engine's platform: %w", err)
	}
	if len(targets) == 0 {
		targets = []string{string(native)}
	}
	req.BuildPlatform = string(native)
	plans, err := pipeline.NewOverlays(cat, req, targets, cfg.platformToolchains)
	if err != nil || image == nil {
		return plans, err
	}
	for _, p := range plans {
		if _, err := pipeline.AddOverlayImage(p, *image); err != nil {
			return nil, err
		}
	}
	return plans, nil
}

// firstOf is l's first element, or or.
func firstOf(l []string, or string) string {
	if len(l) > 0 {
		return l[0]
	}
	return or
}

// overlayTarballs is the folder of the plans' tarballs: the noarch ones
// once, each platform's arch tarballs. The arch symlinks tarball has one
// name for every platform: each platform's must be the same file.
func overlayTarballs(ctx context.Context, plans []*pipeline.Plan) (*dagger.Directory, error) {
	noarch, err := translate(plans[0], pipeline.IDOverlayNoarch)
	if err != nil {
		return nil, err
	}
	out := dag.Directory().WithDirectory("/", noarch)
	var symlinks string
	for i, p := range plans {
		arch, err := translate(p, pipeline.IDOverlayArch)
		if err != nil {
			return nil, err
		}
		if len(plans) > 1 {
			sum, err := arch.File(pipeline.OverlaySymlinksArch).Digest(ctx, dagger.FileDigestOpts{ExcludeMetadata: true})
			if err != nil {
				return nil, err
			}
			if i > 0 && sum != symlinks {
				return nil, fmt.Errorf("%s differs between %s and %s: s6-overlay ships one for every platform",
					pipeline.OverlaySymlinksArch, plans[0].Request.Platform, p.Request.Platform)
			}
			symlinks = sum
		}
		out = out.WithDirectory("/", arch)
	}
	return out, nil
}

// checkOverlayRoot applies pipeline's rules to a tree for / before any
// build: the files s6-overlay runs must be executable.
func checkOverlayRoot(ctx context.Context, root *dagger.Directory) error {
	tree, err := pipeline.ReadOverlayRoot(overlayRootTree{daggerTree{ctx, root}})
	if err != nil {
		return err
	}
	if err := tree.Check(); err != nil {
		return inputerr.New("root", "", "%v", err)
	}
	return nil
}

// overlayRootTree lists, of a tree for /, the entries s6-overlay runs or
// reads (Directory.glob of its places), for pipeline.ReadOverlayRoot: the
// rest of the tree is copied as it is.
type overlayRootTree struct{ daggerTree }

// overlayPlaces are the globs of what s6-overlay runs or reads in a tree.
var overlayPlaces = []string{"etc/cont-init.d/*", "etc/cont-finish.d/*", "etc/services.d/*/run", "etc/services.d/*/finish", "etc/s6-overlay/s6-rc.d/*", "etc/s6-overlay/user-bundles.d/*"}

func (t overlayRootTree) Entries() ([]pipeline.TreeEntry, error) {
	var out []pipeline.TreeEntry
	for _, pattern := range overlayPlaces {
		paths, err := t.dir.Glob(t.ctx, pattern)
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			p = strings.TrimSuffix(p, "/")
			isDir, err := t.dir.Exists(t.ctx, p, dagger.DirectoryExistsOpts{ExpectedType: dagger.ExistsTypeDirectoryType})
			if err != nil {
				return nil, err
			}
			e := pipeline.TreeEntry{Path: p}
			if isDir {
				e.Type = fs.ModeDir
			}
			out = append(out, e)
		}
	}
	return out, nil
}
