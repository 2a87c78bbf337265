package pipeline_test

import (
	"strings"
	"testing"

	"github.com/containerd/platforms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/inputerr"
)

func TestPlatformListsTakeDockerAndS6OverlayNames(t *testing.T) {
	got, err := pipeline.ParsePlatforms("linux/amd64,aarch64,armhf,linux/arm/v6,i686,riscv64,ppc64le")
	require.NoError(t, err)
	assert.Equal(t, []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/386", "linux/riscv64", "linux/ppc64le"}, got)
	got, err = pipeline.ParsePlatforms("arm64")
	require.NoError(t, err)
	assert.Equal(t, []string{"linux/arm64"}, got, "an architecture alone is linux's")

	one, err := pipeline.ParsePlatforms("")
	require.NoError(t, err)
	assert.Equal(t, []string{platforms.DefaultString()}, one)

	for value, want := range map[string]string{
		"linux/arm64,aarch64": "linux/arm64 is given twice",
		"windows/amd64":       "linux only",
		"linux/amd64,":        "an empty platform name",
		"bogus-arch/x/y/z":    "`platforms` lists the names",
		"i486":                "linux/386 (i686) is",
		"powerpc64":           "no Debian release has musl for big-endian POWER",
	} {
		_, err := pipeline.ParsePlatforms(value)
		var ie *inputerr.Error
		require.ErrorAs(t, err, &ie, value)
		assert.Equal(t, "platform", ie.Field, value)
		assert.Contains(t, ie.Error(), want, value)
	}
}

func TestPlatformTableNamesEveryS6OverlayArchitecture(t *testing.T) {
	var b strings.Builder
	require.NoError(t, pipeline.WritePlatforms(&b))
	// s6-overlay's conf/toolchains names but powerpc64 (big-endian: no
	// Debian toolchain) and i486 (refused above).
	for _, name := range []string{"aarch64", "arm", "armhf", "i686", "powerpc64le", "riscv64", "s390x", "x86_64"} {
		ps, err := pipeline.ParsePlatforms(name)
		require.NoError(t, err, name)
		assert.Contains(t, b.String(), ps[0], name)
	}
	assert.Equal(t, "linux_arm_v7", pipeline.PlatformDir("linux/arm/v7"))
	_, err := pipeline.New(nil, pipeline.Request{S6: "2.1.6.0", Platform: "linux/amd64,linux/arm64"})
	assert.ErrorContains(t, err, "one platform per plan")
}
