package buildkit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tonistiigi/fsutil"

	"github.com/s6builder/s6builder/pipeline"
)

// ImageInput is what goes into an image: the spec, the service tree (a
// local directory) and the dist: the plans' dist stages, one image per plan
// (an OCI index when there are several platforms), or a local directory for
// users who bring their own s6 (DistDir).
type ImageInput struct {
	Spec     pipeline.ImageSpec
	Plans    []*pipeline.Plan // one per platform; none when DistDir is set
	DistDir  string
	Services string
	Platform string // DistDir's platform ("" = this machine's)
	// DistDirs are local trees of several platforms, one image each in
	// an index (in place of DistDir and Platform).
	DistDirs []PlatformDir
	// Locals are the local directories the plans' local stages name
	// (pipeline.LocalRc: an s6-rc source tree), by name.
	Locals map[string]string
}

// PlatformDir is a local tree for one platform.
type PlatformDir struct{ Platform, Dir string }

// imageTarget is one platform of an image: its dist's plan (nil for a
// local dist) and its platform.
type imageTarget struct {
	plan *pipeline.Plan
	spec ocispecs.Platform
	// local names the local mount of a local dist, dir its folder
	local, dir string
}

// localDists are DistDirs, or DistDir for Platform.
func (in ImageInput) localDists() []PlatformDir {
	if len(in.DistDirs) > 0 {
		return in.DistDirs
	}
	return []PlatformDir{{in.Platform, in.DistDir}}
}

// targets are the platforms the image is made for, in the plans' order.
func (in ImageInput) targets() ([]imageTarget, error) {
	if len(in.Plans) == 0 {
		var out []imageTarget
		for i, d := range in.localDists() {
			spec, err := platforms.Parse(firstNonEmpty(d.Platform, platforms.DefaultString()))
			if err != nil {
				return nil, err
			}
			out = append(out, imageTarget{spec: platforms.Normalize(spec), local: localDist + "-" + strconv.Itoa(i), dir: d.Dir})
		}
		return out, nil
	}
	out := make([]imageTarget, len(in.Plans))
	for i, p := range in.Plans {
		if p.Stage(pipeline.IDDist) != nil && p.Request.Prefix != in.Spec.Prefix {
			// The entrypoint would name a program the dist does not have.
			return nil, fmt.Errorf("image: the dist of %s is built for prefix %s, the image expects its programs under %s",
				p.Request.Platform, p.Request.Prefix, in.Spec.Prefix)
		}
		spec, err := platforms.Parse(p.Request.Platform)
		if err != nil {
			return nil, err
		}
		out[i] = imageTarget{plan: p, spec: platforms.Normalize(spec)}
	}
	return out, nil
}

// ImageOptions say where the image goes: an OCI archive file (written
// atomically) and/or a registry.
type ImageOptions struct {
	OCIArchive   string
	Push         string // image name to push to
	InsecurePush bool   // plain-HTTP registry (a loopback test registry)
	Force        bool   // overwrite OCIArchive even when it is not an OCI archive
	Progress     string
	ProgressOut  io.Writer
	Cache        Cache // for the builds of the dists
	// SourceDateEpoch > 0: every time in the image is this (seconds since
	// 1970), so that the same inputs give the same digest.
	SourceDateEpoch int64
}

// Local mount names of the image build.
const (
	localDist     = "dist"
	localServices = "services"
)

// imageState merges the base image, the dist at /, the service tree
// and the added .s6-svscan/finish: one Merge over single-purpose layers.
func imageState(in ImageInput, t imageTarget) (llb.State, error) {
	spec := t.spec
	var dist *llb.State // nil: an image without a dist (s6-overlay's trees are layers)
	var st map[string]llb.State
	if t.plan != nil {
		var err error
		if st, err = States(t.plan); err != nil {
			return llb.State{}, err
		}
		if d, ok := st[pipeline.IDDist]; ok {
			dist = &d
		}
	} else {
		d := llb.Local(t.local, llb.ExcludePatterns([]string{MarkerName}), llb.WithCustomName("[image] dist from "+t.dir))
		dist = &d
	}
	services := llb.Local(localServices, llb.WithCustomName("[image] services from "+in.Services))
	copyInto := func(src llb.State, dest, name string) llb.State {
		return llb.Scratch().File(llb.Copy(src, "/", strings.TrimSuffix(dest, "/")+"/", &llb.CopyInfo{CopyDirContentsOnly: true, CreateDestPath: true}),
			llb.WithCustomName("[image] "+name))
	}
	if in.Spec.DistOnly {
		if dist == nil {
			return llb.State{}, fmt.Errorf("image: a dist image needs a dist")
		}
		return copyInto(*dist, "/", "dist, programs in "+in.Spec.Prefix), nil
	}
	layers := []llb.State{llb.Image(in.Spec.Base, llb.Platform(spec), llb.WithCustomName("[image] pull "+in.Spec.Base))}
	if dist != nil {
		// The dist tree holds its programs under their prefix already.
		layers = append(layers, copyInto(*dist, "/", "dist, programs in "+in.Spec.Prefix))
	}
	for _, id := range in.Spec.Layers {
		layer, ok := st[id]
		if !ok {
			return llb.State{}, fmt.Errorf("image: the plan has no stage %s", id)
		}
		layers = append(layers, copyInto(layer, "/", id))
	}
	for _, d := range in.Spec.Dirs {
		layers = append(layers, llb.Scratch().File(llb.Mkdir(d.Path, os.FileMode(d.Mode), llb.WithParents(true), llb.WithUIDGID(d.UID, d.GID)),
			llb.WithCustomName(fmt.Sprintf("[image] %s, mode %o, owner %d:%d", d.Path, d.Mode, d.UID, d.GID))))
	}
	if in.Spec.ServicesDir != "" {
		layers = append(layers, copyInto(services, in.Spec.ServicesDir, "services at "+in.Spec.ServicesDir))
	}
	if in.Spec.ScanFinish != "" {
		dir := in.Spec.ServicesDir + "/.s6-svscan"
		layers = append(layers, llb.Scratch().File(
			llb.Mkdir(dir, 0o755, llb.WithParents(true)).Mkfile(dir+"/finish", 0o755, []byte(in.Spec.ScanFinish)),
			llb.WithCustomName("[image] add .s6-svscan/finish")))
	}
	return llb.Merge(layers, llb.WithCustomName("[image] merge")), nil
}

// imageConfig is the base image's config with s6-svscan as the entrypoint.
func imageConfig(base []byte, s pipeline.ImageSpec, p ocispecs.Platform) ([]byte, error) {
	var img ocispecs.Image
	if len(base) > 0 {
		if err := json.Unmarshal(base, &img); err != nil {
			return nil, fmt.Errorf("base image config: %w", err)
		}
	}
	img.Platform = p
	img.RootFS.Type = "layers"
	// The spec's PATH replaces the base's; without one, the base's stays.
	ownPath := slices.ContainsFunc(s.Env, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") })
	var env []string
	for _, kv := range img.Config.Env {
		if !ownPath || !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	img.Config.Env = append(env, s.Env...)
	img.Config.Entrypoint = s.Entrypoint
	img.Config.Cmd = nil
	img.Config.StopSignal = s.StopSignal
	img.Config.WorkingDir = s.WorkingDir
	img.Config.User = s.User
	for k, v := range s.Labels {
		if img.Config.Labels == nil {
			img.Config.Labels = map[string]string{}
		}
		img.Config.Labels[k] = v
	}
	return json.Marshal(img)
}

// BuildImage builds the image and exports it.
func BuildImage(ctx context.Context, c *client.Client, in ImageInput, o ImageOptions) (*Report, error) {
	if o.OCIArchive == "" && o.Push == "" {
		return nil, fmt.Errorf("image: give an OCI archive path or a name to push to")
	}
	if o.OCIArchive != "" {
		if err := CheckOutputs([]Output{{Field: "output", Path: o.OCIArchive, File: true}}, o.Force); err != nil {
			return nil, err
		}
	}
	targets, err := in.targets()
	if err != nil {
		return nil, err
	}
	if len(in.Plans) == 0 {
		// A local dist is copied, not built: nothing runs for its platform
		// but the base's pull, which a daemon does for any platform.
	} else if in.Plans[0].Stage(pipeline.IDDist) == nil {
		// No dist (an s6-overlay image): its trees are built in the solve.
		var wanted []string
		for _, p := range in.Plans {
			wanted = append(wanted, platformsRun(p, false)...)
		}
		if err := checkPlatforms(ctx, c, wanted...); err != nil {
			return nil, err
		}
	} else if err := checkPlanDists(ctx, c, in.Plans, o); err != nil {
		// The dists go into the image only after their programs are checked
		// against the requests, as an exported dist is (the solves are
		// cached, so the image build below reuses them).
		return nil, err
	}
	defs := make([]*llb.Definition, len(targets))
	for i, t := range targets {
		st, err := imageState(in, t)
		if err != nil {
			return nil, err
		}
		if defs[i], err = st.Marshal(ctx, llb.Platform(t.spec)); err != nil {
			return nil, err
		}
	}

	mounts := map[string]fsutil.FS{}
	locals := map[string]string{localServices: in.Services}
	for _, t := range targets {
		if t.local != "" {
			locals[t.local] = t.dir
		}
	}
	for name, dir := range in.Locals {
		locals[name] = dir
	}
	for name, dir := range locals {
		if dir == "" {
			continue
		}
		fs, err := fsutil.NewFS(dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		mounts[name] = fs
	}
	opt := client.SolveOpt{LocalMounts: mounts}
	// The same digest from the same inputs: every file time, the layers'
	// and the config's, at SourceDateEpoch.
	reproducible := func(attrs map[string]string) map[string]string {
		if o.SourceDateEpoch > 0 {
			attrs["source-date-epoch"] = strconv.FormatInt(o.SourceDateEpoch, 10)
			attrs["rewrite-timestamp"] = "true"
		}
		return attrs
	}
	var archive *os.File
	if o.OCIArchive != "" {
		abs, err := filepath.Abs(o.OCIArchive)
		if err != nil {
			return nil, err
		}
		removeStale(filepath.Dir(abs), tmpPrefix(abs))
		archive, err = os.CreateTemp(filepath.Dir(abs), tmpPrefix(abs)+strconv.Itoa(os.Getpid())+"-")
		if err != nil {
			return nil, fmt.Errorf("image archive: %w", err)
		}
		defer os.Remove(archive.Name()) // after the rename, nothing to remove
		defer archive.Close()           // BuildKit closes it when the export succeeds
		opt.Exports = append(opt.Exports, client.ExportEntry{Type: client.ExporterOCI,
			Attrs:  reproducible(map[string]string{"name": firstNonEmpty(o.Push, "s6builder/image")}),
			Output: func(map[string]string) (io.WriteCloser, error) { return archive, nil }})
	}
	if o.Push != "" {
		attrs := map[string]string{"name": o.Push, "push": "true"}
		if o.InsecurePush {
			attrs["registry.insecure"] = "true"
		}
		opt.Exports = append(opt.Exports, client.ExportEntry{Type: client.ExporterImage, Attrs: reproducible(attrs)})
	}

	// One image per platform; several make an OCI index, as BuildKit's
	// own frontends return a multi-platform result.
	build := func(ctx context.Context, gc gateway.Client) (*gateway.Result, error) {
		res := gateway.NewResult()
		var index exptypes.Platforms
		for i, t := range targets {
			var baseCfg []byte
			if !in.Spec.DistOnly {
				if _, _, baseCfg, err = gc.ResolveImageConfig(ctx, in.Spec.Base, sourceresolver.Opt{
					ImageOpt: &sourceresolver.ResolveImageOpt{Platform: &t.spec}}); err != nil {
					return nil, fmt.Errorf("base image %s for %s: %w", in.Spec.Base, platforms.Format(t.spec), err)
				}
			}
			cfg, err := imageConfig(baseCfg, in.Spec, t.spec)
			if err != nil {
				return nil, err
			}
			r, err := gc.Solve(ctx, gateway.SolveRequest{Definition: defs[i].ToPB()})
			if err != nil {
				return nil, err
			}
			ref, err := r.SingleRef()
			if err != nil {
				return nil, err
			}
			if len(targets) == 1 {
				res.SetRef(ref)
				res.AddMeta(exptypes.ExporterImageConfigKey, cfg)
				return res, nil
			}
			id := platforms.FormatAll(t.spec)
			res.AddRef(id, ref)
			res.AddMeta(exptypes.ExporterImageConfigKey+"/"+id, cfg)
			index.Platforms = append(index.Platforms, exptypes.Platform{ID: id, Platform: t.spec})
		}
		b, err := json.Marshal(index)
		if err != nil {
			return nil, err
		}
		res.AddMeta(exptypes.ExporterPlatformsKey, b)
		return res, nil
	}
	sess, err := newSession(ctx, o.Progress, o.ProgressOut)
	if err != nil {
		return nil, err
	}
	rec := newRecorder()
	err = sess.run(ctx, targets[0].plan, rec, func(ctx context.Context, ch chan *client.SolveStatus) error {
		_, err := c.Build(ctx, opt, "s6builder", build, ch)
		return err
	})
	sess.close()
	rep := rec.report()
	if err != nil {
		return rep, err
	}
	if archive != nil {
		if err := os.Chmod(archive.Name(), 0o644); err != nil {
			return rep, err
		}
		if err := os.Rename(archive.Name(), o.OCIArchive); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// checkPlanDists builds the plans' dists into a temporary directory, which
// BuildMany checks (verifyDist) before it would commit them, and removes it.
func checkPlanDists(ctx context.Context, c *client.Client, plans []*pipeline.Plan, o ImageOptions) error {
	tmp, err := os.MkdirTemp("", "s6builder-image-dist-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	opts := make([]Options, len(plans))
	for i := range plans {
		opts[i] = Options{Dist: filepath.Join(tmp, strconv.Itoa(i)), Cache: o.Cache}
	}
	_, err = BuildMany(ctx, c, plans, opts, o.Progress, o.ProgressOut)
	return err
}
