package pipeline_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
	"github.com/s6builder/s6builder/pipeline/inputerr"
	"github.com/s6builder/s6builder/pipeline/version"
)

// familyCatalog is the embedded catalogue with stand-in digests for every
// release that has none: for tests about resolution and the graph, not
// downloads.
func familyCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c := testCatalog(t)
	var stubs []catalog.FileRelease
	for _, pkg := range catalog.Packages {
		for _, r := range c.Releases(pkg) {
			if r.Digest == "" {
				stubs = append(stubs, catalog.FileRelease{Package: pkg, Version: r.Version.String(), Digest: "sha256:" + strings.Repeat("b", 64)})
			}
		}
	}
	c.Apply(catalog.File{Releases: stubs}, "stand-in digests")
	return c
}

func familyPlan(t *testing.T, req pipeline.Request) (*pipeline.Plan, error) {
	t.Helper()
	req.Toolchain.Image, req.Platform = testToolchain, "linux/amd64"
	return pipeline.New(familyCatalog(t), req)
}

func TestWithAllResolvesTheFamilyS6OverlayShips(t *testing.T) {
	p, err := familyPlan(t, pipeline.Request{S6: "2.15.1.0", With: []string{"all"}})
	require.NoError(t, err)
	// s6-overlay's conf/versions for s6 2.15.1.0.
	assert.ElementsMatch(t, []string{"s6-dns=2.4.1.3", "s6-portable-utils=2.3.1.2", "s6-linux-utils=2.6.4.1",
		"s6-rc=0.7.0.0", "s6-networking=2.8.0.1", "s6-linux-init=1.2.0.2"}, p.Request.With)
	assert.Equal(t, catalog.Packages, p.Selection.Packages(), "every package, in build order")
	for _, pkg := range p.Selection.Packages() {
		require.NotNil(t, p.Stage("build/"+pkg), pkg)
	}
	// s6-networking builds against s6-dns; without TLS (no --enable-ssl).
	net := p.Stage("build/s6-networking")
	assert.Contains(t, net.Deps, "build/s6-dns")
	assert.NotContains(t, strings.Join(net.Exec.Step("configure").Args, " "), "ssl")
	// Packages that include <linux/...> get the toolchain's kernel headers.
	assert.Contains(t, p.Stage("build/s6-linux-init").Deps, pipeline.IDKernelHeaders)
	assert.Contains(t, p.Stage("build/s6-linux-init").Exec.Env, "CPPFLAGS=-isystem "+pipeline.KernelHeadersDir)
	assert.NotContains(t, p.Stage("build/s6-rc").Deps, pipeline.IDKernelHeaders)
}

func TestAddingAMemberChangesOnlyItsStages(t *testing.T) {
	base, err := familyPlan(t, pipeline.Request{S6: "2.15.1.0"})
	require.NoError(t, err)
	with, err := familyPlan(t, pipeline.Request{S6: "2.15.1.0", With: []string{"s6-rc"}})
	require.NoError(t, err)
	keys := with.Keys()
	for id, k := range base.Keys() {
		switch id {
		case pipeline.IDDist, pipeline.IDSources, pipeline.IDExport, pipeline.IDSmoke:
			assert.NotEqual(t, k, keys[id], "%s holds s6-rc now", id)
		default:
			assert.Equal(t, k, keys[id], "%s is reused as it was", id)
		}
	}
	for _, id := range []string{"fetch/s6-rc", "unpack/s6-rc", "build/s6-rc"} {
		assert.Contains(t, keys, id)
	}
}

func TestWithPinsAndRefusals(t *testing.T) {
	p, err := familyPlan(t, pipeline.Request{S6: "2.15.1.0", With: []string{"s6-rc=0.6.1.1"}})
	require.NoError(t, err, "s6-rc 0.6.1.1 needs skalibs/s6 2.15.0.0 and execline 2.9.9.1: compatible")
	assert.Equal(t, []string{"s6-rc=0.6.1.1"}, p.Request.With)

	for name, tc := range map[string]struct {
		req  pipeline.Request
		want string
	}{
		"old s6-rc on new s6": {pipeline.Request{S6: "2.15.1.0", With: []string{"s6-rc=0.5.6.0"}},
			"s6-rc 0.5.6.0 needs skalibs 2.14."},
		"names what works": {pipeline.Request{S6: "2.15.1.0", With: []string{"s6-rc=0.5.6.0"}},
			"releases that work: 0.6.1.0, 0.6.1.1, 0.7.0.0"},
		"unknown member":   {pipeline.Request{S6: "2.15.1.0", With: []string{"runit"}}, "not a package of the family"},
		"empty pin":        {pipeline.Request{S6: "2.15.1.0", With: []string{"s6-rc="}}, "an empty version"},
		"two pins":         {pipeline.Request{S6: "2.15.1.0", With: []string{"s6-rc=0.6.1.1", "s6-rc=0.7.0.0"}}, "pinned twice"},
		"pin against s6's": {pipeline.Request{S6: "2.15.1.0", With: []string{"skalibs=2.14.3.0"}}, "skalibs's version has an argument of its own: give skalibs 2.14.3.0"},
	} {
		_, err := familyPlan(t, tc.req)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), tc.want, name)
		var ie *inputerr.Error
		assert.ErrorAs(t, err, &ie, name)
		assert.Equal(t, "with", ie.Field, name)
	}
}

// TestShareOfS6ReleasesPlannableFromS6Alone prints how many s6 releases
// since 2.1 plan from --s6 alone with the embedded catalogue (every digest
// published by a packager), and the newest release of every package.
func TestShareOfS6ReleasesPlannableFromS6Alone(t *testing.T) {
	c, err := pipeline.LoadCatalog()
	require.NoError(t, err)
	var total, ok int
	var missing []string
	for _, r := range c.Releases(catalog.S6) {
		if r.Version.Less(version.MustParse("2.1.0.0")) {
			continue
		}
		total++
		_, err := pipeline.New(c, pipeline.Request{S6: r.Version.String(), Toolchain: pipeline.Toolchain{Image: testToolchain}, Platform: "linux/amd64"})
		if err == nil {
			ok++
		} else {
			missing = append(missing, r.Version.String())
		}
	}
	share := 100 * float64(ok) / float64(total)
	t.Logf("s6 releases since 2.1 plannable from --s6 alone: %d of %d (%.0f %%); not: %v", ok, total, share, missing)
	newest := map[string]string{}
	for _, pkg := range catalog.Packages {
		rels := c.Releases(pkg)
		n := rels[len(rels)-1]
		newest[pkg] = n.Version.String()
		assert.NotEmpty(t, n.Digest, "the newest %s, %s, has a published digest", pkg, n.Version)
	}
	t.Logf("newest releases, each with a published digest: %v", newest)
	// The goal is 90 %; most of the rest lack a digest for the s6
	// tarball itself. A floor, so that the share only grows.
	assert.GreaterOrEqual(t, ok, 60, "s6 releases plannable from --s6 alone")
}
