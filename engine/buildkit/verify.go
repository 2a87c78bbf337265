package buildkit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/inputerr"
)

// verifyDist checks every program of an exported dist tree against the
// request (pipeline.CheckBinary: platform and, for static builds, no
// dynamic linking) before it is committed, so that nothing is labelled as
// what it is not. It returns how many ELF programs it checked; a dist with
// none fails too.
func verifyDist(dir string, req pipeline.Request) (int, error) {
	var n int
	var errs []error
	for _, sub := range req.DistBinaryDirs() {
		root := filepath.Join(dir, filepath.FromSlash(sub))
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) && path == root {
				return fs.SkipDir
			}
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(dir, path)
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			if pipeline.IsELF(f) {
				n++
			}
			if err := pipeline.CheckBinary(req, rel, f); err != nil {
				errs = append(errs, err)
			}
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("checking the dist: %w", err)
		}
	}
	if len(errs) > 3 {
		errs = append(errs[:3], fmt.Errorf("... and %d other programs like them", len(errs)-3))
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("the dist is not what was asked for, so it was not exported:\n%w", err)
	}
	if n == 0 {
		return 0, fmt.Errorf("the dist has no programs in %v: nothing to check, so it was not exported", req.DistBinaryDirs())
	}
	return n, nil
}

// NativePlatform is the platform the daemon runs natively (its first
// worker's first platform, as BuildKit lists them): where a cross build's
// compilers run.
func NativePlatform(ctx context.Context, c *client.Client) (string, error) {
	workers, err := c.ListWorkers(ctx)
	if err != nil {
		return "", fmt.Errorf("BuildKit: listing the daemon's workers: %w", err)
	}
	if len(workers) == 0 || len(workers[0].Platforms) == 0 {
		return "", fmt.Errorf("BuildKit: the daemon has no worker")
	}
	return platforms.Format(platforms.Normalize(workers[0].Platforms[0])), nil
}

// checkPlatforms refuses, before any solve, a platform that none of
// the daemon's workers can run (natively or through the emulators the
// daemon found): its steps would run on the daemon's own platform and
// build for it instead.
func checkPlatforms(ctx context.Context, c *client.Client, wanted ...string) error {
	workers, err := c.ListWorkers(ctx)
	if err != nil {
		return fmt.Errorf("BuildKit: listing the daemon's workers: %w", err)
	}
	var have []ocispecs.Platform
	var names []string
	for _, w := range workers {
		for _, p := range w.Platforms {
			have = append(have, p)
			names = append(names, platforms.Format(p))
		}
	}
	for _, w := range wanted {
		want, err := platforms.Parse(w)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(have, func(h ocispecs.Platform) bool { return platforms.Only(h).Match(want) }) {
			return inputerr.New("platform", w,
				"the BuildKit daemon runs %s only: building for %s needs an emulator for it registered on the daemon's host "+
					"(binfmt_misc, e.g. qemu-user-static), or a daemon on a %s machine", strings.Join(slices.Compact(names), ", "), w, w)
		}
	}
	return nil
}
