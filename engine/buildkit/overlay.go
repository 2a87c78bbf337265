package buildkit

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/moby/buildkit/client"

	"github.com/s6builder/s6builder/pipeline"
)

// OverlayOptions say where an s6-overlay plan's tarballs go.
type OverlayOptions struct {
	Dir         string // replaced atomically, and only when it is s6builder's (or Force)
	Force       bool
	Progress    string
	ProgressOut io.Writer
}

// Overlay solves p's IDOverlayNoarch stage (pipeline.NewOverlay) and
// writes its tarballs, each with its .sha256, into o.Dir; it returns
// their names. Nothing is written unless every file is there.
func Overlay(ctx context.Context, c *client.Client, p *pipeline.Plan, o OverlayOptions) ([]string, error) {
	if err := CheckOutputs([]Output{{Field: "output", Path: o.Dir}}, o.Force); err != nil {
		return nil, err
	}
	s := p.Stage(pipeline.IDOverlayNoarch)
	if s == nil {
		return nil, fmt.Errorf("the plan has no %s stage", pipeline.IDOverlayNoarch)
	}
	if err := checkPlatforms(ctx, c, p.Request.BuildPlatform); err != nil {
		return nil, err
	}
	states, err := States(p)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range pipeline.OverlayNoarchTarballs {
		names = append(names, t, t+".sha256")
	}
	files, err := solveToFiles(ctx, c, p, states[pipeline.IDOverlayNoarch], nil, nil, o.Progress, o.ProgressOut, names...)
	if err != nil {
		return nil, err
	}
	staged, err := stageDir(o.Dir)
	if err != nil {
		return nil, err
	}
	defer staged.discard()
	for i, n := range names {
		if err := os.WriteFile(filepath.Join(staged.tmp, n), files[i], 0o644); err != nil {
			return nil, err
		}
	}
	if err := staged.mark(Marker{S6builder: "overlay", Releases: map[string]string{s.Package: s.Version}, Key: s.Key}); err != nil {
		return nil, err
	}
	return names, staged.commit()
}
