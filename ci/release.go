package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"dagger/s-6-builder/internal/dagger"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/release"
)

// releaseWork is where the release is assembled, in the module's scratch
// working directory (what dag.CurrentModule().Workdir reads).
const releaseWork = "s6builder-release"

// release builds the request for each platform (its platforms, or its
// platform, or the engine's), exports each dist and the toolchain's inventory into the
// module's working directory, and writes the release there with the same
// code as `s6builder release` (package release): the tarballs' bytes are a
// function of the dists' content and epoch only, so Dagger's own file
// times do not reach them.
func (r request) release(ctx context.Context) (*dagger.Directory, error) {
	list, epoch := r.platforms, r.epoch
	if len(list) == 0 && r.platform != "" {
		list = []string{string(r.platform)}
	}
	if len(list) == 0 {
		native, err := dag.DefaultPlatform(ctx)
		if err != nil {
			return nil, fmt.Errorf("the engine's platform: %w", err)
		}
		list = []string{string(native)}
	}
	plats, err := pipeline.ParsePlatforms(strings.Join(list, ","))
	if err != nil {
		return nil, err
	}
	var plans []*pipeline.Plan
	for _, p := range plats {
		one := r
		one.platform, one.platforms = dagger.Platform(p), nil
		plan, err := one.plan(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		plans = append(plans, plan)
	}
	if epoch == 0 {
		if epoch, err = release.SourceDateEpoch(plans); err != nil {
			return nil, err
		}
	}
	if err := os.RemoveAll(releaseWork); err != nil {
		return nil, err
	}
	out := filepath.Join(releaseWork, "release")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	dists := make([]string, len(plans))
	inv := map[string]release.Inventory{}
	for i, p := range plans {
		dist, err := translate(p, exported(p))
		if err != nil {
			return nil, err
		}
		dists[i] = filepath.Join(releaseWork, "dist", pipeline.PlatformDir(p.Request.Platform))
		if _, err := dist.Export(ctx, dists[i]); err != nil {
			return nil, fmt.Errorf("s6 %s for %s: %w", p.Request.S6, p.Request.Platform, err)
		}
		key := release.ToolchainKey(p)
		if _, done := inv[key]; done {
			continue
		}
		if inv[key], err = inventory(ctx, p); err != nil {
			return nil, fmt.Errorf("inventory of the toolchain %s: %w", key, err)
		}
	}
	if _, err := release.Write(out, moduleVersion(), epoch, plans, dists, inv); err != nil {
		return nil, err
	}
	return dag.CurrentModule().Workdir(out), nil
}

// inventory runs the plan's inventory stage (release.InventoryStage) on
// its toolchain and reads what it found.
func inventory(ctx context.Context, p *pipeline.Plan) (release.Inventory, error) {
	withInventory := *p
	withInventory.Stages = append(append([]*pipeline.Stage{}, p.Stages...), release.InventoryStage(p))
	d, err := translate(&withInventory, release.IDInventory)
	if err != nil {
		return release.Inventory{}, err
	}
	pkgs, err := d.File(release.InventoryPackages).Contents(ctx)
	if err != nil {
		return release.Inventory{}, err
	}
	ccs, err := d.File(release.InventoryCompilers).Contents(ctx)
	if err != nil {
		return release.Inventory{}, err
	}
	return release.ParseInventory([]byte(pkgs), []byte(ccs)), nil
}

// moduleVersion is the module's version as its Go build stamped it.
func moduleVersion() string {
	v := "module"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v += " " + bi.Main.Version
	}
	return v
}
