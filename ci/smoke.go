package main

import (
	"context"
	"fmt"
	"strings"

	"dagger/s-6-builder/internal/dagger"

	"github.com/s6builder/s6builder/pipeline"
)

// smokeEach runs smoke for each of the request's platforms (or its one
// platform), each report under a line naming the platform when there are
// several.
func (r request) smokeEach(ctx context.Context) (string, error) {
	if len(r.platforms) == 0 {
		return r.smoke(ctx)
	}
	plats, err := r.platformList()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range plats {
		one := r
		one.platform, one.platforms = dagger.Platform(p), nil
		out, err := one.smoke(ctx)
		if err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
		if len(plats) > 1 {
			fmt.Fprintf(&b, "%s:\n", p)
		}
		b.WriteString(out)
	}
	return b.String(), nil
}

// smoke plans the request, translates the plan's smoke stage (which
// translates the dist it mounts) and returns the checks it reports as
// `s6builder test` prints them: "ok  <check>" a line. The test's failure
// (a non-zero exit of its step) is the error of the read of its report.
func (r request) smoke(ctx context.Context) (string, error) {
	p, err := r.plan(ctx)
	if err != nil {
		return "", err
	}
	report, err := translate(p, pipeline.IDSmoke)
	if err != nil {
		return "", err
	}
	checks, err := report.File(pipeline.SmokeChecks).Contents(ctx)
	if err != nil {
		return "", fmt.Errorf("smoke test of s6 %s failed: %w", p.Request.S6, err)
	}
	checks = strings.TrimSpace(checks)
	if checks == "" {
		return "", fmt.Errorf("smoke test of s6 %s: the test passed no checks (%s/%s is empty)", p.Request.S6, pipeline.SmokeReport, pipeline.SmokeChecks)
	}
	var b strings.Builder
	for _, c := range strings.Split(checks, "\n") {
		fmt.Fprintf(&b, "ok  %s\n", c)
	}
	return b.String(), nil
}
