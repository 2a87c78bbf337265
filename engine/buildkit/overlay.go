package buildkit

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/ulikunitz/xz"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/release"
)

// OverlayOptions say where an s6-overlay plan's tarballs go.
type OverlayOptions struct {
	Dir         string // replaced atomically, and only when it is s6builder's (or Force)
	Force       bool
	Version     string // s6builder's version, recorded in the manifest
	Progress    string
	ProgressOut io.Writer
}

// Overlay solves the s6-overlay plans (pipeline.NewOverlay, one per
// platform, of one release) and writes their tarballs, each with its
// .sha256, into o.Dir: the noarch ones, each platform's arch tarball and
// the arch symlinks tarball, which every platform must make alike; then
// manifest.json, sbom.spdx.json and SHA256SUMS over them all
// (release.WriteOverlay). It returns the tarballs' and .sha256 files'
// names. Nothing is written unless every file is there.
func Overlay(ctx context.Context, c *client.Client, plans []*pipeline.Plan, o OverlayOptions) ([]string, error) {
	if err := CheckOutputs([]Output{{Field: "output", Path: o.Dir}}, o.Force); err != nil {
		return nil, err
	}
	if len(plans) == 0 {
		return nil, errors.New("no s6-overlay plan to solve")
	}
	var wanted []string
	for _, p := range plans {
		if p.Stage(pipeline.IDOverlayNoarch) == nil || p.Stage(pipeline.IDOverlayArch) == nil {
			return nil, fmt.Errorf("the plan for %s is not an s6-overlay plan", p.Request.Platform)
		}
		wanted = append(wanted, platformsRun(p, false)...)
	}
	if err := checkPlatforms(ctx, c, wanted...); err != nil {
		return nil, err
	}
	// One solve per plan, at once, on one session: the noarch stage and
	// the packages' builds are shared by key, so they run once.
	sess, err := newSession(ctx, o.Progress, o.ProgressOut)
	if err != nil {
		return nil, err
	}
	names := make([][]string, len(plans))
	files := make([][][]byte, len(plans))
	errs := make([]error, len(plans))
	var wg sync.WaitGroup
	for i, p := range plans {
		names[i] = overlayFiles(p, i == 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			states, err := States(p)
			if err != nil {
				errs[i] = err
				return
			}
			st := states[pipeline.IDOverlayArch]
			if i == 0 { // the noarch tarballs once: every plan's are the same stage
				st = llb.Merge([]llb.State{states[pipeline.IDOverlayNoarch], st})
			}
			files[i], errs[i] = solveFiles(ctx, c, sess, p, st, names[i])
		}()
	}
	wg.Wait()
	sess.close()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	for i, p := range plans {
		arch := p.OverlayArchTarballs()[0]
		if _, err := checkOverlayArch(p, arch, files[i][slices.Index(names[i], arch)]); err != nil {
			return nil, err
		}
	}
	staged, err := stageDir(o.Dir)
	if err != nil {
		return nil, err
	}
	defer staged.discard()
	written := map[string][]byte{}
	var out, keys []string
	for i, p := range plans {
		for k, n := range names[i] {
			if prev, ok := written[n]; ok {
				if !bytes.Equal(prev, files[i][k]) {
					return nil, fmt.Errorf("%s differs between %s and %s: s6-overlay ships one for every platform", n, plans[0].Request.Platform, p.Request.Platform)
				}
				continue
			}
			written[n] = files[i][k]
			out = append(out, n)
			if err := os.WriteFile(filepath.Join(staged.tmp, n), files[i][k], 0o644); err != nil {
				return nil, err
			}
		}
		keys = append(keys, p.Stage(pipeline.IDOverlayArch).Key)
	}
	if _, err := release.WriteOverlay(staged.tmp, o.Version, plans, out); err != nil {
		return nil, err
	}
	s := plans[0].Stage(pipeline.IDOverlayNoarch)
	var platforms []string
	for _, p := range plans {
		platforms = append(platforms, p.Request.Platform)
	}
	if err := staged.mark(Marker{S6builder: "overlay", Releases: map[string]string{s.Package: s.Version},
		Platform: strings.Join(platforms, ","), Key: strings.Join(append([]string{s.Key}, keys...), ",")}); err != nil {
		return nil, err
	}
	return out, staged.commit()
}

// overlayFiles names what a plan's solve writes: the noarch tarballs (for
// one plan only), the arch tarballs, each with its .sha256.
func overlayFiles(p *pipeline.Plan, noarch bool) []string {
	var tarballs []string
	if noarch {
		tarballs = append(tarballs, pipeline.OverlayNoarchTarballs...)
	}
	tarballs = append(tarballs, p.OverlayArchTarballs()...)
	var names []string
	for _, t := range tarballs {
		names = append(names, t, t+".sha256")
	}
	return names
}

// checkOverlayArch checks every program of a plan's arch tarball against
// its request (pipeline.CheckBinary: the platform's machine, static)
// before anything is committed, so that no tarball is named for a platform
// its programs are not of; it returns how many it checked.
func checkOverlayArch(p *pipeline.Plan, name string, tarball []byte) (int, error) {
	xr, err := xz.NewReader(bytes.NewReader(tarball))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	tr := tar.NewReader(xr)
	var n int
	var errs []error
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("%s: %w", name, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return n, fmt.Errorf("%s: %w", name, err)
		}
		r := bytes.NewReader(b)
		if pipeline.IsELF(r) {
			n++
		}
		if err := pipeline.CheckBinary(p.Request, name+": "+h.Name, r); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 3 {
		errs = append(errs[:3], fmt.Errorf("... and %d other programs like them", len(errs)-3))
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("%s is not what was asked for, so nothing was written:\n%w", name, err)
	}
	if n == 0 {
		return 0, fmt.Errorf("%s holds no program: nothing to check, so nothing was written", name)
	}
	return n, nil
}
