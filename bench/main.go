// Command bench measures s6builder against its peers on one BuildKit daemon:
// cold, warm, an s6-only bump, a matrix of s6 releases sharing one skalibs,
// a hand-written multi-stage Dockerfile (bench/Dockerfile.tmpl), the seed's
// way (one container that configures and makes every package, one after the
// other, every time) and the bare compilers on the host, scheduled as an
// ideal scheduler would (peers.go). It prints medians of N runs and the
// ratios, as a Markdown table. A request "V+all" is s6 V with the whole
// family (--with all).
//
//	scripts/testenv up && eval "$(scripts/testenv env)" && go run ./bench -n 3
//
// Sources: S6BUILDER_REAL_SOURCES (upstream tarballs) when set, else the
// test fixtures; the table says which. Cold means cold: the daemon's cache is
// pruned before each cold run (the toolchain image is pulled again first, so
// every peer starts with it present).
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/internal/fixtures"
	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
)

type bench struct {
	ctx       context.Context
	c         *client.Client
	cat       *catalog.Catalog
	mirror    *fixtures.Mirror
	toolchain string
	sources   string
	real      bool // real upstream sources, not fixtures
	n         int
	prune     bool
}

// newBench connects to the test environment's daemon and serves the
// sources: S6BUILDER_REAL_SOURCES's tarballs, or the test fixtures.
func newBench(n int, prune bool) (*bench, error) {
	addr, tc := os.Getenv("BUILDKIT_HOST"), os.Getenv("S6BUILDER_TOOLCHAIN")
	if addr == "" || tc == "" {
		return nil, fmt.Errorf("needs BUILDKIT_HOST and S6BUILDER_TOOLCHAIN: scripts/testenv up && eval \"$(scripts/testenv env)\"")
	}
	ctx := context.Background()
	c, err := bk.Connect(ctx, addr)
	if err != nil {
		return nil, err
	}
	b := &bench{ctx: ctx, c: c, toolchain: tc, n: n, prune: prune, mirror: fixtures.NewMirror()}
	if dir := os.Getenv("S6BUILDER_REAL_SOURCES"); dir != "" {
		b.sources, b.real = "real upstream sources ("+dir+")", true
		if _, err := b.mirror.AddDir(dir); err != nil {
			b.close()
			return nil, err
		}
	} else {
		b.sources = "test fixtures (S6BUILDER_REAL_SOURCES unset)"
		for pkg, vers := range map[string][]string{"skalibs": {"2.3.5.1"}, "execline": {"2.1.2.2"}, "s6": {"2.1.4.0", "2.1.5.0", "2.1.6.0"}} {
			for _, v := range vers {
				if _, err := b.mirror.AddFixture(pkg, v, ""); err != nil {
					b.close()
					return nil, err
				}
			}
		}
	}
	if b.cat, err = pipeline.LoadCatalog(pipeline.Layer{Source: "bench mirror", File: b.mirror.Catalog()}); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *bench) close() {
	b.mirror.Close()
	b.c.Close()
}

func main() {
	n := flag.Int("n", 3, "runs per measurement (the median is shown)")
	s6list := flag.String("s6", "2.1.6.0,2.15.1.0,2.15.1.0+all", "s6 releases to measure, comma-separated; V+all: with the whole family")
	prune := flag.Bool("prune", true, "prune the daemon's cache before each cold run")
	cross := flag.Bool("cross", false, "measure cross-compilation instead: native, cross and emulated builds of the newest s6, and each target's dist size")
	overlay := flag.String("overlay", "", "measure s6builder overlay of this s6-overlay release against its own Makefile instead")
	boot := flag.Bool("boot", false, "measure the boot and stop times of the three kinds of image instead (-n runs each, 20 by default)")
	nodes := flag.String("nodes", "", "measure a release of these platforms (comma-separated) of the newest family on one daemon and spread over two instead (the second a private buildkitd on this machine)")
	flag.Parse()
	run := run
	if *cross {
		run = runCross
	}
	if *boot {
		if !isSet("n") {
			*n = 20
		}
		run = func(n int, _ []string, prune bool) error { return runBoot(n, prune) }
	}
	if *nodes != "" {
		run = func(n int, _ []string, prune bool) error { return runNodes(n, strings.Split(*nodes, ","), prune) }
	}
	if *overlay != "" {
		run = func(n int, _ []string, prune bool) error { return runOverlay(n, *overlay, prune) }
	}
	if err := run(*n, strings.Split(*s6list, ","), *prune); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// isSet reports whether the flag name was given.
func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func run(n int, s6s []string, prune bool) error {
	b, err := newBench(n, prune)
	if err != nil {
		return err
	}
	defer b.close()
	ctx, c, tc := b.ctx, b.c, b.toolchain
	if !b.real {
		s6s = []string{"2.1.6.0"}
	}

	workers, err := c.ListWorkers(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("# s6builder benchmarks\n\n- sources: %s\n- runs: median of %d\n- machine: %d CPUs (%s/%s), BuildKit worker %s, toolchain %s\n- cache pruned before cold runs: %v\n\n",
		b.sources, n, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, workers[0].ID, tc, prune)
	fmt.Println("| request | s6builder cold | warm | s6-only bump | s6 compile alone | Dockerfile cold | seed's way | host | dist size | runtime part |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	var notes []string
	for _, s6 := range s6s {
		r, err := b.measure(s6)
		if err != nil {
			return fmt.Errorf("s6 %s: %w", s6, err)
		}
		bump, alone, bumpRatio := "-", "-", "-"
		if r.bumpFrom != "" {
			bump, alone = fmt.Sprintf("%s (from %s)", sec(r.bump), r.bumpFrom), sec(r.s6Alone)
			bumpRatio = fmt.Sprintf("%.2fx", ratio(r.bump, r.s6Alone))
		}
		fmt.Printf("| s6 %s (skalibs %s, execline %s) | %s | %s | %s | %s | %s | %s | %s | %.1f MB | %.1f MB |\n",
			s6, r.skalibs, r.execline, sec(r.cold), sec(r.warm), bump, alone,
			sec(r.dockerfile), sec(r.seed), sec(r.host), float64(r.distSize)/1e6, float64(r.runtimeSize)/1e6)
		notes = append(notes, fmt.Sprintf("s6 %s: warm/cold %.1f%% (target <= 3%%), bump/s6-compile-alone %s (<= 1.15x), "+
			"cold/Dockerfile %.2fx (<= 0.90x), cold/host %.2fx (<= 1.05x), runtime part (bin, sbin, libexec) %.1f MB (the whole dist, with static libraries and headers, %.1f MB)",
			s6, 100*ratio(r.warm, r.cold), bumpRatio, ratio(r.cold, r.dockerfile), ratio(r.cold, r.host),
			float64(r.runtimeSize)/1e6, float64(r.distSize)/1e6))
	}
	fmt.Println()
	for _, s := range notes {
		fmt.Println("- " + s)
	}
	mx, err := b.matrix()
	if err != nil {
		return fmt.Errorf("matrix: %w", err)
	}
	fmt.Printf("- matrix: %s\n", mx)
	return nil
}

type result struct {
	skalibs, execline, bumpFrom                       string
	cold, warm, bump, s6Alone, dockerfile, seed, host time.Duration
	distSize, runtimeSize                             int64
}

// plan plans s6 (V, or V+all for the whole family).
func (b *bench) plan(s6, skalibs, execline string) (*pipeline.Plan, error) {
	var with []string
	if v, ok := strings.CutSuffix(s6, "+all"); ok {
		s6, with = v, []string{"all"}
	}
	return pipeline.New(b.cat, pipeline.Request{S6: s6, Skalibs: skalibs, Execline: execline, With: with,
		Mirror: b.mirror.URL, Toolchain: pipeline.Toolchain{Image: b.toolchain}})
}

// measure runs every measurement for one s6 release, n times each.
func (b *bench) measure(s6 string) (result, error) {
	p, err := b.plan(s6, "", "")
	if err != nil {
		return result{}, err
	}
	r := result{skalibs: p.Request.Skalibs, execline: p.Request.Execline}
	// The family's members need the newest s6: no s6-only bump for it.
	var prev *pipeline.Plan
	if len(p.Request.With) == 0 {
		if prev, err = b.bumpFrom(p); err != nil {
			return r, err
		}
		r.bumpFrom = prev.Request.S6
	}
	var cold, warm, bump, alone, dockerfile, seed, host []time.Duration
	ours := func() error {
		if err := b.coldStart(); err != nil {
			return err
		}
		dist, err := os.MkdirTemp("", "bench-dist-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dist)
		t, _, err := b.build(p, filepath.Join(dist, "d"))
		if err != nil {
			return err
		}
		cold = append(cold, t)
		r.distSize = dirSize(filepath.Join(dist, "d"))
		r.runtimeSize = 0
		for _, sub := range []string{"bin", "sbin", "libexec"} { // what an image needs: no static libs, no headers
			r.runtimeSize += dirSize(filepath.Join(dist, "d", sub))
		}
		if t, _, err = b.build(p, filepath.Join(dist, "d")); err != nil {
			return err
		}
		warm = append(warm, t)
		if prev == nil {
			return nil
		}

		// Bump: the previous s6 built, then this one (same skalibs and execline).
		if err := b.coldStart(); err != nil {
			return err
		}
		if _, _, err := b.build(prev, ""); err != nil {
			return err
		}
		t, rep, err := b.build(p, "")
		if err != nil {
			return err
		}
		bump = append(bump, t)
		// The floor is the compile this bump waited for: another run's
		// compile would add this VM's run-to-run spread (10-15 %).
		alone = append(alone, rep.StageTimes()["build/s6"])
		return nil
	}
	peers := func() error {
		if err := b.coldStart(); err != nil {
			return err
		}
		t, err := b.dockerfile(p)
		if err != nil {
			return fmt.Errorf("Dockerfile peer: %w", err)
		}
		dockerfile = append(dockerfile, t)
		if t, err = b.seedWay(p); err != nil {
			return fmt.Errorf("seed's way: %w", err)
		}
		seed = append(seed, t)
		if t, err = b.host(p); err != nil {
			return fmt.Errorf("host: %w", err)
		}
		host = append(host, t)
		return nil
	}
	for i := 0; i < b.n; i++ {
		// Alternate who goes first: this VM drifts within a run, and a
		// fixed order hands the drift to one side.
		first, second := ours, peers
		if i%2 == 1 {
			first, second = peers, ours
		}
		if err := first(); err != nil {
			return r, err
		}
		if err := second(); err != nil {
			return r, err
		}
	}
	r.cold, r.warm, r.bump, r.s6Alone = median(cold), median(warm), median(bump), median(alone)
	r.dockerfile, r.seed, r.host = median(dockerfile), median(seed), median(host)
	return r, nil
}

// bumpFrom is the s6 release before p's that builds with p's skalibs and
// execline (the catalogue's compatibility rule), for an s6-only change.
func (b *bench) bumpFrom(p *pipeline.Plan) (*pipeline.Plan, error) {
	rels := b.cat.Releases(catalog.S6)
	s6, _ := p.Selection.Release(catalog.S6)
	for i := len(rels) - 1; i >= 0; i-- {
		r := rels[i]
		if !r.Version.Less(s6.Version) || r.Digest == "" {
			continue
		}
		if q, err := b.plan(r.Version.String(), p.Request.Skalibs, p.Request.Execline); err == nil {
			return q, nil
		}
	}
	return nil, fmt.Errorf("no earlier s6 release builds with skalibs %s and execline %s", p.Request.Skalibs, p.Request.Execline)
}

func (b *bench) build(p *pipeline.Plan, out string) (time.Duration, *bk.Report, error) {
	start := time.Now()
	rep, err := bk.Build(b.ctx, b.c, p, bk.Options{Dist: out, Progress: "quiet"})
	return time.Since(start), rep, err
}

// coldStart empties the daemon's cache, then pulls the toolchain again so
// that no peer pays for the pull.
func (b *bench) coldStart() error { return b.coldStartOn(b.c) }

// coldStartOn is coldStart on daemon c.
func (b *bench) coldStartOn(c *client.Client) error {
	if b.prune {
		ch := make(chan client.UsageInfo)
		done := make(chan struct{})
		go func() {
			for range ch {
			}
			close(done)
		}()
		err := c.Prune(b.ctx, ch, client.PruneAll)
		close(ch)
		<-done
		if err != nil {
			return err
		}
	}
	return b.pullOn(c, b.toolchain, "")
}

// pull has the daemon pull ref for platform ("" = its own) and run a
// program of it, so that no measurement pays for the pull.
func (b *bench) pull(ref, platform string) error { return b.pullOn(b.c, ref, platform) }

// pullOn is pull on daemon c.
func (b *bench) pullOn(c *client.Client, ref, platform string) error {
	var opts []llb.ConstraintsOpt
	if platform != "" {
		spec, err := platforms.Parse(platform)
		if err != nil {
			return err
		}
		opts = append(opts, llb.Platform(spec))
	}
	def, err := llb.Image(ref).Run(llb.Args([]string{"true"}), llb.IgnoreCache).Root().Marshal(b.ctx, opts...)
	if err != nil {
		return err
	}
	_, err = c.Solve(b.ctx, def, client.SolveOpt{}, nil)
	return err
}

// matrix builds three s6 releases that share one skalibs in one go
// (concurrent solves on one daemon) and counts how often each package's
// build steps really ran.
func (b *bench) matrix() (string, error) {
	vers := []string{"2.1.4.0", "2.1.5.0", "2.1.6.0"}
	var plans []*pipeline.Plan
	for _, v := range vers {
		p, err := b.plan(v, "", "")
		if err != nil {
			return "", err
		}
		plans = append(plans, p)
	}
	if err := b.coldStart(); err != nil {
		return "", err
	}
	start := time.Now()
	reps, err := bk.BuildMany(b.ctx, b.c, plans, make([]bk.Options, len(plans)), "quiet", nil)
	took := time.Since(start)
	if err != nil {
		return "", err
	}
	// A build step shared by the three plans has one digest: count each once.
	ran := map[string]map[string]bool{}
	for _, rep := range reps {
		for _, v := range rep.Vertices {
			if strings.HasPrefix(v.Stage, "build/") && !v.Cached && !v.Source && strings.Contains(v.Name, ", make,") {
				if ran[v.Stage] == nil {
					ran[v.Stage] = map[string]bool{}
				}
				ran[v.Stage][v.Digest] = true
			}
		}
	}
	return fmt.Sprintf("s6 %s in one invocation: %s; make ran %d time(s) for skalibs, %d for execline, %d for s6",
		strings.Join(vers, ", "), sec(took), len(ran["build/skalibs"]), len(ran["build/execline"]), len(ran["build/s6"])), nil
}

func download(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.ReadFrom(resp.Body)
	return err
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration{}, ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func sec(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}
