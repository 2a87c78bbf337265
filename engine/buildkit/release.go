package buildkit

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/release"
)

// ReleaseOptions say where a release goes and what it records.
type ReleaseOptions struct {
	Dir             string // the release directory (replaced atomically)
	Force           bool   // replace Dir even when it is not an s6builder output
	Version         string // s6builder's version, recorded in the manifest
	SourceDateEpoch int64  // 0 = release.SourceDateEpoch of the plans
	Progress        string
	ProgressOut     io.Writer
	Cache           Cache
	// Nodes and On spread the platforms over several daemons (BuildOn):
	// plans[i] is built on Nodes[On[i]]. Without Nodes, c builds them all.
	Nodes []*client.Client
	On    []int
}

// Release builds the plans (one per platform), inventories their
// toolchains, and writes the release (package release: tarballs,
// manifest.json, sbom.spdx.json, SHA256SUMS) into a staged directory that
// replaces Dir only when everything succeeded.
func Release(ctx context.Context, c *client.Client, plans []*pipeline.Plan, o ReleaseOptions) (*release.Manifest, []*Report, error) {
	if err := CheckOutputs([]Output{{Field: "output", Path: o.Dir}}, o.Force); err != nil {
		return nil, nil, err
	}
	epoch := o.SourceDateEpoch
	if epoch == 0 {
		var err error
		if epoch, err = release.SourceDateEpoch(plans); err != nil {
			return nil, nil, err
		}
	}
	staged, err := stageDir(o.Dir)
	if err != nil {
		return nil, nil, err
	}
	defer staged.discard()
	work, err := os.MkdirTemp("", "s6builder-release-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(work)

	nodes, on := o.Nodes, o.On
	if len(nodes) == 0 {
		nodes, on = []*client.Client{c}, make([]int, len(plans))
	}
	opts := make([]Options, len(plans))
	dists := make([]string, len(plans))
	for i, p := range plans {
		dists[i] = filepath.Join(work, pipeline.PlatformDir(p.Request.Platform))
		opts[i] = Options{Dist: dists[i], Cache: o.Cache}
	}
	reps, err := BuildOn(ctx, nodes, on, plans, opts, o.Progress, o.ProgressOut)
	if err != nil {
		return nil, reps, err
	}
	inv := map[string]release.Inventory{}
	for i, p := range plans {
		key := release.ToolchainKey(p)
		if _, done := inv[key]; done {
			continue
		}
		if inv[key], err = inventory(ctx, nodes[on[i]], p, o.Progress, o.ProgressOut); err != nil {
			onNode(err, on[i])
			return nil, reps, fmt.Errorf("inventory of the toolchain %s: %w", key, err)
		}
	}
	m, err := release.Write(staged.tmp, o.Version, epoch, plans, dists, inv, MarkerName)
	if err != nil {
		return nil, reps, err
	}
	for i, p := range plans {
		if err := provenance(ctx, nodes[on[i]], p, filepath.Join(staged.tmp, release.ProvenanceName(p)), o.Progress, o.ProgressOut); err != nil {
			onNode(err, on[i])
			return nil, reps, fmt.Errorf("provenance of %s: %w", release.TarballName(p), err)
		}
	}
	if err := staged.mark(Marker{S6builder: "release", Releases: releasesOf(plans[0]), Platform: plans[0].Request.Platform}); err != nil {
		return nil, reps, err
	}
	return m, reps, staged.commit()
}

// releasesOf names the package versions of a plan.
func releasesOf(p *pipeline.Plan) map[string]string {
	out := map[string]string{}
	for _, pkg := range p.Selection.Packages() {
		rel, _ := p.Selection.Release(pkg)
		out[pkg] = rel.Version.String()
	}
	return out
}

// inventory runs the plan's inventory stage (release.InventoryStage) on
// its toolchain and reads what it found.
func inventory(ctx context.Context, c *client.Client, p *pipeline.Plan, progress string, out io.Writer) (release.Inventory, error) {
	states, err := States(p)
	if err != nil {
		return release.Inventory{}, err
	}
	st, err := execState(release.InventoryStage(p), states)
	if err != nil {
		return release.Inventory{}, err
	}
	files, err := solveToFiles(ctx, c, p, st, nil, nil, progress, out, release.InventoryPackages, release.InventoryCompilers)
	if err != nil {
		return release.Inventory{}, err
	}
	return release.ParseInventory(files[0], files[1]), nil
}

// provenance writes BuildKit's SLSA provenance attestation of p's dist
// (attest:provenance, mode=max: every step's definition and its sources)
// to path. The dist is in the daemon's cache by now: nothing runs again.
// It carries the solve's times, so it is kept out of SHA256SUMS.
func provenance(ctx context.Context, c *client.Client, p *pipeline.Plan, path, progress string, out io.Writer) error {
	states, err := States(p)
	if err != nil {
		return err
	}
	const prefix = "s6builder-attestation."
	files, err := solveToFiles(ctx, c, p, states[pipeline.IDDist],
		map[string]string{"attest:provenance": "mode=max"}, map[string]string{"attestation-prefix": prefix},
		progress, out, prefix+"provenance.json")
	if err != nil {
		return err
	}
	return os.WriteFile(path, files[0], 0o644)
}

// solveToFiles solves st, marshalled for p's build platform as the builds
// were (so its cached vertices are the same ones), with a local export
// into a temporary directory, and returns the files named, read from it.
func solveToFiles(ctx context.Context, c *client.Client, p *pipeline.Plan, st llb.State, frontendAttrs, exportAttrs map[string]string,
	progress string, out io.Writer, names ...string) ([][]byte, error) {
	sess, err := newSession(ctx, progress, out)
	if err != nil {
		return nil, err
	}
	files, err := solveFilesAttrs(ctx, c, sess, p, st, frontendAttrs, exportAttrs, names)
	sess.close()
	return files, err
}

// solveFiles solves st on a session of the caller's and returns the named
// files of its result.
func solveFiles(ctx context.Context, c *client.Client, sess *session, p *pipeline.Plan, st llb.State, names []string) ([][]byte, error) {
	return solveFilesAttrs(ctx, c, sess, p, st, nil, nil, names)
}

func solveFilesAttrs(ctx context.Context, c *client.Client, sess *session, p *pipeline.Plan, st llb.State, frontendAttrs, exportAttrs map[string]string, names []string) ([][]byte, error) {
	spec, err := platforms.Parse(p.Request.BuildPlatform)
	if err != nil {
		return nil, err
	}
	def, err := st.Marshal(ctx, llb.Platform(spec))
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "s6builder-solve-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	err = sess.run(ctx, p, newRecorder(), func(ctx context.Context, ch chan *client.SolveStatus) error {
		_, err := c.Solve(ctx, def, client.SolveOpt{FrontendAttrs: frontendAttrs,
			Exports: []client.ExportEntry{{Type: client.ExporterLocal, OutputDir: dir, Attrs: exportAttrs}}}, ch)
		return err
	})
	if err != nil {
		return nil, err
	}
	files := make([][]byte, len(names))
	for i, name := range names {
		if files[i], err = os.ReadFile(filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("the solve wrote no %s: %w", name, err)
		}
	}
	return files, nil
}
