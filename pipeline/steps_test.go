package pipeline_test

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/pipeline"
)

// The steps of an Exec run in one sh, in order, each in its directory,
// with arguments that reach them byte for byte (never parsed by the shell);
// the first failing step stops the rest and is named in the log.
func TestStepsRunInSequenceInOneShell(t *testing.T) {
	dir := t.TempDir()
	hostile := `$(touch pwned); "quoted" 'single' \back * ${10}`
	e := &pipeline.Exec{Steps: []pipeline.Step{
		{Name: "first", Dir: dir, Args: []string{"sh", "-c", `pwd; printf '%s\n' "$1"`, "x", hostile}},
		{Name: "second", Dir: "/", Args: []string{"sh", "-c", "pwd; exit 3"}},
		{Name: "third", Dir: "/", Args: []string{"touch", dir + "/third-ran"}},
	}}
	argv, d := e.Argv()
	assert.Equal(t, "/", d)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = d
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "%s", out)
	assert.Equal(t, 3, ee.ExitCode(), "the failing step's status is the container's")
	log := string(out)
	assert.Contains(t, log, "s6builder step first: sh -c")
	assert.Contains(t, log, dir+"\n"+hostile+"\n", "the first step ran in its directory and got its argument as is")
	assert.Contains(t, log, "s6builder step second: sh -c pwd; exit 3\n/\n")
	assert.NoFileExists(t, dir+"/third-ran", "no step runs after a failure")
	assert.NoFileExists(t, "pwned")
	name, status, ok := pipeline.FailedStep(log)
	require.True(t, ok)
	assert.Equal(t, "second", name)
	assert.Equal(t, "3", status)
	assert.Equal(t, "first, second, third", e.StepNames())
}

func TestASingleStepRunsAsItself(t *testing.T) {
	e := &pipeline.Exec{Steps: []pipeline.Step{{Name: "unpack", Dir: "/src", Args: []string{"tar", "-xzf", "x"}}}}
	argv, d := e.Argv()
	assert.Equal(t, []string{"tar", "-xzf", "x"}, argv)
	assert.Equal(t, "/src", d)
	_, _, ok := pipeline.FailedStep("tar: x: Cannot open\n")
	assert.False(t, ok)
}
