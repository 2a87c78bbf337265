package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/containerd/platforms"
	"github.com/spf13/cobra"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
	"github.com/s6builder/s6builder/pipeline/inputerr"
)

// overlayImageFlags are image's flags that an s6-overlay image takes.
type overlayImageFlags struct {
	version, base, root, output, push string
	force                             bool
	addr, progress                    string
	epoch                             int64
	cache                             bk.Cache
}

// overlayImage is `image --init s6-overlay`: s6-overlay built from source
// for every --platform, over --base, with --root at /.
func overlayImage(cmd *cobra.Command, rf *requestFlags, f overlayImageFlags) error {
	if f.base == "" {
		return usageError{inputerr.New("base", "", "an image reference is required (any distribution: the programs are static)")}
	}
	cat, req, err := rf.load()
	if err != nil {
		return err
	}
	targets, err := pipeline.ParsePlatforms(rf.platform)
	if err != nil {
		return usageError{err}
	}
	if f.root != "" {
		if err := checkOverlayRoot(f.root); err != nil {
			return usageError{err}
		}
	}
	oreq := pipeline.OverlayRequest{Version: f.version, Mirror: req.Mirror, Toolchain: req.Toolchain, SourceDateEpoch: f.epoch,
		BuildPlatform: platforms.DefaultString(), With: rf.with}
	image := pipeline.OverlayImage{Base: f.base, Root: f.root != ""}
	plans, spec, err := overlayImagePlans(cat, oreq, targets, image)
	if err != nil {
		return usageError{err} // refused before any work
	}
	if err := checkImageDestinations(f.push, f.output, f.force); err != nil {
		return err
	}
	c, stop, err := connect(cmd, f.addr, append(rf.toolchainRefs(), f.base, f.push)...)
	if err != nil {
		return err
	}
	defer stop()
	if oreq.BuildPlatform, err = bk.NativePlatform(cmd.Context(), c.Client); err != nil {
		return err
	}
	if plans, spec, err = overlayImagePlans(cat, oreq, targets, image); err != nil {
		return usageError{err}
	}
	start := time.Now()
	rep, err := bk.BuildImage(cmd.Context(), c.Client, bk.ImageInput{Spec: spec, Plans: plans, Services: f.root},
		bk.ImageOptions{OCIArchive: f.output, Push: f.push, Force: f.force, InsecurePush: loopbackRegistry(f.push) != "",
			Progress: f.progress, Cache: f.cache, SourceDateEpoch: f.epoch})
	if err != nil {
		return c.explain(err)
	}
	warnCacheImports(rep)
	executed, cached := rep.Counts()
	fmt.Fprintf(os.Stderr, "s6builder: s6-overlay %s image for %s in %.1fs (%d steps executed, %d cached): entrypoint /init\n",
		f.version, strings.Join(targets, ", "), time.Since(start).Seconds(), executed, cached)
	return nil
}

// overlayImagePlans plans s6-overlay for each target and the image over them.
func overlayImagePlans(cat *catalog.Catalog, r pipeline.OverlayRequest, targets []string, image pipeline.OverlayImage) ([]*pipeline.Plan, pipeline.ImageSpec, error) {
	var spec pipeline.ImageSpec
	plans, err := pipeline.NewOverlays(cat, r, targets, nil)
	for _, p := range plans {
		if spec, err = pipeline.AddOverlayImage(p, image); err != nil {
			break
		}
	}
	return plans, spec, err
}

// checkOverlayRoot reads the tree for / and applies pipeline's rules,
// before any work.
func checkOverlayRoot(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return inputerr.New("root", dir, "not a directory")
	}
	lt, err := openLocalTree(dir)
	if err != nil {
		return fmt.Errorf("--root: %w", err)
	}
	defer lt.root.Close()
	tree, err := pipeline.ReadOverlayRoot(lt)
	if err != nil {
		return fmt.Errorf("--root: %w", err)
	}
	if err := tree.Check(); err != nil {
		return fmt.Errorf("--root %s: %w", dir, err)
	}
	return nil
}
