package main

import (
	"context"
	"fmt"

	"dagger/s-6-builder/internal/dagger"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/inputerr"
)

// publish builds image for each platform, each over the base reference's
// image for that platform with that platform's dist (cross-compiled), and
// publishes them as one multi-platform image (platform variants: an OCI
// index), as `s6builder image --platform a,b --push` does.
func (r request) publish(ctx context.Context, address string, base string, a imageArgs) (string, error) {
	if address == "" {
		return "", inputerr.New("address", "", "an image name to publish to is required, e.g. registry.example.com/app:s6")
	}
	if base == "" {
		return "", inputerr.New("base", "", "an image reference is required, one that offers every platform, e.g. {arg:base} debian:bookworm-slim")
	}
	if _, err := pipeline.NewImage(pipeline.ImageRequest{Base: base, Prefix: r.prefix, ServicesDir: a.servicesDir}); err != nil {
		return "", err
	}
	if len(r.platforms) == 0 {
		return "", inputerr.New("platforms", "", "give the platforms of the image to the suite, e.g. {arg:platforms} linux/amd64,linux/arm64")
	}
	plats, err := r.platformList()
	if err != nil {
		return "", err
	}
	variants := make([]*dagger.Container, len(plats))
	for i, p := range plats {
		one := r
		one.platform, one.platforms = dagger.Platform(p), nil
		pa := a
		pa.base = dag.Container(dagger.ContainerOpts{Platform: dagger.Platform(p)}).From(base)
		if variants[i], err = one.image(ctx, pa); err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
	}
	return dag.Container().Publish(ctx, address, dagger.ContainerPublishOpts{PlatformVariants: variants})
}
