package pipeline_test

import (
	"io/fs"
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

func TestServiceTreeEntriesThatWouldNotCopyIntoAnImage(t *testing.T) {
	ok := map[string]bool{"sshd": true}
	for name, tc := range map[string]struct {
		e    pipeline.TreeEntry
		want string
	}{
		"newline in a name": {pipeline.TreeEntry{Path: "ss\nhd/run"}, "a name with a control character"},
		"absolute link":     {pipeline.TreeEntry{Path: "sshd/run", Type: fs.ModeSymlink, Target: "/usr/sbin/sshd"}, "sshd/run: a symlink to /usr/sbin/sshd, outside the tree"},
		"link climbing out": {pipeline.TreeEntry{Path: "sshd/conf", Type: fs.ModeSymlink, Target: "../../etc/passwd"}, "outside the tree"},
		"fifo":              {pipeline.TreeEntry{Path: "sshd/fifo", Type: fs.ModeNamedPipe}, "sshd/fifo: a fifo"},
		"device":            {pipeline.TreeEntry{Path: "sshd/null", Type: fs.ModeDevice | fs.ModeCharDevice}, "a character device"},
	} {
		err := pipeline.ServiceTree{RunExecutable: ok, Entries: []pipeline.TreeEntry{tc.e}}.Check()
		assert.ErrorContains(t, err, tc.want, name)
	}
	inside := []pipeline.TreeEntry{
		{Path: "sshd", Type: fs.ModeDir}, {Path: "sshd/run"},
		{Path: "sshd/finish", Type: fs.ModeSymlink, Target: "../common/finish"}, {Path: "common/finish"},
	}
	assert.NoError(t, pipeline.ServiceTree{RunExecutable: ok, Entries: inside}.Check(), "links inside the tree are fine")
}
