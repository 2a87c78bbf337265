package pipeline_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/inputerr"
)

// The layout is the same whether the base is a reference (CLI) or a
// container (Dagger): NewImage is NewImageLayout plus the base's check.
func TestImageLayoutIsTheSpecWithoutTheBase(t *testing.T) {
	req := pipeline.ImageRequest{Base: "debian:bookworm-slim", Prefix: "/opt/s6", ServicesDir: "/srv/svc"}
	spec, err := pipeline.NewImage(req)
	require.NoError(t, err)
	assert.Equal(t, "docker.io/library/debian:bookworm-slim", spec.Base)
	assert.Equal(t, []string{"/opt/s6/bin/s6-svscan", "/srv/svc"}, spec.Entrypoint)

	req.Base = ""
	layout, err := pipeline.NewImageLayout(req)
	require.NoError(t, err)
	assert.Empty(t, layout.Base)
	spec.Base = ""
	assert.Equal(t, spec, layout)

	_, err = pipeline.NewImage(req)
	var ie *inputerr.Error
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "base", ie.Field)

	_, err = pipeline.NewImageLayout(pipeline.ImageRequest{ServicesDir: "etc/s6"})
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "servicesDir", ie.Field)
}

// A dist image is the dist alone, with no base, services or entrypoint, and
// labels that say what it holds and where its programs are; its plans may
// differ in their platform only.
func TestDistImageIsTheDistAloneLabelledWithItsReleases(t *testing.T) {
	plan := func(platform, prefix string) *pipeline.Plan {
		p, err := pipeline.New(testCatalog(t), pipeline.Request{S6: "2.1.6.0", Platform: platform, BuildPlatform: "linux/amd64",
			Prefix: prefix, Toolchain: pipeline.Toolchain{Image: testToolchain}})
		require.NoError(t, err)
		return p
	}
	amd, arm := plan("linux/amd64", "/usr/local"), plan("linux/arm64", "/usr/local")
	spec, err := pipeline.NewDistImage([]*pipeline.Plan{amd, arm})
	require.NoError(t, err)
	assert.True(t, spec.DistOnly)
	assert.Empty(t, spec.Base)
	assert.Empty(t, spec.Entrypoint)
	assert.Empty(t, spec.ServicesDir)
	assert.Equal(t, "/usr/local", spec.Prefix)
	assert.Equal(t, map[string]string{
		"org.opencontainers.image.title":   "s6 2.1.6.0 dist",
		"org.opencontainers.image.version": "2.1.6.0",
		"io.s6builder.prefix":              "/usr/local",
		"io.s6builder.release.skalibs":     "2.3.5.1",
		"io.s6builder.release.execline":    "2.1.2.2",
		"io.s6builder.release.s6":          "2.1.6.0",
	}, spec.Labels)
	assert.Equal(t, []string{"usr/local/bin", "usr/local/sbin", "usr/local/libexec"}, amd.Request.DistBinaryDirs())

	_, err = pipeline.NewDistImage([]*pipeline.Plan{amd, plan("linux/arm64", "/opt/s6")})
	assert.ErrorContains(t, err, "differ in more than their platform")
	_, err = pipeline.NewDistImage(nil)
	assert.Error(t, err)
	assert.Equal(t, []string{"bin", "sbin", "libexec"}, plan("linux/amd64", "").Request.DistBinaryDirs(), "prefix / by default")
}
