package pipeline_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
)

func overlayCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	cat, err := pipeline.LoadCatalog(pipeline.Layer{Source: "test", File: catalog.File{Releases: []catalog.FileRelease{
		{Package: "s6-overlay", Version: "3.2.3.2", Digest: "sha256:" + strings.Repeat("a", 64)},
		{Package: "s6-overlay-helpers", Version: "0.1.2.2", Digest: "sha256:" + strings.Repeat("b", 64)}}}})
	require.NoError(t, err)
	return cat
}

// The plan fetches GitHub's tag archive by digest (or the mirror's copy)
// and assembles the noarch tarballs in the toolchain, with the release's
// day as the time of every file.
func TestOverlayPlan(t *testing.T) {
	cat := overlayCatalog(t)
	p, err := pipeline.NewOverlay(cat, pipeline.OverlayRequest{Version: "3.2.3.2", BuildPlatform: "linux/amd64"})
	require.NoError(t, err)
	f := p.Stage(pipeline.IDOverlayFetch)
	require.NotNil(t, f)
	assert.Equal(t, "https://github.com/just-containers/s6-overlay/archive/refs/tags/v3.2.3.2.tar.gz", f.Fetch.URL)
	assert.Equal(t, "s6-overlay-3.2.3.2.tar.gz", f.Fetch.Filename)
	assert.Equal(t, "sha256:"+strings.Repeat("a", 64), f.Fetch.Digest)
	a := p.Stage(pipeline.IDOverlayNoarch)
	require.NotNil(t, a)
	assert.Equal(t, pipeline.KindAssemble, a.Kind)
	args := a.Exec.Steps[0].Args
	assert.Equal(t, []string{"/in/s6-overlay-3.2.3.2.tar.gz", "3.2.3.2", "/command", "1784160000", "/out"}, args[4:],
		"tarball, version, SHEBANGDIR, 2026-07-16 00:00 UTC, output")

	m, err := pipeline.NewOverlay(cat, pipeline.OverlayRequest{Version: "3.2.3.2", Mirror: "http://127.0.0.1:8055", BuildPlatform: "linux/amd64", SourceDateEpoch: 1700000000})
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8055/s6-overlay/s6-overlay-3.2.3.2.tar.gz", m.Stage(pipeline.IDOverlayFetch).Fetch.URL)
	assert.Equal(t, "1700000000", m.Stage(pipeline.IDOverlayNoarch).Exec.Steps[0].Args[7])
	assert.Equal(t, a.Deps, m.Stage(pipeline.IDOverlayNoarch).Deps)
	assert.NotEqual(t, a.Key, m.Stage(pipeline.IDOverlayNoarch).Key, "the epoch is an input")
}

func TestOverlayRefusals(t *testing.T) {
	cat := overlayCatalog(t)
	embedded, err := pipeline.LoadCatalog()
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		cat  *catalog.Catalog
		req  pipeline.OverlayRequest
		want string
	}{
		"no version":     {cat, pipeline.OverlayRequest{}, "give the s6-overlay release"},
		"bad version":    {cat, pipeline.OverlayRequest{Version: "3.2;id"}, `version "3.2;id"`},
		"unknown":        {cat, pipeline.OverlayRequest{Version: "9.9.9.9"}, "unknown s6-overlay release 9.9.9.9"},
		"no digest":      {embedded, pipeline.OverlayRequest{Version: "3.2.3.2"}, "nobody publishes one for a GitHub tag archive"},
		"bad mirror":     {cat, pipeline.OverlayRequest{Version: "3.2.3.2", Mirror: "ftp://x"}, "mirror"},
		"negative epoch": {cat, pipeline.OverlayRequest{Version: "3.2.3.2", SourceDateEpoch: -1}, "want seconds since 1970"},
	} {
		_, err := pipeline.NewOverlay(tc.cat, tc.req)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), tc.want, name)
	}
}
