package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/s6builder/s6builder/pipeline"
)

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
