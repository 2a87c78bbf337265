package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/release"
)

// verifyOverlay is verify of an s6-overlay output: its files checked
// against its SHA256SUMS, then the tarballs rebuilt from what its manifest
// records (release, platforms, source digests, toolchain, time, mirror)
// and compared.
func verifyOverlay(cmd *cobra.Command, dir string, m *release.OverlayManifest, addr, progress string) error {
	want, err := release.ReadSums(filepath.Join(dir, release.SumsFile))
	if err != nil {
		return usageError{err}
	}
	cat, err := pipeline.LoadCatalog(pipeline.Layer{Source: filepath.Join(dir, release.ManifestFile), File: m.Catalog()})
	if err != nil {
		return usageError{err}
	}
	findings, err := release.CheckDir(dir, want, bk.MarkerName)
	if err != nil {
		return err
	}
	for _, f := range findings {
		fmt.Printf("TAMPERED   %s (%s)\n", f.Name, f.Problem)
	}
	mirror := m.Mirror
	if mirror == pipeline.DefaultMirror {
		mirror = "" // the sources' own places (GitHub, Debian) rather than skarnet's layout
	}
	var plans []*pipeline.Plan
	for _, p := range m.Platforms {
		r := pipeline.OverlayRequest{Version: m.S6Overlay, Platform: p.Platform, BuildPlatform: p.BuildPlatform, Mirror: mirror, SourceDateEpoch: m.SourceDateEpoch}
		if p.Toolchain.Image != pipeline.DefaultToolchain().Image {
			r.Toolchain = pipeline.Toolchain{Image: p.Toolchain.Image, Setup: p.Toolchain.Setup}
		}
		plan, err := pipeline.NewOverlay(cat, r)
		if err != nil {
			return usageError{fmt.Errorf("%s: %w", p.Tarball, err)}
		}
		plans = append(plans, plan)
	}
	return withRebuild(cmd, addr, m.Platforms[0].Toolchain.Image, func(c *daemon, again string) error {
		_, err := bk.Overlay(cmd.Context(), c.Client, plans, bk.OverlayOptions{Dir: again, Version: m.S6builder, Progress: progress})
		return err
	}, func(again string, got map[string]string) error {
		differ, names := compareRebuild(dir, again, want, got)
		return verdict(dir, len(findings), differ, len(names))
	})
}
