package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/moby/buildkit/client"
	buildctl "github.com/moby/buildkit/cmd/buildctl/build"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
	"github.com/s6builder/s6builder/pipeline/inputerr"
)

// buildArgs are build's flags besides the request's.
type buildArgs struct {
	output, sources, addr string
	progress              string
	pin, force            bool
	cache                 bk.Cache
	nodes                 []string
}

func buildCmd() *cobra.Command {
	var (
		rf requestFlags
		a  buildArgs
	)
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build skalibs, execline and s6 and export the dist tree",
		Long: `Build skalibs, execline and s6 on a BuildKit daemon and export the installed
tree (bin, sbin, libexec, lib, include) to --output. The export is atomic: on
failure an existing output directory is left as it was.

--s6 A,B,C builds several s6 releases in one go, each into OUTPUT/s6-<version>;
stages they share (a common skalibs) run once.

The daemon is BUILDKIT_HOST or --addr; with neither, s6builder starts a private
buildkitd for the run when buildkitd and runc are on PATH.`,
		Example: `  s6builder build --s6 2.1.6.0 --output ./s6dist
  s6builder build --s6 2.15.1.0 --mirror http://127.0.0.1:8055 --catalog digests.json --output ./s6dist
  BUILDKIT_HOST=tcp://buildkit.example:1234 s6builder build --s6 2.1.6.0 --platform linux/arm64 --output ./dist-arm64`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return build(cmd, &rf, a) },
	}
	rf.register(cmd.Flags())
	a.register(cmd.Flags())
	return cmd
}

func (a *buildArgs) register(fs *pflag.FlagSet) {
	fs.StringVarP(&a.output, "output", "o", "", "directory to export the dist tree to (replaced atomically)")
	fs.StringVar(&a.sources, "sources", "", "also export the unpacked sources (<pkg>-<version>/ each) to this directory")
	fs.StringVar(&a.addr, "addr", os.Getenv("BUILDKIT_HOST"), "BuildKit daemon address, e.g. unix:///run/buildkit/buildkitd.sock or tcp://host:1234; env BUILDKIT_HOST")
	fs.BoolVar(&a.force, "force", false, "replace --output and --sources even when they hold something that is not an s6builder output")
	fs.BoolVar(&a.pin, "pin", false, "fetch releases that have no known digest, record their sha256 in --lock and build them (trust on first use)")
	progressVar(fs, &a.progress)
	cacheVars(fs, &a.cache)
	nodeVar(fs, &a.nodes)
}

// build builds the request of rf and exports what a asks for.
func build(cmd *cobra.Command, rf *requestFlags, a buildArgs) error {
	output, sources, addr, progress, pin, force, cache := a.output, a.sources, a.addr, a.progress, a.pin, a.force, a.cache
	if output == "" && sources == "" {
		return usageError{fmt.Errorf("nothing to export: give --output DIR and/or --sources DIR")}
	}
	cat, req, err := rf.load()
	if err != nil {
		return err
	}
	// --s6 A,B,C and --platform P,Q build a matrix in one go:
	// shared stages (a common skalibs, every fetch) run once.
	reqs, err := pipeline.Matrix(req)
	if err != nil {
		return usageError{err}
	}
	var unpinned []catalog.Release
	for _, r := range reqs {
		if pin {
			if rf.lock == "" {
				return usageError{fmt.Errorf("--pin needs --lock FILE, where the pinned digests are recorded")}
			}
			u, err := pipeline.Unpinned(cat, r)
			if err != nil {
				return usageError{err}
			}
			unpinned = appendNew(unpinned, u...)
		} else if _, err := pipeline.New(cat, r); err != nil {
			return usageError{err} // refused before any work
		}
	}
	var outs []bk.Output
	for _, r := range reqs {
		o := bk.Options{Dist: matrixDir(output, req, r), Sources: matrixDir(sources, req, r)}
		if o.Dist != "" {
			outs = append(outs, bk.Output{Field: "output", Path: o.Dist})
		}
		if o.Sources != "" {
			outs = append(outs, bk.Output{Field: "sources", Path: o.Sources})
		}
	}
	if err := bk.CheckOutputs(outs, force); err != nil {
		return usageError{err} // refused before any work
	}
	if err := checkNodes(addr, a.nodes); err != nil {
		return usageError{err}
	}
	ctx := cmd.Context()
	c, stop, err := connect(cmd, addr, rf.toolchainRefs()...)
	if err != nil {
		return err
	}
	defer stop()
	n, stopNodes, err := connectNodes(cmd, c, a.nodes)
	if err != nil {
		return err
	}
	defer stopNodes()
	if len(unpinned) > 0 {
		if err := pinInto(ctx, c.Client, cat, req, rf.lock, unpinned); err != nil {
			return c.explain(err)
		}
	}
	plans, on, err := plansOnNodes(n, cat, reqs)
	if err != nil {
		return err
	}
	opts := make([]bk.Options, len(reqs))
	for i, r := range reqs {
		// One output folder per s6 release and per platform.
		opts[i] = bk.Options{Dist: matrixDir(output, req, r), Sources: matrixDir(sources, req, r), Force: force, Cache: cache}
	}
	start := time.Now()
	reps, err := bk.BuildOn(ctx, n.clients(), on, plans, opts, progress, nil)
	if err != nil {
		return n.explain(err)
	}
	warnCacheImports(reps...)
	for i, p := range plans {
		executed, cached := reps[i].Counts()
		r := p.Request
		fmt.Fprintf(os.Stderr, "s6builder: s6 %s, execline %s, skalibs %s for %s in %.1fs: %d steps executed, %d cached\n",
			r.S6, r.Execline, r.Skalibs, r.Platform, time.Since(start).Seconds(), executed, cached)
		if reps[i].Verified > 0 {
			linkage := "static"
			if r.Dynamic {
				linkage = "dynamically linked"
			}
			target, _ := pipeline.ELFTargetOf(r.Platform)
			fmt.Fprintf(os.Stderr, "s6builder: checked %d programs: %s %s\n", reps[i].Verified, linkage, target)
		}
		if opts[i].Dist != "" {
			fmt.Fprintf(os.Stderr, "s6builder: dist tree in %s\n", opts[i].Dist)
		}
		if opts[i].Sources != "" {
			fmt.Fprintf(os.Stderr, "s6builder: unpacked sources in %s\n", opts[i].Sources)
		}
	}
	return nil
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
func connect(cmd *cobra.Command, addr string, images ...string) (*daemon, func(), error) {
	ctx := cmd.Context()
	if err := checkAddr(addr); err != nil {
		return nil, nil, usageError{err}
	}
	stop := func() {}
	if addr == "" {
		var regs []string
		for _, ref := range images {
			if r := loopbackRegistry(ref); r != "" {
				regs = append(regs, r)
			}
		}
		d, err := bk.StartPrivate(ctx, bk.PrivateOptions{HTTPRegistries: regs, Waiting: func(pid string) {
			fmt.Fprintf(os.Stderr, "s6builder: waiting for another s6builder run (pid %s) to finish with the private daemon's cache\n", pid)
		}})
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
	return &daemon{c, addr}, func() { c.Close(); stop() }, nil
}

// daemon is a connected BuildKit client and the address it dialled.
type daemon struct {
	*client.Client
	addr string
}

// explain names the daemon in an error that it went away.
func (d *daemon) explain(err error) error {
	var gone *bk.DaemonGoneError
	if errors.As(err, &gone) {
		gone.Addr = d.addr
	}
	return err
}

// plansOnDaemon plans reqs for one daemon, its build platform the
// daemon's own (plansOnNodes with one node).
func plansOnDaemon(ctx context.Context, d *daemon, cat *catalog.Catalog, reqs []pipeline.Request) ([]*pipeline.Plan, error) {
	native, err := bk.NativePlatform(ctx, d.Client)
	if err != nil {
		return nil, err
	}
	plans, _, err := plansOnNodes(&nodes{daemons: []*daemon{d}, native: []string{native}}, cat, reqs)
	return plans, err
}

// matrixDir is where one request of a matrix exports: dir/s6-<version>
// when --s6 is a list, then /<os>_<arch>[_<variant>] when --platform is
// one (BuildKit's multi-platform layout); "" stays "".
func matrixDir(dir string, whole, one pipeline.Request) string {
	if dir == "" {
		return ""
	}
	if strings.Contains(whole.S6, ",") {
		dir = filepath.Join(dir, "s6-"+one.S6)
	}
	if strings.Contains(whole.Platform, ",") {
		dir = filepath.Join(dir, pipeline.PlatformDir(one.Platform))
	}
	return dir
}

// appendNew appends the releases not in rs yet.
func appendNew(rs []catalog.Release, more ...catalog.Release) []catalog.Release {
	for _, m := range more {
		if !slices.ContainsFunc(rs, func(r catalog.Release) bool { return r.Name() == m.Name() }) {
			rs = append(rs, m)
		}
	}
	return rs
}

// daemonSchemes are the address schemes BuildKit's client dials.
var daemonSchemes = []string{"unix", "tcp", "docker-container", "podman-container", "nerdctl-container", "kube-pod", "ssh", "npipe"}

// checkAddr refuses a daemon address BuildKit cannot dial, before any work.
func checkAddr(addr string) error {
	if addr == "" {
		return nil // a private daemon
	}
	u, err := url.Parse(addr)
	if err != nil || !slices.Contains(daemonSchemes, u.Scheme) {
		return inputerr.New("addr", addr, "want a BuildKit address: %s://...", strings.Join(daemonSchemes, "://, "))
	}
	return nil
}

// progressModes are BuildKit's progress displays (progressui).
var progressModes = []string{"auto", "tty", "plain", "quiet", "rawjson"}

// progressValue is --progress, checked when the flags are parsed, the same
// way on every command.
type progressValue struct{ mode *string }

func (v progressValue) String() string { return *v.mode }
func (v progressValue) Type() string   { return "mode" }
func (v progressValue) Set(s string) error {
	if !slices.Contains(progressModes, s) {
		return fmt.Errorf("want %s", strings.Join(progressModes, ", "))
	}
	*v.mode = s
	return nil
}

// progressVar registers --progress (default auto) into mode.
func progressVar(fs *pflag.FlagSet, mode *string) {
	*mode = "auto"
	fs.Var(progressValue{mode}, "progress", "progress display: "+strings.Join(progressModes, ", "))
}

// cacheValue is --cache-to or --cache-from: BuildKit's cache syntax,
// parsed as buildctl parses it (and refused, when malformed, as the flags
// are read: before any work).
type cacheValue struct {
	entries *[]client.CacheOptionsEntry
	given   []string
	parse   func([]string) ([]client.CacheOptionsEntry, error)
	export  bool // --cache-to
}

func (v *cacheValue) String() string { return strings.Join(v.given, " ") }
func (v *cacheValue) Type() string   { return "spec" }
func (v *cacheValue) Set(s string) error {
	if !strings.Contains(s, "type=") {
		return fmt.Errorf("want BuildKit's syntax: type=registry,ref=NAME[,mode=max] or type=local,dest=DIR (src=DIR to import)")
	}
	e, err := v.parse([]string{s})
	if err != nil {
		return err
	}
	for _, entry := range e {
		if err := bk.CheckCache(entry, v.export); err != nil {
			return err
		}
	}
	*v.entries = append(*v.entries, e...)
	v.given = append(v.given, s)
	return nil
}

// warnCacheImports says, after the run, which --cache-from caches the
// daemon could not import: BuildKit reports it in the progress stream only
// and builds without them.
func warnCacheImports(reps ...*bk.Report) {
	seen := map[string]bool{}
	for _, r := range reps {
		if r == nil {
			continue
		}
		for _, e := range r.CacheImportErrors() {
			if !seen[e] {
				seen[e] = true
				fmt.Fprintf(os.Stderr, "s6builder: warning: --cache-from %s (built without that cache)\n", e)
			}
		}
	}
}

// cacheVars registers --cache-to and --cache-from into c.
func cacheVars(fs *pflag.FlagSet, c *bk.Cache) {
	fs.Var(&cacheValue{entries: &c.Exports, parse: buildctl.ParseExportCache, export: true}, "cache-to",
		"export the build cache for other machines, in BuildKit's syntax, e.g. type=registry,ref=REGISTRY/s6builder-cache,mode=max or type=local,dest=DIR (repeatable)")
	fs.Var(&cacheValue{entries: &c.Imports, parse: buildctl.ParseImportCache}, "cache-from",
		"use a build cache exported by --cache-to, e.g. type=registry,ref=REGISTRY/s6builder-cache or type=local,src=DIR (repeatable)")
}
