package main

import (
	"context"
	"fmt"
	"path"
	"strings"

	"dagger/s-6-builder/internal/dagger"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/inputerr"
)

// imageArgs are image's arguments beyond the request.
type imageArgs struct {
	services    *dagger.Directory
	base        *dagger.Container
	servicesDir string // "": pipeline's default
}

// image validates the arguments, plans the request for the base
// container's platform, checks the service tree and translates
// pipeline.NewImageLayout's spec.
//
// Every argument check that needs no I/O comes first, so bad arguments (a
// bad version, a relative servicesDir...) are refused before the engine is
// asked anything. Then, in this order: the catalogue file when one is given
// (as build), the base container's platform, and the service tree.
func (r request) image(ctx context.Context, a imageArgs) (*dagger.Container, error) {
	if a.services == nil {
		return nil, inputerr.New("services", "", "a service tree directory is required (one directory per service, each with an executable run file)")
	}
	if a.base == nil {
		return nil, inputerr.New("base", "", "a base container is required, e.g. {arg:base} debian:bookworm-slim (any distribution: the static binaries need nothing from it)")
	}
	// The base is a container the caller made, not a reference: only the
	// layout is the plan's to check.
	if r.prefix == "" {
		r.prefix = pipeline.DefaultImagePrefix // what the dist is built for
	}
	ireq := pipeline.ImageRequest{Prefix: r.prefix, ServicesDir: a.servicesDir}
	if _, err := pipeline.NewImageLayout(ireq); err != nil {
		return nil, err
	}
	if r.s6 == "" {
		return nil, inputerr.New("s6", "", "give the s6 release to build, e.g. {arg:s6} 2.1.6.0 (`{cmd:versions}` lists them)")
	}
	cat, req, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	// Refuses what needs no engine to refuse; planned again below for the
	// base's platform and the engine's (newPlan).
	if _, err := pipeline.New(cat, req); err != nil {
		return nil, err
	}
	// The dist must run on the base: build for the base container's
	// platform, as the CLI pulls its base for the build's platform.
	basePlatform, err := r.basePlatform(ctx, a.base)
	if err != nil {
		return nil, err
	}
	r.platform = dagger.Platform(basePlatform)
	p, err := r.planOnEngine(ctx, cat, r.pipelineRequest())
	if err != nil {
		return nil, fmt.Errorf("base container's platform: %w", err)
	}
	if ireq.HasScanFinish, err = checkServices(ctx, a.services); err != nil {
		return nil, err
	}
	spec, err := pipeline.NewImageLayout(ireq)
	if err != nil {
		return nil, err
	}
	dist, err := translate(p, exported(p))
	if err != nil {
		return nil, err
	}
	return imageContainer(a.base, dist, a.services, spec)
}

// basePlatform is the base container's platform, as the plan spells it;
// the request's platform, when given, must be the same.
func (r request) basePlatform(ctx context.Context, base *dagger.Container) (string, error) {
	bp, err := base.Platform(ctx)
	if err != nil {
		return "", fmt.Errorf("base container: %w", err)
	}
	basePlatform, err := normalPlatform(string(bp))
	if err != nil {
		return "", fmt.Errorf("base container's platform: %w", err)
	}
	if want, _ := normalPlatform(string(r.platform)); r.platform != "" && want != basePlatform {
		return "", inputerr.New("platform", want, "the base container is %s; give a {arg:base} for %s, or leave {arg:platform} out to build for the base's", basePlatform, want)
	}
	return basePlatform, nil
}

// normalPlatform is p as the plan spells it (pipeline.Request.Normalize):
// "" is this machine's, linux only.
func normalPlatform(p string) (string, error) {
	req, err := pipeline.Request{Platform: p}.Normalize()
	return req.Platform, err
}

// checkServices reads a service tree Directory and applies pipeline's rules
// (the same as `s6builder image`); it says whether the tree has an
// executable .s6-svscan/finish of its own (pipeline.ImageRequest.HasScanFinish).
func checkServices(ctx context.Context, dir *dagger.Directory) (hasFinish bool, err error) {
	tree, err := pipeline.ReadServiceTree(daggerTree{ctx, dir})
	if err != nil {
		return false, fmt.Errorf("services: %w", err)
	}
	if err := tree.Check(); err != nil {
		return false, fmt.Errorf("services: %w", err)
	}
	return tree.HasScanFinish, nil
}

// daggerTree is a Directory as pipeline's tree checks read it.
type daggerTree struct {
	ctx context.Context
	dir *dagger.Directory
}

// TopDirs: Directory.entries marks directories with a trailing "/" (engine
// v0.21.8); a symlink is not a directory, as for os.ReadDir.
func (t daggerTree) TopDirs() ([]string, error) {
	entries, err := t.dir.Entries(t.ctx)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		if name, isDir := strings.CutSuffix(e, "/"); isDir {
			dirs = append(dirs, name)
		}
	}
	return dirs, nil
}

func (t daggerTree) RegularFile(path string) (bool, error) {
	return t.dir.Exists(t.ctx, path, dagger.DirectoryExistsOpts{ExpectedType: dagger.ExistsTypeRegularType})
}

func (t daggerTree) Executable(path string) (bool, error) {
	if ok, err := t.RegularFile(path); !ok || err != nil {
		return false, err
	}
	perm, err := t.dir.Stat(path).Permissions(t.ctx)
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return perm&0o111 != 0, nil
}

// Entries: a Directory's whole listing is not asked for (the engine copies
// the tree as it is; the CLI, which reads a local folder, checks every entry).
func (t daggerTree) Entries() ([]pipeline.TreeEntry, error) { return nil, nil }

func (t daggerTree) Names(dir string) ([]string, error) {
	if ok, err := t.dir.Exists(t.ctx, dir, dagger.DirectoryExistsOpts{ExpectedType: dagger.ExistsTypeDirectoryType}); !ok || err != nil {
		return nil, err
	}
	entries, err := t.dir.Entries(t.ctx, dagger.DirectoryEntriesOpts{Path: dir})
	for i, e := range entries {
		entries[i] = strings.TrimSuffix(e, "/")
	}
	return entries, err
}

func (t daggerTree) ReadFile(path string) ([]byte, error) {
	if ok, err := t.RegularFile(path); !ok || err != nil {
		return nil, err
	}
	s, err := t.dir.File(path).Contents(t.ctx)
	return []byte(s), err
}

// imageContainer translates an image spec onto the base container, as
// engine/buildkit/image.go does onto the base image:
//
//   - the dist at / (its programs under Prefix), then the service tree at ServicesDir
//     (withDirectory merges into what the base has there, as BuildKit's
//     merge of the base and those layers does);
//   - ScanFinish, when set, at ServicesDir/.s6-svscan/finish, mode 0755;
//   - each Env variable (PATH) replacing the base's;
//   - Entrypoint, which also drops the base's default arguments (the CLI
//     clears Cmd), and the working directory / (the CLI's choice, not the
//     spec's; mirrored so both front ends make the same image);
//   - StopSignal: the v0.21.8 API cannot set an image's stop signal (no
//     Container field or argument expresses it). The image gets none of its
//     own, and container runtimes then send SIGTERM, the spec's signal; a
//     base container that sets another stop signal keeps it. A spec asking
//     for another signal is refused.
//
// A spec field this translation does not know is an error.
func imageContainer(base *dagger.Container, dist, services *dagger.Directory, spec pipeline.ImageSpec) (*dagger.Container, error) {
	if err := knownFields(spec, "base", "prefix", "services_dir", "scan_finish", "entrypoint", "working_dir", "env", "stop_signal"); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	if spec.StopSignal != "" && spec.StopSignal != runtimeStopSignal {
		return nil, fmt.Errorf("image: the plan asks for stop signal %s; Dagger v0.21.8 cannot set an image's stop signal, and runtimes default to %s",
			spec.StopSignal, runtimeStopSignal)
	}
	ctr := base.
		WithDirectory("/", dist).
		WithDirectory(spec.ServicesDir, services)
	if spec.ScanFinish != "" {
		ctr = ctr.WithNewFile(path.Join(spec.ServicesDir, ".s6-svscan", "finish"), spec.ScanFinish,
			dagger.ContainerWithNewFileOpts{Permissions: 0o755})
	}
	for _, kv := range spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		ctr = ctr.WithEnvVariable(k, v)
	}
	return ctr.WithEntrypoint(spec.Entrypoint).WithWorkdir(spec.WorkingDir), nil
}

// runtimeStopSignal is what Docker, containerd and CRI runtimes send when an
// image sets no stop signal.
const runtimeStopSignal = "SIGTERM"
