// Command seedimage builds the s6builder image: s6builder, buildkitd and
// buildctl, compiled for each platform from this checkout and go.mod's
// BuildKit, over a base image that has runc, with `s6builder seed` (the
// interface of docker-s6builder) as its entrypoint. It is built on a BuildKit
// daemon by the image machinery `s6builder image` uses, one image per
// platform in an index, reproducibly: the same checkout, base and
// SOURCE_DATE_EPOCH give the same digest.
//
//	go run ./tools/seedimage -base REF [-platform linux/amd64,linux/arm64] -o s6builder.oci.tar | -push NAME
//
// The base needs runc (and CA certificates to fetch from skarnet.org):
// scripts/testenv's s6builder/seed-base is Debian's minbase with both.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/platforms"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/pipeline"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "seedimage:", err)
		os.Exit(1)
	}
}

// prefix is where the programs go in the image.
const prefix = "/usr/local"

// options are the command's flags.
type options struct {
	base, platforms, output, push, addr, progress string
	epoch                                         int64
}

func run(ctx context.Context) error {
	var o options
	flag.StringVar(&o.base, "base", os.Getenv("S6BUILDER_SEED_BASE"), "base image with runc, for every platform; env S6BUILDER_SEED_BASE")
	flag.StringVar(&o.platforms, "platform", platforms.DefaultString(), "platforms, comma-separated")
	flag.StringVar(&o.output, "o", "", "OCI archive to write")
	flag.StringVar(&o.push, "push", "", "image name to push to")
	flag.StringVar(&o.addr, "addr", os.Getenv("BUILDKIT_HOST"), "BuildKit daemon; env BUILDKIT_HOST")
	flag.Int64Var(&o.epoch, "source-date-epoch", 0, "time of every file (default: the commit time of HEAD)")
	flag.StringVar(&o.progress, "progress", "auto", "progress display")
	flag.Parse()
	if o.base == "" || (o.output == "" && o.push == "") || o.addr == "" {
		flag.Usage()
		return errors.New("give -base, -o or -push, and -addr (or BUILDKIT_HOST)")
	}
	return build(ctx, o)
}

// build compiles the programs for each platform and builds the image.
func build(ctx context.Context, o options) error {
	list, err := pipeline.ParsePlatforms(o.platforms)
	if err != nil {
		return err
	}
	if o.epoch == 0 {
		out, err := exec.Command("git", "log", "-1", "--format=%ct").Output()
		if err != nil {
			return fmt.Errorf("the commit time of HEAD (or give -source-date-epoch): %w", err)
		}
		if o.epoch, err = strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "s6builder-seedimage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	gc, err := newCompiler(ctx)
	if err != nil {
		return err
	}
	var dists []bk.PlatformDir
	for _, p := range list {
		dir := filepath.Join(tmp, pipeline.PlatformDir(p))
		if err := gc.compile(ctx, p, filepath.Join(dir, prefix, "bin")); err != nil {
			return err
		}
		dists = append(dists, bk.PlatformDir{Platform: p, Dir: dir})
	}
	c, err := bk.Connect(ctx, o.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	spec := pipeline.ImageSpec{
		Base:       o.base,
		Prefix:     prefix,
		Entrypoint: []string{prefix + "/bin/s6builder", "seed"},
		WorkingDir: "/data",
		Env:        []string{"PATH=" + prefix + "/sbin:" + prefix + "/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		StopSignal: "SIGTERM",
		Labels: map[string]string{
			"org.opencontainers.image.title":       "s6builder",
			"org.opencontainers.image.description": "builds the s6 supervision suite from source on BuildKit; docker-s6builder's interface",
		},
	}
	_, err = bk.BuildImage(ctx, c, bk.ImageInput{Spec: spec, DistDirs: dists},
		bk.ImageOptions{OCIArchive: o.output, Push: o.push, InsecurePush: strings.HasPrefix(o.push, "127.0.0.1:") || strings.HasPrefix(o.push, "localhost:"),
			Progress: o.progress, SourceDateEpoch: o.epoch})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "seedimage: s6builder image for %s (SOURCE_DATE_EPOCH=%d)\n", strings.Join(list, ", "), o.epoch)
	return nil
}

// compiler builds this checkout's programs: the module's root and the
// BuildKit version go.mod pins, read once for every platform.
type compiler struct{ root, buildkit string }

func newCompiler(ctx context.Context) (compiler, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{if .Main}}{{.Dir}}{{else}}{{.Version}}{{end}}",
		"github.com/s6builder/s6builder", "github.com/moby/buildkit").Output()
	if err != nil {
		return compiler{}, fmt.Errorf("go list -m: %w", err)
	}
	f := strings.Fields(string(out)) // the main module's folder, then BuildKit's version
	if len(f) != 2 {
		return compiler{}, fmt.Errorf("go list -m: want the module's folder and BuildKit's version, got %q", out)
	}
	return compiler{root: f[0], buildkit: f[1]}, nil
}

// compile builds s6builder, buildkitd and buildctl for platform p into
// dir: static (no cgo), without paths of this machine or a build id, so
// the same checkout gives the same bytes.
func (c compiler) compile(ctx context.Context, p, dir string) error {
	spec, err := platforms.Parse(p)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", dir+"/",
		"-ldflags", "-s -w -buildid= -X github.com/moby/buildkit/version.Version="+c.buildkit,
		"./cmd/s6builder", "github.com/moby/buildkit/cmd/buildkitd", "github.com/moby/buildkit/cmd/buildctl")
	cmd.Dir = c.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+spec.OS, "GOARCH="+spec.Architecture)
	if spec.Architecture == "arm" {
		goarm := "7"
		if spec.Variant != "" {
			goarm = strings.TrimPrefix(spec.Variant, "v")
		}
		cmd.Env = append(cmd.Env, "GOARM="+goarm)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build for %s: %w", p, err)
	}
	return nil
}
