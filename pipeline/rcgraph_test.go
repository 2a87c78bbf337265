package pipeline_test

import (
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/pipeline"
)

// fileTree is a TreeReader over files and their contents (path ->
// contents); the directories are the files' parents, nothing is executable.
type fileTree map[string]string

func (f fileTree) dirs() map[string]bool {
	dirs := map[string]bool{}
	for p := range f {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	return dirs
}

func (f fileTree) TopDirs() ([]string, error) {
	var out []string
	for d := range f.dirs() {
		if !strings.Contains(d, "/") {
			out = append(out, d)
		}
	}
	return out, nil
}
func (f fileTree) RegularFile(p string) (bool, error) { _, ok := f[p]; return ok, nil }
func (f fileTree) Executable(p string) (bool, error)  { return false, nil }
func (f fileTree) Entries() ([]pipeline.TreeEntry, error) {
	var out []pipeline.TreeEntry
	for d := range f.dirs() {
		out = append(out, pipeline.TreeEntry{Path: d, Type: fs.ModeDir})
	}
	for p := range f {
		out = append(out, pipeline.TreeEntry{Path: p})
	}
	return out, nil
}
func (f fileTree) Names(dir string) ([]string, error) {
	var out []string
	for _, p := range slices.Concat(slices.Collect(maps.Keys(f)), slices.Collect(maps.Keys(f.dirs()))) {
		if path.Dir(p) == dir {
			out = append(out, path.Base(p))
		}
	}
	return out, nil
}
func (f fileTree) ReadFile(p string) ([]byte, error) {
	c, ok := f[p]
	if !ok {
		return nil, nil
	}
	return []byte(c), nil
}

// with is f and more files.
func (f fileTree) with(more fileTree) fileTree {
	out := maps.Clone(f)
	maps.Copy(out, more)
	return out
}

// An s6-rc source tree's references, in both of s6-rc's formats, are
// checked before any work: a name not defined, a dependency cycle (through
// a bundle too), named with the path of the cycle.
func TestRcTreeReferencesAndCycles(t *testing.T) {
	good := fileTree{
		"prepare/type": "oneshot\n", "prepare/up": "true\n",
		"app/type": "longrun\n", "app/run": "", "app/dependencies.d/prepare": "",
		"worker/type": "longrun\n", "worker/run": "", "worker/dependencies": "# the old format\nprepare\n\napp\n",
		"default/type": "bundle\n", "default/contents.d/app": "", "default/contents.d/worker": "", "default/contents.d/.keep": "",
	}
	tree, err := pipeline.ReadRcTree(good)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"prepare", "app"}, tree.Refs["worker"], "the old format's file, comments and blank lines skipped")
	assert.ElementsMatch(t, []string{"app", "worker"}, tree.Refs["default"], "dot names skipped, as s6-rc-compile does")
	assert.NoError(t, tree.Check(""))

	for name, tc := range map[string]struct {
		more fileTree
		want string
	}{
		"unknown dependency":   {fileTree{"app/dependencies.d/db": ""}, "app: refers to db, which is not defined (no db with a type file)"},
		"unknown bundle entry": {fileTree{"default/contents": "app\nmissing\n"}, "default: refers to missing, which is not defined"},
		"cycle":                {fileTree{"prepare/dependencies.d/worker": ""}, "a dependency cycle in the tree: prepare -> worker -> prepare"},
		"cycle through a bundle": {fileTree{"prepare/dependencies.d/default": ""},
			"a dependency cycle in the tree: app -> prepare -> default -> app"},
		"itself": {fileTree{"prepare/dependencies": "prepare\n"}, "a dependency cycle in the tree: prepare -> prepare"},
	} {
		tree, err := pipeline.ReadRcTree(good.with(tc.more))
		require.NoError(t, err, name)
		assert.ErrorContains(t, tree.Check(""), tc.want, name)
	}
}

// An s6-overlay tree's s6-rc definitions are compiled with s6-overlay's
// own (base, top, the user bundles...): they may be referred to, a cycle
// may run through them, and they may not be redefined. The deprecated
// s6-rc.d/user needs no type file (s6-overlay writes it) and replaces
// user-bundles.d, as s6-overlay's rc.init does.
func TestOverlayRootReferencesAndCycles(t *testing.T) {
	const rc, bundles = "etc/s6-overlay/s6-rc.d/", "etc/s6-overlay/user-bundles.d/"
	good := fileTree{
		rc + "app/type": "longrun\n", rc + "app/run": "", rc + "app/dependencies.d/base": "",
		bundles + "user/contents.d/app": "",
	}
	tree, err := pipeline.ReadOverlayRoot(good)
	require.NoError(t, err)
	assert.Equal(t, []string{"app"}, tree.RcRefs["user"])
	assert.NoError(t, tree.Check())

	deprecated := fileTree{rc + "app/type": "longrun\n", rc + "app/run": "", rc + "user/contents.d/app": "",
		bundles + "user/contents.d/gone": ""}
	tree, err = pipeline.ReadOverlayRoot(deprecated)
	require.NoError(t, err)
	assert.NoError(t, tree.Check(), "s6-rc.d/user without a type; user-bundles.d then ignored (its unknown name too)")

	for name, tc := range map[string]struct {
		more fileTree
		want string
	}{
		"unknown dependency": {fileTree{rc + "app/dependencies.d/db": ""},
			"etc/s6-overlay/s6-rc.d/app: refers to db, which is not defined (no etc/s6-overlay/s6-rc.d/db with a type file)"},
		"unknown in a user bundle": {fileTree{bundles + "user2/contents.d/nosuch": ""}, "user2: refers to nosuch"},
		"cycle through s6-overlay's own": {fileTree{rc + "app/dependencies.d/legacy-services": ""},
			"a dependency cycle in etc/s6-overlay/s6-rc.d: app -> legacy-services -> user -> app"},
		"s6-overlay's name": {fileTree{rc + "base/type": "bundle\n"}, "etc/s6-overlay/s6-rc.d/base: s6-overlay defines base itself"},
	} {
		tree, err := pipeline.ReadOverlayRoot(good.with(tc.more))
		require.NoError(t, err, name)
		assert.ErrorContains(t, tree.Check(), tc.want, name)
	}
}
