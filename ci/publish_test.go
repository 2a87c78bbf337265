package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPublishSendsOneImagePerPlatform: publish asks the engine for each
// platform's base, builds each platform's image from its own plan (the
// cross-compiled dist) and publishes them as the platform variants of one
// image.
func TestPublishSendsOneImagePerPlatform(t *testing.T) {
	ctx := context.Background()
	fake.reset()
	s, err := args{s6: "2.15.1.0", static: true, platforms: []string{"linux/amd64", "aarch64"}}.suite()
	require.NoError(t, err)
	_, err = s.Publish(ctx, "registry.example.com/app:s6", serviceTree(false), testBase, "")
	require.NoError(t, err)
	raw := strings.Join(fake.recorded(), "\n")
	assert.Contains(t, raw, `container(platform:"linux/amd64"){from(address:"debian:bookworm-slim")`)
	assert.Contains(t, raw, `container(platform:"linux/arm64"){from(address:"debian:bookworm-slim")`)
	assert.Contains(t, raw, "aarch64-linux-gnu-gcc", "the arm64 dist is cross-compiled")
	last := fake.recorded()[len(fake.recorded())-1]
	assert.Contains(t, last, "publish(")
	assert.Contains(t, last, "platformVariants:")
	assert.Equal(t, 2, strings.Count(last[strings.Index(last, "platformVariants:"):], "fakeid:"), "two variants: %s", last)
}

// TestPublishRefusesBadArgumentsBeforeAnyQuery
func TestPublishRefusesBadArgumentsBeforeAnyQuery(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		address, base string
		platforms     []string
		want          string
	}{
		"no address":   {"", testBase, []string{"linux/amd64"}, "--address: an image name to publish to is required"},
		"no base":      {"r.example/a", "", []string{"linux/amd64"}, "--base: an image reference is required"},
		"bad base":     {"r.example/a", "Bad Base", []string{"linux/amd64"}, `--base "Bad Base": not an image reference`},
		"no platforms": {"r.example/a", testBase, nil, "--platforms: give the platforms of the image"},
		"bad platform": {"r.example/a", testBase, []string{"windows/amd64"}, "windows/amd64"},
	} {
		t.Run(name, func(t *testing.T) {
			fake.reset()
			s, err := args{s6: "2.15.1.0", static: true, platforms: tc.platforms}.suite()
			require.NoError(t, err)
			_, err = s.Publish(ctx, tc.address, serviceTree(false), tc.base, "")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, fake.recorded(), "publish sent queries")
		})
	}
}
