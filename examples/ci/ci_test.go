// Package ci holds the CI examples of the Dagger module (GitHub Actions,
// GitLab CI) and the checks that keep them valid: no CI service runs them
// here, so they are linted and read as those services would.
package ci

import (
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// daggerCalls are the commands each example must run: the user's build
// line, a configuration given to the constructor, and a release.
var daggerCalls = []string{
	"build --s6 2.1.6.0 export --path ./s6dist",
	"--jobs 4 suite --s6 2.15.1.0 --with all test",
	"suite --s6 2.15.1.0 --platforms linux/amd64,linux/arm64 release export --path ./release",
}

// TestGitHubWorkflowPassesActionlint lints the workflow with actionlint
// (syntax, expressions, job dependencies, known actions' inputs) and checks
// that its Dagger steps run the module's calls with the shared cache.
func TestGitHubWorkflowPassesActionlint(t *testing.T) {
	const file = "github-actions.yml"
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	require.NoError(t, err)
	errs, err := l.Lint(file, b, nil)
	require.NoError(t, err)
	for _, e := range errs {
		t.Errorf("%s:%d:%d: %s [%s]", file, e.Line, e.Column, e.Message, e.Kind)
	}

	var wf struct {
		Env  map[string]string `yaml:"env"`
		Jobs map[string]struct {
			Needs any `yaml:"needs"`
			Steps []struct {
				Uses string            `yaml:"uses"`
				With map[string]string `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal(b, &wf))
	var calls []string
	for name, job := range wf.Jobs {
		for _, s := range job.Steps {
			if strings.HasPrefix(s.Uses, "dagger/dagger-for-github@") {
				assert.Equal(t, "call", s.With["verb"], "job %s", name)
				assert.Equal(t, "${{ env.DAGGER_VERSION }}", s.With["version"], "job %s", name)
				calls = append(calls, s.With["args"])
			}
		}
	}
	for _, want := range daggerCalls {
		assert.Contains(t, calls, want)
	}
	assert.Equal(t, "0.21.8", wf.Env["DAGGER_VERSION"], "the engine dagger.json names")
	assert.Contains(t, wf.Env["_EXPERIMENTAL_DAGGER_CACHE_CONFIG"], "type=registry,ref=", "one cache for every job")
	assert.Equal(t, "build", wf.Jobs["release"].Needs)
}

// gitlabGlobal and gitlabJob are the GitLab CI keywords (docs.gitlab.com,
// "CI/CD YAML syntax reference") a file may use at the top and in a job.
var (
	gitlabGlobal = []string{"default", "include", "stages", "variables", "workflow", "image", "services", "cache",
		"before_script", "after_script"}
	gitlabJob = []string{"after_script", "allow_failure", "artifacts", "before_script", "cache", "coverage", "dast_configuration",
		"dependencies", "environment", "extends", "hooks", "identity", "id_tokens", "image", "inherit", "interruptible",
		"manual_confirmation", "needs", "pages", "parallel", "release", "resource_group", "retry", "rules", "run", "script",
		"secrets", "services", "stage", "tags", "timeout", "trigger", "variables", "when"}
	gitlabArtifacts = []string{"access", "exclude", "expire_in", "expose_as", "name", "paths", "public", "reports", "untracked", "when"}
)

// TestGitLabPipelineUsesKnownKeys parses the pipeline and checks every key
// against GitLab's keywords, every stage, needs and extends against what
// the file defines, and that its scripts run the module's calls.
func TestGitLabPipelineUsesKnownKeys(t *testing.T) {
	b, err := os.ReadFile("gitlab-ci.yml")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(b, &doc))

	var stages []string
	for _, s := range doc["stages"].([]any) {
		stages = append(stages, s.(string))
	}
	jobs := map[string]map[string]any{}
	for k, v := range doc {
		if slices.Contains(gitlabGlobal, k) {
			continue
		}
		job, ok := v.(map[string]any)
		require.True(t, ok, "%s: neither a global keyword nor a job", k)
		jobs[k] = job
	}
	var scripts []string
	for name, job := range jobs {
		for k, v := range job {
			assert.Contains(t, gitlabJob, k, "job %s: %s is not a GitLab CI keyword", name, k)
			switch k {
			case "stage":
				assert.Contains(t, stages, v, "job %s", name)
			case "extends":
				assert.Contains(t, jobs, v, "job %s extends a job the file defines", name)
			case "needs":
				for _, n := range v.([]any) {
					assert.Contains(t, jobs, n, "job %s needs a job the file defines", name)
				}
			case "artifacts":
				for ak := range v.(map[string]any) {
					assert.Contains(t, gitlabArtifacts, ak, "job %s: artifacts:%s", name, ak)
				}
			case "script", "before_script":
				for _, line := range v.([]any) {
					scripts = append(scripts, line.(string))
				}
			}
		}
		if !strings.HasPrefix(name, ".") {
			assert.Contains(t, job, "script", "job %s", name)
		}
	}
	for _, want := range daggerCalls {
		assert.Contains(t, scripts, "dagger call "+want)
	}
	vars := doc["variables"].(map[string]any)
	assert.Equal(t, "0.21.8", vars["DAGGER_VERSION"])
	assert.Contains(t, vars["_EXPERIMENTAL_DAGGER_CACHE_CONFIG"], "type=registry,ref=", "one cache for every job")
}
