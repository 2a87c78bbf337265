package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"dagger/s-6-builder/internal/dagger"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
	"github.com/s6builder/s6builder/pipeline/inputerr"
)

// catalogSource names a catalogue file passed to the module in the
// provenance of the facts it sets (catalog.Catalog.Apply).
const catalogSource = "--catalog"

// request is a suite with the module's configuration: everything the
// functions pass on to the plan, as the CLI's request flags are.
type request struct {
	// what to build (Suite)
	s6, skalibs, execline string
	with                  []string
	platform              dagger.Platform
	platforms             []string
	// how (the constructor)
	static             bool
	multicall          bool
	profile            string
	toolchain, mirror  string
	platformToolchains map[string]pipeline.Toolchain
	catalog            *dagger.File
	jobs               int
	prefix             string // "": the plan's default
	// emulate builds a foreign platform with its own toolchain under the
	// engine's emulator; otherwise its compilers run on the engine's
	// platform and cross-compile (the plan's BuildPlatform).
	emulate bool
	epoch   int64 // release time; 0: the newest source's day
}

// config is the constructor's configuration as a request with nothing to
// build yet, checked as far as it can be without the engine (the mirror's
// URL, the toolchains' references, the job count, the prefix).
func (m *S6Builder) config() (request, error) {
	pts, err := pipeline.ParsePlatformToolchains("platformToolchains", m.PlatformToolchains)
	if err != nil {
		return request{}, err
	}
	if m.SourceDateEpoch < 0 {
		return request{}, inputerr.New("sourceDateEpoch", strconv.Itoa(m.SourceDateEpoch), "want seconds since 1970")
	}
	r := request{static: m.Static, multicall: m.Multicall, profile: m.Profile, toolchain: m.Toolchain, mirror: m.Mirror, platformToolchains: pts, catalog: m.Catalog,
		jobs: m.Jobs, prefix: m.Prefix, emulate: m.Emulate, epoch: int64(m.SourceDateEpoch)}
	probe := r.pipelineRequest()
	probe.PlatformToolchains = nil
	if _, err := probe.Normalize(); err != nil {
		return request{}, err
	}
	return r, nil
}

// request is the suite's request: the module's one mapping of its
// arguments, the constructor's and the suite's.
func (s *Suite) request() (request, error) {
	cfg := s.Config
	if cfg == nil {
		cfg = &S6Builder{Static: true} // the constructor's defaults
	}
	r, err := cfg.config()
	if err != nil {
		return r, err
	}
	r.s6, r.skalibs, r.execline, r.with, r.platform, r.platforms = s.S6, s.Skalibs, s.Execline, s.With, s.Platform, s.Platforms
	if r.platform != "" && len(r.platforms) > 0 {
		return r, inputerr.New("platform", string(r.platform), "give either {arg:platform} or {arg:platforms}, not both")
	}
	return r, nil
}

// pipelineRequest maps the request onto the plan's: static=false is
// Request.Dynamic, and a toolchain image replaces the default toolchain
// (image and setup steps) as `s6builder --toolchain` does.
func (r request) pipelineRequest() pipeline.Request {
	req := pipeline.Request{
		S6: r.s6, Skalibs: r.skalibs, Execline: r.execline,
		Platform: string(r.platform), Dynamic: !r.static,
		Mirror: r.mirror, Jobs: r.jobs, With: r.with, Prefix: r.prefix, Multicall: r.multicall, Profile: r.profile,
		PlatformToolchains: r.platformToolchains,
	}
	if r.toolchain != "" {
		req.Toolchain = pipeline.Toolchain{Image: r.toolchain}
	}
	if !r.emulate {
		// Compilers run natively: a foreign platform is cross-compiled,
		// on the engine's platform once it is known (newPlan).
		req.BuildPlatform = string(r.platform)
	}
	return req
}

// plan validates the arguments and makes the plan. The request is checked
// (pipeline.Request.Normalize) before the catalogue file is read, so a bad
// platform, toolchain, mirror or job count is refused before the engine is
// asked anything; pipeline.New then refuses bad or unknown versions and
// releases without a digest. Nothing is sent to the engine but the read of
// the catalogue file, when one is given.
func (r request) plan(ctx context.Context) (*pipeline.Plan, error) {
	cat, req, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	return r.newPlan(ctx, cat, req)
}

// newPlan makes the plan of req and, unless the request emulates, makes it
// again with the engine's platform as the build platform: compilers run
// natively and a foreign platform is cross-compiled, as in the CLI. The
// engine is asked its platform only once the first plan has refused what
// needs no engine to refuse.
func (r request) newPlan(ctx context.Context, cat *catalog.Catalog, req pipeline.Request) (*pipeline.Plan, error) {
	p, err := pipeline.New(cat, req)
	if err != nil || r.emulate {
		return p, err
	}
	return r.planOnEngine(ctx, cat, req)
}

// planOnEngine plans req as the engine runs it (pipeline.Request.OnEngine),
// for a caller that has already refused what needs no engine to refuse.
func (r request) planOnEngine(ctx context.Context, cat *catalog.Catalog, req pipeline.Request) (*pipeline.Plan, error) {
	if r.emulate {
		return pipeline.New(cat, req)
	}
	native, err := dag.DefaultPlatform(ctx)
	if err != nil {
		return nil, fmt.Errorf("the engine's platform: %w", err)
	}
	return pipeline.New(cat, req.OnEngine(string(native)))
}

// load checks the request (pipeline.Request.Normalize, no I/O) and then
// reads the catalogue: the first half of plan, for a caller that plans the
// same request more than once (image: once to validate, once for the base
// container's platform).
func (r request) load(ctx context.Context) (*catalog.Catalog, pipeline.Request, error) {
	req := r.pipelineRequest()
	if r.s6 == "" {
		// The plan would take the newest release: not what "--s6 ''" meant.
		return nil, req, inputerr.New("s6", "", "an empty value; give the s6 release, e.g. {arg:s6} 2.1.6.0 (`{cmd:versions}` lists them)")
	}
	if _, err := req.Normalize(); err != nil {
		return nil, req, err
	}
	cat, err := loadCatalog(ctx, r.catalog)
	if err != nil {
		return nil, req, err
	}
	return cat, req, nil
}

// output plans the request, translates the plan and returns the directory
// of the stage that pick names.
func (r request) output(ctx context.Context, pick func(*pipeline.Plan) string) (*dagger.Directory, error) {
	p, err := r.plan(ctx)
	if err != nil {
		return nil, err
	}
	return translate(p, pick(p))
}

// forEachPlatform returns, for the request's list of target platforms,
// one directory holding the result of each at <os>_<arch>[_<variant>]/
// (BuildKit's multi-platform layout, as `s6builder build --platform a,b`
// exports); with no list, or a list of one, that platform's result itself,
// as in the CLI.
func (r request) forEachPlatform(ctx context.Context, result func(request) (*dagger.Directory, error)) (*dagger.Directory, error) {
	if len(r.platforms) == 0 {
		return result(r)
	}
	plats, err := r.platformList()
	if err != nil {
		return nil, err
	}
	r.platforms = nil
	if len(plats) == 1 {
		r.platform = dagger.Platform(plats[0])
		return result(r)
	}
	// Every plan is checked before any result is asked for: a bad
	// combination for the last platform refuses the whole call.
	outs := make([]*dagger.Directory, len(plats))
	for i, p := range plats {
		one := r
		one.platform = dagger.Platform(p)
		if outs[i], err = result(one); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	d := dag.Directory()
	for i, p := range plats {
		d = d.WithDirectory(pipeline.PlatformDir(p), outs[i])
	}
	return d, nil
}

// platformList is the request's platforms, as the plan spells them.
func (r request) platformList() ([]string, error) {
	return pipeline.ParsePlatforms(strings.Join(r.platforms, ","))
}

// exported is the stage the plan's export stage hands to the front end:
// the dist tree.
func exported(p *pipeline.Plan) string {
	if s := p.Stage(pipeline.IDExport); s != nil && len(s.Deps) == 1 {
		return s.Deps[0]
	}
	return pipeline.IDExport // translate refuses it
}

// loadCatalog returns the embedded catalogue with the file's releases
// applied, as `s6builder --catalog FILE` does.
func loadCatalog(ctx context.Context, file *dagger.File) (*catalog.Catalog, error) {
	if file == nil {
		return pipeline.LoadCatalog()
	}
	b, err := file.Contents(ctx)
	if err != nil {
		return nil, fmt.Errorf("catalogue: %w", err)
	}
	return parseCatalog([]byte(b))
}

// parseCatalog parses catalogue JSON and loads it over the embedded one.
func parseCatalog(b []byte) (*catalog.Catalog, error) {
	cf, err := catalog.ParseFile(b)
	if err != nil {
		return nil, fmt.Errorf("catalogue: %w", err)
	}
	return pipeline.LoadCatalog(pipeline.Layer{Source: catalogSource, File: cf})
}
