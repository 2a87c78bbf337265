package main

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
)

// overlayCatalogJSON pins the two GitHub archives nobody publishes a
// digest for.
var overlayCatalogJSON = `{"releases": [{"package": "s6-overlay", "version": "3.2.3.2", "digest": "sha256:` + strings.Repeat("a", 64) + `"},
	{"package": "s6-overlay-helpers", "version": "0.1.2.2", "digest": "sha256:` + strings.Repeat("b", 64) + `"}]}`

// overlay sends the plan: one http per source tarball with its digest,
// from the toolchain image, and an exec for every package's build.
func TestOverlaySendsThePlan(t *testing.T) {
	ctx := context.Background()
	fake.reset()
	m := &S6Builder{Static: true, Toolchain: testToolchain, Catalog: dag.File("catalog.json", overlayCatalogJSON)}
	d, err := m.Overlay(ctx, "3.2.3.2", []string{"linux/amd64", "aarch64"}, []string{"s6-rc=0.6.1.1"})
	require.NoError(t, err)
	_, err = d.ID(ctx)
	require.NoError(t, err)

	cf, err := catalog.ParseFile([]byte(overlayCatalogJSON))
	require.NoError(t, err)
	cat, err := pipeline.LoadCatalog(pipeline.Layer{Source: catalogSource, File: cf})
	require.NoError(t, err)
	p, err := pipeline.NewOverlay(cat, pipeline.OverlayRequest{Version: "3.2.3.2", Platform: "linux/arm64", BuildPlatform: fakePlatform,
		Toolchain: pipeline.Toolchain{Image: testToolchain}, With: []string{"s6-rc=0.6.1.1"}})
	require.NoError(t, err)
	raw := strings.Join(fake.recorded(), "\n")
	fetches := 0
	for _, s := range p.Stages {
		switch s.Kind {
		case pipeline.KindFetch:
			fetches++
			assert.Contains(t, raw, `checksum:"`+s.Fetch.Digest+`"`, s.ID)
		case pipeline.KindBuild:
			if c := s.Exec.Step("configure"); c != nil { // BearSSL has none
				assert.Contains(t, raw, c.Args[len(c.Args)-1], s.ID)
			}
		}
	}
	// The same http in both platforms' graphs: the engine fetches it once.
	urls := map[string]bool{}
	for _, call := range httpCall.FindAllString(raw, -1) {
		urls[httpURL.FindStringSubmatch(call)[1]] = true
	}
	assert.Len(t, urls, fetches, "one URL per tarball")
	assert.Contains(t, raw, "s6-rc-0.6.1.1.tar.gz")
	assert.Contains(t, raw, `from(address:"`+testToolchain+`")`)
	assert.Contains(t, raw, "s6-overlay-symlinks-arch.tar.xz", "the two platforms' symlinks tarballs compared")
}

var (
	httpCall = regexp.MustCompile(`http\([^)]*\)`)
	httpURL  = regexp.MustCompile(`url:"([^"]+)"`)
)

// Bad arguments are refused before any query but the engine's platform.
func TestOverlayBadArgumentsSendNoQuery(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		version   string
		platforms []string
		with      []string
		want      string
	}{
		"no release":      {"", nil, nil, "--s6-overlay: give the s6-overlay release"},
		"unknown release": {"9.9.9.9", nil, nil, "unknown s6-overlay release 9.9.9.9"},
		"bad platform":    {"3.2.3.2", []string{"powerpc64"}, nil, "no Debian release has musl for big-endian POWER"},
		"bad with":        {"3.2.3.2", nil, []string{"s6=2.15.0.0"}, `--with "s6=2.15.0.0": s6-rc 0.7.0.0 needs s6 2.15.1.0 or later`},
	} {
		t.Run(name, func(t *testing.T) {
			fake.reset()
			m := &S6Builder{Static: true, Toolchain: testToolchain}
			_, err := m.Overlay(ctx, tc.version, tc.platforms, tc.with)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, slices.DeleteFunc(fake.recorded(), func(q string) bool { return q == "query Query {defaultPlatform}" }))
		})
	}
}
