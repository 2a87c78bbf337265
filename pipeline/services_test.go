package pipeline_test

import (
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

// mapTree is a TreeReader over a map of paths: true an executable file,
// false another regular file; directories are the paths' parents.
type mapTree map[string]bool

func (m mapTree) TopDirs() ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for p := range m {
		if top, _, ok := strings.Cut(p, "/"); ok && !seen[top] {
			seen[top] = true
			out = append(out, top)
		}
	}
	return out, nil
}
func (m mapTree) RegularFile(p string) (bool, error)     { _, ok := m[p]; return ok, nil }
func (m mapTree) Executable(p string) (bool, error)      { return m[p], nil }
func (m mapTree) Entries() ([]pipeline.TreeEntry, error) { return nil, nil }
func (m mapTree) Names(dir string) ([]string, error) {
	var out []string
	for p := range m {
		if d, name := path.Split(p); d == dir+"/" {
			out = append(out, name)
		}
	}
	return out, nil
}
func (m mapTree) ReadFile(p string) ([]byte, error) { return nil, nil }

// The readers of both front ends give the checks the same facts: these are
// the rules they are read by.
func TestTreesReadThroughAFrontEndsReader(t *testing.T) {
	st, err := pipeline.ReadServiceTree(mapTree{"sshd/run": true, "cron/run": false, ".s6-svscan/finish": true, "cron/finish": true})
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"sshd": true, "cron": false}, st.RunExecutable, ".s6-svscan is not a service")
	assert.True(t, st.HasScanFinish)
	assert.EqualError(t, st.Check(), `service "cron" has no executable run file`)

	rt, err := pipeline.ReadRcTree(mapTree{"app/type": false, "app/run": true, "default/type": false, "default/contents.d/app": false, "broken/run": true, ".hidden/type": false})
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"app": true, "default": true, "broken": false}, rt.Typed)
	assert.ErrorContains(t, rt.Check(""), "broken has no type file")
}
