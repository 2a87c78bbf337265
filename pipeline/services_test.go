package pipeline_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/s6builder/s6builder/pipeline"
)

func TestServiceTreeRules(t *testing.T) {
	assert.ErrorContains(t, pipeline.ServiceTree{}.Check(), "no service directories")
	assert.ErrorContains(t, pipeline.ServiceTree{RunExecutable: map[string]bool{"sshd": true, "cron": false}}.Check(),
		`service "cron" has no executable run file`)
	assert.NoError(t, pipeline.ServiceTree{RunExecutable: map[string]bool{"sshd": true}}.Check())
	assert.True(t, pipeline.IsService("sshd", true))
	assert.False(t, pipeline.IsService(".s6-svscan", true), "s6-svscan skips dot names")
	assert.False(t, pipeline.IsService("README", false))
}
