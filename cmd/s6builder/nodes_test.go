package main_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/internal/fixtures"
)

// secondDaemon starts a private buildkitd with an empty state of its own
// (the second node of a run) and returns its address; it stops with the test.
func secondDaemon(t *testing.T, toolchain string) string {
	t.Helper()
	root := fixtures.DaemonStateDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	d, err := bk.StartPrivate(ctx, bk.PrivateOptions{Root: root, HTTPRegistries: []string{strings.SplitN(toolchain, "/", 2)[0]}})
	require.NoError(t, err)
	t.Cleanup(d.Stop)
	return d.Addr
}

// A release spread over two daemons (--node): each platform is built on
// one of them, said per platform, and the release is the same, byte for
// byte, as the one a single daemon makes. With a registry cache, each node
// exports its own tag and imports both: a fresh second daemon takes its
// platform's stages from the cache the first run exported.
func TestAReleaseOverTwoDaemonsIsTheSameRelease(t *testing.T) {
	addr, tc := engineEnv(t)
	reg := fixtures.TestEnv(t, "S6BUILDER_REGISTRY")
	m, cat, _ := fixtureMirror(t, fixtures.Nonce(), "2.1.6.0")
	env := []string{"S6BUILDER_TOOLCHAIN=" + tc, "S6BUILDER_MIRROR=" + m.URL, "S6BUILDER_CATALOG=" + cat}
	second := secondDaemon(t, tc)
	ref := reg + "/s6builder-test-cache:" + fixtures.Nonce()
	cache := []string{"--cache-to", "type=registry,ref=" + ref + ",mode=max,registry.insecure=true", "--cache-from", "type=registry,ref=" + ref + ",registry.insecure=true"}

	two := filepath.Join(t.TempDir(), "two")
	args := append([]string{"release", "--s6", "2.1.6.0", "--platform", "linux/amd64,linux/arm64", "--source-date-epoch", "1700000000", "--progress", "plain",
		"--addr", addr, "--node", second, "-o", two}, cache...)
	log, code := run(t, env, args...)
	require.Equal(t, 0, code, log)
	assert.Contains(t, log, "s6builder: linux/amd64 on "+addr+" (linux/amd64)\n", "the native platform stays on the first node")
	assert.Contains(t, log, "s6builder: linux/arm64 on "+second+" (linux/amd64)\n", "the other goes to the node with none")

	one := filepath.Join(t.TempDir(), "one")
	log, code = run(t, env, "release", "--s6", "2.1.6.0", "--platform", "linux/amd64,linux/arm64", "--source-date-epoch", "1700000000", "--progress", "quiet",
		"--addr", addr, "-o", one)
	require.Equal(t, 0, code, log)
	sums := func(dir string) string {
		b, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
		require.NoError(t, err)
		return string(b)
	}
	assert.Equal(t, sums(one), sums(two), "two daemons make the release one makes")
	for _, dir := range []string{one, two} {
		log, code = run(t, append(env, "BUILDKIT_HOST="+addr), "verify", dir, "--progress", "quiet")
		assert.Equal(t, 0, code, log)
	}

	// A fresh second node: its platform comes from the shared cache.
	fresh := secondDaemon(t, tc)
	args = append([]string{"build", "--s6", "2.1.6.0", "--platform", "linux/amd64,linux/arm64", "--progress", "quiet",
		"--addr", addr, "--node", fresh, "-o", filepath.Join(t.TempDir(), "dists")}, cache...)
	log, code = run(t, env, args...)
	require.Equal(t, 0, code, log)
	assert.Regexp(t, regexp.MustCompile(`for linux/arm64 in [0-9.]+s: 0 steps executed`), log, "the fresh node built nothing: the cache held it")
}

// --node adds daemons to the --addr one: without it, refused before any
// work (a private daemon beside them would be one nobody asked for).
func TestNodeNeedsTheFirstDaemon(t *testing.T) {
	out, code := run(t, nil, "build", "--s6", "2.1.6.0", "--node", "tcp://127.0.0.1:1", "-o", filepath.Join(t.TempDir(), "d"))
	assert.Equal(t, 2, code, out)
	assert.Contains(t, out, `--node "tcp://127.0.0.1:1": give the first daemon with --addr (or BUILDKIT_HOST) too`)
	out, code = run(t, nil, "release", "--s6", "2.1.6.0", "--addr", "tcp://127.0.0.1:1", "--node", "tcp://127.0.0.1:1", "-o", filepath.Join(t.TempDir(), "r"))
	assert.Equal(t, 2, code, out)
	assert.Contains(t, out, `--node "tcp://127.0.0.1:1": named twice (with --addr or another --node): one daemon is one node`)
}
