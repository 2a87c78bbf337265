package buildkit

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/pipeline/inputerr"
)

// These are fast contract tests of the output rules: no daemon is needed
// to decide what may be replaced. The integration tests export for real.

var cli = inputerr.Words{Arg: inputerr.Flag, Command: func(c string) string { return "s6builder " + c }}

func write(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func TestOutputsThatAreNotOursAreRefused(t *testing.T) {
	dir := t.TempDir()
	user := filepath.Join(dir, "thesis")
	write(t, filepath.Join(user, "docs", "thesis.txt"), "precious\n")
	ours := filepath.Join(dir, "s6dist")
	write(t, filepath.Join(ours, MarkerName), `{"s6builder": "dist", "releases": {"s6": "2.1.6.0"}}`)
	forged := filepath.Join(dir, "forged")
	write(t, filepath.Join(forged, MarkerName), `not json`)
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	file := filepath.Join(dir, "notes.txt")
	write(t, file, "notes\n")

	for name, tc := range map[string]struct {
		out    Output
		force  bool
		refuse string // "" = accepted
	}{
		"new path":               {Output{Field: "output", Path: filepath.Join(dir, "new", "dist")}, false, ""},
		"empty directory":        {Output{Field: "output", Path: empty}, false, ""},
		"an earlier output":      {Output{Field: "output", Path: ours}, false, ""},
		"a user's directory":     {Output{Field: "output", Path: user}, false, `--output "` + user + `": exists, is not empty and is not an s6builder output (it has no .s6builder.json)`},
		"names --force":          {Output{Field: "sources", Path: user}, false, "or give --force to replace it"},
		"forged marker":          {Output{Field: "output", Path: forged}, false, "is not an s6builder output"},
		"a user's dir, forced":   {Output{Field: "output", Path: user}, true, ""},
		"a file where a tree":    {Output{Field: "output", Path: file}, true, "exists and is not a directory"},
		"root":                   {Output{Field: "output", Path: "/"}, true, "refusing to replace /"},
		"a non-archive file":     {Output{Field: "output", Path: file, File: true}, false, "is not an OCI archive"},
		"a non-archive, forced":  {Output{Field: "output", Path: file, File: true}, true, ""},
		"a directory for a file": {Output{Field: "output", Path: empty, File: true}, true, "not a regular file"},
		"empty path":             {Output{Field: "output", Path: ""}, true, "an empty path"},
	} {
		t.Run(name, func(t *testing.T) {
			err := CheckOutputs([]Output{tc.out}, tc.force)
			if tc.refuse == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.True(t, inputerr.Is(err), "an input error (exit 2)")
			assert.Contains(t, inputerr.Render(err, cli), tc.refuse)
		})
	}
	b, err := os.ReadFile(filepath.Join(user, "docs", "thesis.txt"))
	require.NoError(t, err)
	assert.Equal(t, "precious\n", string(b))
}

func TestTheWorkingDirectoryAndItsParentsAreRefusedEvenWithForce(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	for _, p := range []string{".", wd, filepath.Dir(wd)} {
		err := CheckOutputs([]Output{{Field: "output", Path: p}}, true)
		assert.ErrorContains(t, err, "working directory", p)
	}
}

func TestOverlappingOutputsAreRefused(t *testing.T) {
	dir := t.TempDir()
	x := filepath.Join(dir, "x")
	for name, sources := range map[string]string{"same": x, "inside": filepath.Join(x, "src"), "around": dir} {
		err := CheckOutputs([]Output{{Field: "output", Path: x}, {Field: "sources", Path: sources}}, false)
		require.Error(t, err, name)
		assert.Contains(t, inputerr.Render(err, cli), "overlaps --output", name)
	}
	assert.NoError(t, CheckOutputs([]Output{{Field: "output", Path: x}, {Field: "sources", Path: x + "-src"}}, false))
}

func TestAnOCIArchiveMayBeOverwritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "image.tar")
	f, err := os.Create(path)
	require.NoError(t, err)
	tw := tar.NewWriter(f)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "oci-layout", Mode: 0o644, Size: 2}))
	_, err = tw.Write([]byte("{}"))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	require.NoError(t, f.Close())
	assert.NoError(t, CheckOutputs([]Output{{Field: "output", Path: path, File: true}}, false))
}

func TestAFailedStageLeavesNoParentsAndNoTemporaryTree(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "a", "b", "out")
	s, err := stageDir(target)
	require.NoError(t, err)
	assert.DirExists(t, s.tmp)
	s.discard()
	assert.NoDirExists(t, filepath.Join(dir, "a"), "parents made for a failed run are removed")
}

func TestACommittedStageIsMarkedAndReplaceable(t *testing.T) {
	target := filepath.Join(t.TempDir(), "out")
	for i := 0; i < 2; i++ {
		s, err := stageDir(target)
		require.NoError(t, err)
		write(t, filepath.Join(s.tmp, "bin", "run"), strconv.Itoa(i))
		require.NoError(t, s.mark(Marker{S6builder: "dist", Releases: map[string]string{"s6": "2.1.6.0"}}))
		require.NoError(t, s.commit())
		assert.True(t, ownTree(target))
		require.NoError(t, CheckOutputs([]Output{{Field: "output", Path: target}}, false), "a marked tree is ours to replace")
	}
	b, err := os.ReadFile(filepath.Join(target, "bin", "run"))
	require.NoError(t, err)
	assert.Equal(t, "1", string(b))
}

func TestTemporaryTreesOfDeadRunsAreRemoved(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out")
	// A process that has exited: its pid names a dead run.
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	dead := filepath.Join(dir, tmpPrefix(target)+strconv.Itoa(cmd.Process.Pid)+"-123")
	write(t, filepath.Join(dead, "bin", "partial"), "x")
	live := filepath.Join(dir, tmpPrefix(target)+"1-456") // pid 1 runs
	require.NoError(t, os.Mkdir(live, 0o755))
	other := filepath.Join(dir, ".other.s6builder-"+strconv.Itoa(cmd.Process.Pid)+"-1")
	require.NoError(t, os.Mkdir(other, 0o755))

	s, err := stageDir(target)
	require.NoError(t, err)
	defer s.discard()
	assert.NoDirExists(t, dead, "a dead run's partial tree")
	assert.DirExists(t, live, "a running process's tree")
	assert.DirExists(t, other, "another output's tree")
}
