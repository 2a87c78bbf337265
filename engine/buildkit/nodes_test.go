package buildkit_test

import (
	"testing"

	"github.com/moby/buildkit/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	bk "github.com/s6builder/s6builder/engine/buildkit"
)

// Each platform goes to a node native to it when there is one; the others
// are shared out, the least loaded node first.
func TestAssignSendsPlatformsWhereTheyAreNative(t *testing.T) {
	amd, arm := "linux/amd64", "linux/arm64"
	assert.Equal(t, []int{0, 1, 0, 1}, bk.Assign([]string{amd, arm}, []string{amd, arm, "linux/riscv64", "linux/s390x"}))
	assert.Equal(t, []int{1, 0}, bk.Assign([]string{amd, arm}, []string{arm, amd}))
	assert.Equal(t, []int{0, 1, 0}, bk.Assign([]string{amd, amd}, []string{amd, arm, "linux/386"}), "two amd64 nodes: the first takes amd64")
	assert.Equal(t, []int{0, 0}, bk.Assign([]string{amd}, []string{amd, arm}), "one node takes all")
}

// A registry cache shared by two nodes: each exports its own tag and
// imports both; other caches and one node are left as given.
func TestNodeCacheGivesEachNodeItsTag(t *testing.T) {
	c := bk.Cache{
		Exports: []client.CacheOptionsEntry{{Type: "registry", Attrs: map[string]string{"ref": "reg.example/cache:v1", "mode": "max"}},
			{Type: "local", Attrs: map[string]string{"dest": "/c"}}},
		Imports: []client.CacheOptionsEntry{{Type: "local", Attrs: map[string]string{"src": "/c"}}},
	}
	one, err := bk.NodeCache(c, 0, 1)
	require.NoError(t, err)
	assert.Equal(t, c, one)
	n1, err := bk.NodeCache(c, 1, 2)
	require.NoError(t, err)
	assert.Equal(t, []client.CacheOptionsEntry{{Type: "registry", Attrs: map[string]string{"ref": "reg.example/cache:v1-node1", "mode": "max"}},
		{Type: "local", Attrs: map[string]string{"dest": "/c"}}}, n1.Exports)
	assert.Equal(t, []client.CacheOptionsEntry{{Type: "local", Attrs: map[string]string{"src": "/c"}},
		{Type: "registry", Attrs: map[string]string{"ref": "reg.example/cache:v1-node0"}},
		{Type: "registry", Attrs: map[string]string{"ref": "reg.example/cache:v1-node1"}}}, n1.Imports)
	assert.Equal(t, "reg.example/cache:v1", c.Exports[0].Attrs["ref"], "the given cache is not changed")
}
