package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/platforms"
	"github.com/spf13/cobra"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/inputerr"
)

func overlayCmd() *cobra.Command {
	var (
		ver, output, addr, progress string
		mirror, catFile, toolchain  string
		platformList                string
		with                        []string
		force                       bool
		epoch                       int64
	)
	cmd := &cobra.Command{
		Use:   "overlay",
		Short: "Make s6-overlay's release tarballs from source, for any platform",
		Long: `Make the tarballs of an s6-overlay release from source, as its Makefile makes
them, reproducibly (sorted entries, owner 0:0, every time --source-date-epoch,
default the release's day), each with its .sha256 in s6-overlay's format, into
--output (replaced atomically):

  s6-overlay-noarch.tar.xz           /init, the scripts, /etc/s6-overlay, /command links
  s6-overlay-symlinks-noarch.tar.xz  /usr/bin links to them
  syslogd-overlay-noarch.tar.xz      the syslogd service
  s6-overlay-<arch>.tar.xz           the programs, for each --platform (x86_64, aarch64...)
  s6-overlay-symlinks-arch.tar.xz    /usr/bin links to the programs

The programs are the packages the release's conf/versions names, built as its
mk/skaware.mk builds them (slashpackage under /package, links in /command,
static), s6-networking's TLS programs against BearSSL. The sources: GitHub's
tag archives for s6-overlay and s6-overlay-helpers, skarnet's tarballs,
Debian's BearSSL; or MIRROR/<package>/<tarball> with --mirror. Nobody
publishes a digest for a GitHub archive, so --catalog pins those.`,
		Example: `  s6builder overlay --s6-overlay 3.2.3.2 --platform linux/amd64,linux/arm64 --catalog digests.json -o ./s6-overlay
  s6builder overlay --s6-overlay 3.2.3.2 --with s6=2.15.0.0 --catalog digests.json -o ./s6-overlay`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output == "" {
				return usageError{fmt.Errorf("give --output DIR, where the tarballs go")}
			}
			if epoch < 0 {
				return usageError{inputerr.New("source-date-epoch", strconv.FormatInt(epoch, 10), "want seconds since 1970")}
			}
			cat, err := catalogWith(catFile)
			if err != nil {
				return err
			}
			targets, err := pipeline.ParsePlatforms(platformList)
			if err != nil {
				return usageError{err}
			}
			req := pipeline.OverlayRequest{Version: ver, Mirror: mirror, SourceDateEpoch: epoch, BuildPlatform: platforms.DefaultString(), With: with}
			if toolchain != "" {
				req.Toolchain = pipeline.Toolchain{Image: toolchain}
			}
			if _, err := pipeline.NewOverlays(cat, req, targets, nil); err != nil {
				return usageError{err} // refused before any work
			}
			if err := bk.CheckOutputs([]bk.Output{{Field: "output", Path: output}}, force); err != nil {
				return usageError{err}
			}
			tcRef := pipeline.DefaultToolchain().Image
			if toolchain != "" {
				tcRef = toolchain
			}
			c, stop, err := connect(cmd, addr, tcRef)
			if err != nil {
				return err
			}
			defer stop()
			native, err := bk.NativePlatform(cmd.Context(), c.Client)
			if err != nil {
				return err
			}
			req.BuildPlatform = native
			plans, err := pipeline.NewOverlays(cat, req, targets, nil)
			if err != nil {
				return usageError{err}
			}
			start := time.Now()
			names, err := bk.Overlay(cmd.Context(), c.Client, plans, bk.OverlayOptions{Dir: output, Force: force, Version: version(), Progress: progress})
			if err != nil {
				return c.explain(err)
			}
			for _, n := range names {
				fmt.Println(n)
			}
			fmt.Fprintf(os.Stderr, "s6builder: s6-overlay %s's tarballs for %s in %s in %.1fs\n", ver, strings.Join(targets, ", "), output, time.Since(start).Seconds())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ver, "s6-overlay", "", "the s6-overlay release, e.g. 3.2.3.2")
	f.StringVarP(&output, "output", "o", "", "directory for the tarballs (replaced atomically)")
	f.StringSliceVar(&with, "with", nil, "another release of a package than the s6-overlay release's conf/versions names, PKG=VERSION (repeatable or comma-separated), e.g. s6=2.15.0.0; checked against each release's package/deps-build")
	f.StringVar(&platformList, "platform", "", "platforms of the arch tarballs, comma-separated, Docker's or s6-overlay's names (default: this machine's)")
	f.StringVar(&mirror, "mirror", os.Getenv("S6BUILDER_MIRROR"), "base URL serving MIRROR/s6-overlay/s6-overlay-<version>.tar.gz (default: GitHub's tag archive); env S6BUILDER_MIRROR")
	f.StringVar(&catFile, "catalog", os.Getenv("S6BUILDER_CATALOG"), "JSON catalogue file with the source tarball's digest; env S6BUILDER_CATALOG")
	f.StringVar(&toolchain, "toolchain", os.Getenv("S6BUILDER_TOOLCHAIN"), "toolchain image (compilers, tar, xz); env S6BUILDER_TOOLCHAIN")
	f.StringVar(&addr, "addr", os.Getenv("BUILDKIT_HOST"), "BuildKit daemon address; env BUILDKIT_HOST")
	f.BoolVar(&force, "force", false, "replace --output even when it is not an s6builder output")
	f.Int64Var(&epoch, "source-date-epoch", envEpoch(), "time of every file in the tarballs, in seconds since 1970 (default: env SOURCE_DATE_EPOCH, else the release's day)")
	progressVar(f, &progress)
	return cmd
}
