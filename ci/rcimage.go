package main

import (
	"context"
	"fmt"
	"strings"

	"dagger/s-6-builder/internal/dagger"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/inputerr"
)

// rcArgs are image's arguments for an s6-rc image.
type rcArgs struct {
	base    *dagger.Container
	rc      *dagger.Directory
	bundle  string
	user    string
	graceMS int
}

// rcImage is image with init s6-rc: the request's dist, the s6-rc database
// compiled from rc and s6-linux-init's init directory (the plan's
// pipeline.IDRcImage stage), /run for the container's user, and the spec's
// config (pipeline.AddRcImage), on the base container.
func (r request) rcImage(ctx context.Context, a rcArgs) (*dagger.Container, error) {
	if a.base == nil {
		return nil, inputerr.New("base", "", "a base container is required, e.g. {arg:base} debian:bookworm-slim (any distribution with /bin/sh: stage 2 is a shell script)")
	}
	if a.rc == nil {
		return nil, inputerr.New("rc", "", "an s6-rc source tree directory is required (one directory per service or bundle, each with a type file)")
	}
	if r.s6 == "" {
		return nil, inputerr.New("s6", "", "give the s6 release to build, e.g. {arg:s6} 2.15.1.0 {arg:with} s6-rc,s6-linux-init")
	}
	if r.prefix == "" {
		r.prefix = pipeline.DefaultImagePrefix
	}
	rc := pipeline.RcImage{Bundle: a.bundle, User: a.user, GraceMS: a.graceMS}
	cat, req, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	p, err := pipeline.New(cat, req)
	if err != nil {
		return nil, err
	}
	if _, err := pipeline.AddRcImage(p, rc); err != nil {
		return nil, err // refused before the engine is asked anything
	}
	basePlatform, err := r.basePlatform(ctx, a.base)
	if err != nil {
		return nil, err
	}
	r.platform = dagger.Platform(basePlatform)
	if p, err = r.planOnEngine(ctx, cat, r.pipelineRequest()); err != nil {
		return nil, fmt.Errorf("base container's platform: %w", err)
	}
	spec, err := pipeline.AddRcImage(p, rc)
	if err != nil {
		return nil, err
	}
	if err := checkRc(ctx, a.rc, a.bundle); err != nil {
		return nil, err
	}
	dist, err := translate(p, exported(p))
	if err != nil {
		return nil, err
	}
	ctr := a.base.WithDirectory("/", dist)
	for _, id := range spec.Layers {
		layer, err := translateWith(p, id, map[string]*dagger.Directory{pipeline.LocalRc: a.rc})
		if err != nil {
			return nil, err
		}
		ctr = ctr.WithDirectory("/", layer)
	}
	return rcContainer(ctr, spec)
}

// rcContainer sets what the spec says beyond its layers: its directories
// (owner; Dagger makes them 0755), environment, entrypoint, working
// directory and user. As for every image, the stop signal is the
// runtime's SIGTERM (see imageContainer).
func rcContainer(ctr *dagger.Container, spec pipeline.ImageSpec) (*dagger.Container, error) {
	if err := knownFields(spec, "base", "prefix", "init", "layers", "user", "dirs", "entrypoint", "working_dir", "env", "stop_signal"); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	if spec.StopSignal != runtimeStopSignal {
		return nil, fmt.Errorf("image: the plan asks for stop signal %s; Dagger v0.21.8 cannot set one", spec.StopSignal)
	}
	for _, d := range spec.Dirs {
		if d.Mode != 0o755 {
			return nil, fmt.Errorf("image: %s mode %o: Dagger makes new directories 0755 only", d.Path, d.Mode)
		}
		ctr = ctr.WithDirectory(d.Path, dag.Directory(), dagger.ContainerWithDirectoryOpts{Owner: fmt.Sprintf("%d:%d", d.UID, d.GID)})
	}
	for _, kv := range spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		ctr = ctr.WithEnvVariable(k, v)
	}
	ctr = ctr.WithEntrypoint(spec.Entrypoint).WithWorkdir(spec.WorkingDir)
	if spec.User != "" {
		ctr = ctr.WithUser(spec.User)
	}
	return ctr, nil
}

// checkRc reads an s6-rc source tree Directory and applies pipeline's
// rules (the same as `s6builder image --init s6-rc`).
func checkRc(ctx context.Context, dir *dagger.Directory, bundle string) error {
	tree, err := pipeline.ReadRcTree(daggerTree{ctx, dir})
	if err != nil {
		return fmt.Errorf("rc: %w", err)
	}
	if err := tree.Check(bundle); err != nil {
		return fmt.Errorf("rc: %w", err)
	}
	return nil
}
