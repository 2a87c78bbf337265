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
	req := pipeline.ImageRequest{Base: "debian:bookworm-slim", DistPrefix: "/opt/s6", ServicesDir: "/srv/svc"}
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
