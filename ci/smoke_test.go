package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/pipeline"
)

func (a args) test(ctx context.Context) (string, error) {
	s, err := a.suite()
	if err != nil {
		return "", err
	}
	return s.Test(ctx)
}

// reportChecks is where the smoke stage's checks are read.
var reportChecks = pipeline.SmokeReport + "/" + pipeline.SmokeChecks

// TestTestRunsTheSmokeStage: test is the plan's smoke stage (the CLI's
// `s6builder test`): the same argv, env and mounts, the dist build sends
// mounted read-only at /dist, and its result is /report/checks, printed one
// "ok  <check>" line each.
func TestTestRunsTheSmokeStage(t *testing.T) {
	ctx := context.Background()
	for name, a := range map[string]args{
		"default toolchain":        defaults("2.1.6.0"),
		"toolchain image, dynamic": {s6: "2.1.6.0", toolchain: testToolchain, static: false},
	} {
		t.Run(name, func(t *testing.T) {
			fake.reset()
			fake.setFile(reportChecks, "s6-svscan -h exits 100 (usage)\nthe service comes up\ns6-svscanctl -t ends the scan\n")
			out, err := a.test(ctx)
			require.NoError(t, err)
			assert.Equal(t, "ok  s6-svscan -h exits 100 (usage)\nok  the service comes up\nok  s6-svscanctl -t ends the scan\n", out)

			// One read: the checks file in the smoke stage's output.
			reads := fake.contentsReads()
			require.Len(t, reads, 1)
			rc := reads[0]
			require.GreaterOrEqual(t, len(rc), 2)
			assert.Equal(t, `directory(path: "/report").file(path: "checks")`, rc[len(rc)-2:].String())

			// The chain behind it is the plan's smoke stage, stage by stage.
			p := cliPlan(t, a, "")
			smoke := p.Stage(pipeline.IDSmoke)
			require.NotNil(t, smoke)
			require.Equal(t, pipeline.KindTest, smoke.Kind)
			n := decode(t, rc[:len(rc)-1])
			seen := checkStages(t, p, pipeline.IDSmoke, n)
			assert.Contains(t, ids(seen), pipeline.IDDist)

			// The step's argv is the plan's, the script included.
			require.Len(t, n.steps, 1)
			assert.Equal(t, smoke.Exec.Steps[0].Args, n.steps[0].Args)
			assert.Equal(t, []string{"sh", "-c", pipeline.SmokeScript, "smoke", "/dist", "/report", "/"}, n.steps[0].Args, "the prefix last")
			assert.Equal(t, smoke.Exec.Env, n.env)
			assert.Contains(t, n.env, "LD_LIBRARY_PATH=/dist/lib")

			// The dist, read-only at /dist, is the chain build sends.
			require.Len(t, n.mounts, 2, "the dist and the (empty) report")
			assert.Equal(t, pipeline.SmokeDist, n.mounts[0].Target)
			assert.True(t, n.mounts[0].ReadOnly, "the dist is mounted read-only")
			dist, err := a.build(ctx)
			require.NoError(t, err)
			assert.Equal(t, chainText(t, ctx, dist), n.mounts[0].Source.text)
			assert.Equal(t, pipeline.SmokeReport, n.mounts[1].Target)
			assert.False(t, n.mounts[1].ReadOnly)
			assert.Equal(t, nodeEmpty, n.mounts[1].Source.kind)
		})
	}
}

// TestTestFailure: the smoke test's failure (its exec fails, so the read of
// its report does) is the function's error, with the test's output; a
// report with no checks is an error too.
func TestTestFailure(t *testing.T) {
	ctx := context.Background()
	fake.reset()
	fake.failFile(reportChecks, "process \"sh -c ...\" did not complete successfully: exit code: 1\nFAIL: the service did not restart")
	out, err := defaults("2.1.6.0").test(ctx)
	require.Error(t, err)
	assert.Empty(t, out)
	assert.Contains(t, err.Error(), "smoke test of s6 2.1.6.0 failed")
	assert.Contains(t, err.Error(), "FAIL: the service did not restart")

	fake.reset()
	fake.setFile(reportChecks, "\n")
	_, err = defaults("2.1.6.0").test(ctx)
	assert.ErrorContains(t, err, "the test passed no checks")
}

// TestTestBadArgumentsSendNoQuery: the request is checked before anything
// is sent, as for build.
func TestTestBadArgumentsSendNoQuery(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		args args
		want string
	}{
		"malformed version": {args{s6: "2.1.6", static: true}, "2.1.6"},
		"unknown release":   {args{s6: "9.9.9.9", static: true}, "unknown s6 release 9.9.9.9"},
		"platform":          {args{s6: "2.1.6.0", static: true, platform: "windows/amd64"}, "--platform"},
		"jobs":              {args{s6: "2.1.6.0", static: true, jobs: -1}, "--jobs"},
	} {
		t.Run(name, func(t *testing.T) {
			fake.reset()
			_, err := tc.args.test(ctx)
			assert.ErrorContains(t, err, tc.want)
			assert.Empty(t, fake.recorded())
		})
	}
}

// TestAlwaysRunOnlyOnTests: the plan's AlwaysRun is accepted on the test
// stage (see alwaysRun), and still refused on any other stage.
func TestAlwaysRunOnlyOnTests(t *testing.T) {
	p := cliPlan(t, defaults("2.1.6.0"), "")
	require.True(t, p.Stage(pipeline.IDSmoke).Exec.AlwaysRun)
	_, err := translate(p, pipeline.IDSmoke)
	require.NoError(t, err)

	broken := &pipeline.Plan{Request: p.Request}
	for _, s := range p.Stages {
		c := *s
		if c.ID == "build/s6" {
			e := *c.Exec
			e.AlwaysRun = true
			c.Exec = &e
		}
		broken.Stages = append(broken.Stages, &c)
	}
	_, err = translate(broken, pipeline.IDDist)
	assert.ErrorContains(t, err, "stage build/s6: the plan sets always_run, which the Dagger module does not translate")
	assert.False(t, p.Stage("build/s6").Exec.AlwaysRun, "the plan itself is unchanged")
}
