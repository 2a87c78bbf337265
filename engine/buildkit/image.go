package buildkit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
// local directory) and the dist: the plan's dist stage, or a local directory
// for users who bring their own s6 (DistDir).
type ImageInput struct {
	Spec     pipeline.ImageSpec
	Plan     *pipeline.Plan // its dist stage is built; nil when DistDir is set
	DistDir  string
	Services string
	Platform string // "" = Plan's platform, or this machine's
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
}

// Local mount names of the image build.
const (
	localDist     = "dist"
	localServices = "services"
)

// imageState merges the base image, the dist at its prefix, the service tree
// and the added .s6-svscan/finish: one Merge over single-purpose layers.
func imageState(in ImageInput, spec ocispecs.Platform) (llb.State, error) {
	var dist llb.State
	if in.Plan != nil {
		st, err := States(in.Plan)
		if err != nil {
			return llb.State{}, err
		}
		dist = st[pipeline.IDDist]
	} else {
		dist = llb.Local(localDist, llb.WithCustomName("[image] dist from "+in.DistDir))
	}
	services := llb.Local(localServices, llb.WithCustomName("[image] services from "+in.Services))
	copyInto := func(src llb.State, dest, name string) llb.State {
		return llb.Scratch().File(llb.Copy(src, "/", dest+"/", &llb.CopyInfo{CopyDirContentsOnly: true, CreateDestPath: true}),
			llb.WithCustomName("[image] "+name))
	}
	layers := []llb.State{
		llb.Image(in.Spec.Base, llb.Platform(spec), llb.WithCustomName("[image] pull "+in.Spec.Base)),
		copyInto(dist, in.Spec.DistPrefix, "dist at "+in.Spec.DistPrefix),
		copyInto(services, in.Spec.ServicesDir, "services at "+in.Spec.ServicesDir),
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
	var env []string
	for _, kv := range img.Config.Env {
		if !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	img.Config.Env = append(env, s.Env...)
	img.Config.Entrypoint = s.Entrypoint
	img.Config.Cmd = nil
	img.Config.StopSignal = s.StopSignal
	img.Config.WorkingDir = s.WorkingDir
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
	plat := in.Platform
	if plat == "" && in.Plan != nil {
		plat = in.Plan.Request.Platform
	}
	if plat == "" {
		plat = platforms.DefaultString()
	}
	spec, err := platforms.Parse(plat)
	if err != nil {
		return nil, err
	}
	if err := checkPlatforms(ctx, c, platforms.Format(platforms.Normalize(spec))); err != nil {
		return nil, err
	}
	spec = platforms.Normalize(spec)
	if in.Plan != nil {
		// The dist goes into the image only after its programs are checked
		// against the request, as an exported dist is (the solve is cached,
		// so the image build below reuses it).
		if err := checkPlanDist(ctx, c, in.Plan, o); err != nil {
			return nil, err
		}
	}
	st, err := imageState(in, spec)
	if err != nil {
		return nil, err
	}
	def, err := st.Marshal(ctx, llb.Platform(spec))
	if err != nil {
		return nil, err
	}

	mounts := map[string]fsutil.FS{}
	for name, dir := range map[string]string{localServices: in.Services, localDist: in.DistDir} {
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
			Attrs:  map[string]string{"name": firstNonEmpty(o.Push, "s6builder/image")},
			Output: func(map[string]string) (io.WriteCloser, error) { return archive, nil }})
	}
	if o.Push != "" {
		attrs := map[string]string{"name": o.Push, "push": "true"}
		if o.InsecurePush {
			attrs["registry.insecure"] = "true"
		}
		opt.Exports = append(opt.Exports, client.ExportEntry{Type: client.ExporterImage, Attrs: attrs})
	}

	build := func(ctx context.Context, gc gateway.Client) (*gateway.Result, error) {
		_, _, baseCfg, err := gc.ResolveImageConfig(ctx, in.Spec.Base, sourceresolver.Opt{
			ImageOpt: &sourceresolver.ResolveImageOpt{Platform: &spec}})
		if err != nil {
			return nil, fmt.Errorf("base image %s: %w", in.Spec.Base, err)
		}
		cfg, err := imageConfig(baseCfg, in.Spec, spec)
		if err != nil {
			return nil, err
		}
		r, err := gc.Solve(ctx, gateway.SolveRequest{Definition: def.ToPB()})
		if err != nil {
			return nil, err
		}
		r.AddMeta(exptypes.ExporterImageConfigKey, cfg)
		return r, nil
	}
	sess, err := newSession(ctx, o.Progress, o.ProgressOut)
	if err != nil {
		return nil, err
	}
	rec := newRecorder()
	err = sess.run(in.Plan, rec, func(ch chan *client.SolveStatus) error {
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

// checkPlanDist builds the plan's dist into a temporary directory, which
// BuildMany checks (verifyDist) before it would commit it, and removes it.
func checkPlanDist(ctx context.Context, c *client.Client, p *pipeline.Plan, o ImageOptions) error {
	tmp, err := os.MkdirTemp("", "s6builder-image-dist-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	_, err = BuildMany(ctx, c, []*pipeline.Plan{p}, []Options{{Dist: filepath.Join(tmp, "dist")}}, o.Progress, o.ProgressOut)
	return err
}
