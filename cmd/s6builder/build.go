package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/spf13/cobra"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
)

func buildCmd() *cobra.Command {
	var (
		rf                    requestFlags
		output, sources, addr string
		progress              string
		pin                   bool
	)
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build skalibs, execline and s6 and export the dist tree",
		Long: `Build skalibs, execline and s6 on a BuildKit daemon and export the installed
tree (bin, sbin, libexec, lib, include) to --output. The export is atomic: on
failure an existing output directory is left as it was.

The daemon is BUILDKIT_HOST or --addr; with neither, s6builder starts a private
buildkitd for the run when buildkitd and runc are on PATH.`,
		Example: `  s6builder build --s6 2.1.6.0 --output ./s6dist
  s6builder build --s6 2.15.1.0 --mirror http://127.0.0.1:8055 --catalog digests.json --output ./s6dist
  BUILDKIT_HOST=tcp://buildkit.example:1234 s6builder build --s6 2.1.6.0 --platform linux/arm64 --output ./dist-arm64`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch progress {
			case "auto", "tty", "plain", "quiet", "rawjson":
			default:
				return usageError{fmt.Errorf("--progress %q: want auto, tty, plain, quiet or rawjson", progress)}
			}
			if output == "" && sources == "" {
				return usageError{fmt.Errorf("nothing to export: give --output DIR and/or --sources DIR")}
			}
			cat, req, err := rf.load()
			if err != nil {
				return err
			}
			var unpinned []catalog.Release
			if pin {
				if rf.lock == "" {
					return usageError{fmt.Errorf("--pin needs --lock FILE, where the pinned digests are recorded")}
				}
				if unpinned, err = pipeline.Unpinned(cat, req); err != nil {
					return usageError{err}
				}
			} else if _, err := pipeline.New(cat, req); err != nil {
				return usageError{err} // refused before any work
			}
			ctx := cmd.Context()
			c, stop, err := connect(cmd, addr, rf.toolchainRef())
			if err != nil {
				return err
			}
			defer stop()
			if len(unpinned) > 0 {
				if err := pinInto(ctx, c, cat, req, rf.lock, unpinned); err != nil {
					return err
				}
			}
			p, err := pipeline.New(cat, req)
			if err != nil {
				return usageError{err}
			}
			start := time.Now()
			rep, err := bk.Build(ctx, c, p, bk.Options{Dist: output, Sources: sources, Progress: progress})
			if err != nil {
				return err
			}
			executed, cached := rep.Counts()
			r := p.Request
			fmt.Fprintf(os.Stderr, "s6builder: s6 %s, execline %s, skalibs %s for %s in %.1fs: %d steps executed, %d cached\n",
				r.S6, r.Execline, r.Skalibs, r.Platform, time.Since(start).Seconds(), executed, cached)
			if output != "" {
				fmt.Fprintf(os.Stderr, "s6builder: dist tree in %s\n", output)
			}
			if sources != "" {
				fmt.Fprintf(os.Stderr, "s6builder: unpacked sources in %s\n", sources)
			}
			return nil
		},
	}
	rf.register(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "", "directory to export the dist tree to (replaced atomically)")
	cmd.Flags().StringVar(&sources, "sources", "", "also export the unpacked sources (<pkg>-<version>/ each) to this directory")
	cmd.Flags().StringVar(&addr, "addr", os.Getenv("BUILDKIT_HOST"), "BuildKit daemon address, e.g. unix:///run/buildkit/buildkitd.sock or tcp://host:1234; env BUILDKIT_HOST")
	cmd.Flags().BoolVar(&pin, "pin", false, "fetch releases that have no known digest, record their sha256 in --lock and build them (trust on first use)")
	cmd.Flags().StringVar(&progress, "progress", "auto", "progress display: auto, tty, plain, quiet or rawjson")
	return cmd
}

// pinInto fetches each unpinned release through the daemon, records its
// digest in the lock file and applies it to the catalogue.
func pinInto(ctx context.Context, c *client.Client, cat *catalog.Catalog, req pipeline.Request, lockPath string, rels []catalog.Release) error {
	norm, err := req.Normalize()
	if err != nil {
		return usageError{err}
	}
	lock, err := catalog.ReadLock(lockPath)
	if err != nil {
		return err
	}
	var pins []catalog.FileRelease
	for _, r := range rels {
		d, err := bk.Pin(ctx, c, pipeline.TarballURL(norm.Mirror, r), r.Tarball)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "s6builder: pinned %s at %s in %s\n", r.Tarball, d, lockPath)
		pins = append(pins, catalog.FileRelease{Package: r.Package, Version: r.Version.String(), Tarball: r.Tarball, Digest: d})
	}
	if err := catalog.WriteLock(lockPath, lock, pins); err != nil {
		return fmt.Errorf("lock %s: %w", lockPath, err)
	}
	return cat.ApplyLock(catalog.File{Releases: pins}, lockPath)
}

// connect dials BUILDKIT_HOST/--addr, or starts a private daemon that may
// pull the given images from loopback registries over plain HTTP.
func connect(cmd *cobra.Command, addr string, images ...string) (*client.Client, func(), error) {
	ctx := cmd.Context()
	stop := func() {}
	if addr == "" {
		var regs []string
		for _, ref := range images {
			if r := loopbackRegistry(ref); r != "" {
				regs = append(regs, r)
			}
		}
		d, err := bk.StartPrivate(ctx, bk.PrivateOptions{HTTPRegistries: regs})
		if err != nil {
			return nil, nil, err
		}
		stop, addr = d.Stop, d.Addr
	}
	c, err := bk.Connect(ctx, addr)
	if err != nil {
		stop()
		return nil, nil, err
	}
	return c, func() { c.Close(); stop() }, nil
}
