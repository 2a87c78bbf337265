// Command bench measures s6builder against its peers on one BuildKit daemon:
// cold, warm, an s6-only bump, a matrix of s6 releases sharing one skalibs,
// a hand-written multi-stage Dockerfile (bench/Dockerfile), the seed's way
// (one container that configures and makes all three packages every time)
// and the bare compilers on the host. It prints medians of N runs and the
// ratios, as a Markdown table.
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
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/opencontainers/go-digest"
	"github.com/tonistiigi/fsutil"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/internal/fixtures"
	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
)

// s6OverlayUnpacked is s6-overlay's x86_64 tarball unpacked (shared data).
const s6OverlayUnpacked = 5.7e6

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
	s6list := flag.String("s6", "2.1.6.0,2.15.1.0", "s6 releases to measure, comma-separated")
	prune := flag.Bool("prune", true, "prune the daemon's cache before each cold run")
	cross := flag.Bool("cross", false, "measure cross-compilation instead: native, cross and emulated builds of the newest s6, and each target's dist size")
	overlay := flag.String("overlay", "", "measure s6builder overlay of this s6-overlay release against its own Makefile instead")
	boot := flag.Bool("boot", false, "measure the boot and stop times of the three kinds of image instead (-n runs each, 20 by default)")
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
		fmt.Printf("| s6 %s (skalibs %s, execline %s) | %s | %s | %s (from %s) | %s | %s | %s | %s | %.1f MB | %.1f MB |\n",
			s6, r.skalibs, r.execline, sec(r.cold), sec(r.warm), sec(r.bump), r.bumpFrom, sec(r.s6Alone),
			sec(r.dockerfile), sec(r.seed), sec(r.host), float64(r.distSize)/1e6, float64(r.runtimeSize)/1e6)
		notes = append(notes, fmt.Sprintf("s6 %s: warm/cold %.1f%% (target <= 3%%), bump/s6-compile-alone %.2fx (<= 1.15x), "+
			"cold/Dockerfile %.2fx (<= 1.00x), cold/host %.2fx (<= 1.25x), runtime part (bin, sbin, libexec) %.1f MB vs s6-overlay's 5.7 MB (%.0f%%; "+
			"the whole dist, with static libraries and headers, %.1f MB)",
			s6, 100*ratio(r.warm, r.cold), ratio(r.bump, r.s6Alone), ratio(r.cold, r.dockerfile), ratio(r.cold, r.host),
			float64(r.runtimeSize)/1e6, 100*float64(r.runtimeSize)/s6OverlayUnpacked, float64(r.distSize)/1e6))
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

func (b *bench) plan(s6, skalibs, execline string) (*pipeline.Plan, error) {
	return pipeline.New(b.cat, pipeline.Request{S6: s6, Skalibs: skalibs, Execline: execline,
		Mirror: b.mirror.URL, Toolchain: pipeline.Toolchain{Image: b.toolchain}})
}

// measure runs every measurement for one s6 release, n times each.
func (b *bench) measure(s6 string) (result, error) {
	p, err := b.plan(s6, "", "")
	if err != nil {
		return result{}, err
	}
	r := result{skalibs: p.Request.Skalibs, execline: p.Request.Execline}
	prev, err := b.bumpFrom(p)
	if err != nil {
		return r, err
	}
	r.bumpFrom = prev.Request.S6
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
func (b *bench) coldStart() error {
	if b.prune {
		ch := make(chan client.UsageInfo)
		done := make(chan struct{})
		go func() {
			for range ch {
			}
			close(done)
		}()
		err := b.c.Prune(b.ctx, ch, client.PruneAll)
		close(ch)
		<-done
		if err != nil {
			return err
		}
	}
	return b.pull(b.toolchain, "")
}

// pull has the daemon pull ref for platform ("" = its own) and run a
// program of it, so that no measurement pays for the pull.
func (b *bench) pull(ref, platform string) error {
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
	_, err = b.c.Solve(b.ctx, def, client.SolveOpt{}, nil)
	return err
}

// flags are the configure arguments of p's build stage for pkg, as the
// Dockerfile and the seed's script pass them.
func flags(p *pipeline.Plan, pkg string) string {
	return strings.Join(p.Stage("build/" + pkg).Exec.Step("configure").Args[1:], " ")
}

func (b *bench) dockerfile(p *pipeline.Plan) (time.Duration, error) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	ctxFS, err := fsutil.NewFS(dir)
	if err != nil {
		return 0, err
	}
	attrs := map[string]string{"filename": "Dockerfile", "target": "dist",
		"build-arg:TOOLCHAIN": b.toolchain, "build-arg:MIRROR": b.mirror.URL}
	for _, pkg := range p.Selection.Packages() {
		up := strings.ToUpper(pkg)
		f := p.Stage("fetch/" + pkg).Fetch
		attrs["build-arg:"+up+"_VERSION"] = p.Stage("build/" + pkg).Version
		attrs["build-arg:"+up+"_DIGEST"] = f.Digest
		attrs["build-arg:"+up+"_FLAGS"] = flags(p, pkg)
	}
	out, err := os.MkdirTemp("", "bench-dockerfile-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(out)
	start := time.Now()
	_, err = b.c.Solve(b.ctx, nil, client.SolveOpt{Frontend: "dockerfile.v0", FrontendAttrs: attrs,
		LocalMounts: map[string]fsutil.FS{"context": ctxFS, "dockerfile": ctxFS},
		Exports:     []client.ExportEntry{{Type: client.ExporterLocal, OutputDir: out}}}, nil)
	return time.Since(start), err
}

// script is the whole build as one sh script, with the plan's argv; root
// prefixes /in, /src and /deps (the host runs it under a temporary folder).
func script(p *pipeline.Plan, root string) string {
	var s strings.Builder
	s.WriteString("set -e\n")
	q := func(args []string) string {
		out := make([]string, len(args))
		for i, a := range args {
			a = strings.ReplaceAll(a, "/deps/", root+"/deps/")
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		return strings.Join(out, " ")
	}
	for _, pkg := range p.Selection.Packages() {
		st := p.Stage("build/" + pkg)
		f := p.Stage("fetch/" + pkg).Fetch
		fmt.Fprintf(&s, "mkdir -p %s/src %s/deps/%s\ntar -xzf %s/in/%s -C %s/src\ncd %s/src/%s-%s\n", root, root, pkg, root, f.Filename, root, root, pkg, st.Version)
		for _, name := range []string{"configure", "make", "strip"} {
			s.WriteString(q(st.Exec.Step(name).Args) + "\n")
		}
		fmt.Fprintf(&s, "make install DESTDIR=%s/deps/%s\n", root, pkg)
	}
	return s.String()
}

// seedWay runs everything in one container, every time (no cache).
func (b *bench) seedWay(p *pipeline.Plan) (time.Duration, error) {
	spec := platforms.DefaultSpec()
	run := llb.Image(b.toolchain, llb.Platform(spec)).Run(llb.Args([]string{"sh", "-c", script(p, "/w")}),
		llb.AddEnv("CC", "musl-gcc"), llb.Network(llb.NetModeNone), llb.IgnoreCache)
	for _, pkg := range p.Selection.Packages() {
		f := p.Stage("fetch/" + pkg).Fetch
		run.AddMount("/w/in/"+f.Filename, llb.HTTP(f.URL, llb.Checksum(digest.Digest(f.Digest)), llb.Filename(f.Filename)),
			llb.SourcePath(f.Filename), llb.Readonly)
	}
	def, err := run.Root().Marshal(b.ctx, llb.Platform(spec))
	if err != nil {
		return 0, err
	}
	start := time.Now()
	_, err = b.c.Solve(b.ctx, def, client.SolveOpt{}, nil)
	return time.Since(start), err
}

// host runs the same script with the host's own compilers, no containers.
func (b *bench) host(p *pipeline.Plan) (time.Duration, error) {
	if _, err := exec.LookPath("musl-gcc"); err != nil {
		return 0, fmt.Errorf("musl-gcc is not installed on the host (apt-get install musl-tools)")
	}
	root, err := os.MkdirTemp("", "bench-host-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(root)
	if err := os.MkdirAll(filepath.Join(root, "in"), 0o755); err != nil {
		return 0, err
	}
	for _, pkg := range p.Selection.Packages() {
		f := p.Stage("fetch/" + pkg).Fetch
		if err := download(f.URL, filepath.Join(root, "in", f.Filename)); err != nil {
			return 0, err
		}
	}
	cmd := exec.Command("sh", "-c", script(p, root))
	cmd.Env = append(os.Environ(), "CC=musl-gcc")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, tail(string(out)))
	}
	return time.Since(start), nil
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
