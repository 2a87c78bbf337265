package buildkit_test

import (
	"bytes"
	"context"
	"debug/elf"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/internal/fixtures"
	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
)

// realSources serves the upstream tarballs in S6BUILDER_REAL_SOURCES (made
// with git archive from skarnet's repositories, never committed) and returns
// the mirror, whose catalogue holds their digests.
func realSources(t *testing.T) *fixtures.Mirror { return fixtures.RealSources(t) }

// buildAndSmoke builds one s6 release from real sources, twice, and runs the
// supervision smoke test (s6builder test) with the binaries. Cold and warm times of each stage
// go to the test log.
func buildAndSmoke(t *testing.T, e env, m *fixtures.Mirror, s6 string) {
	p := planFor(t, e, m, m.Catalog(), s6)
	out := filepath.Join(t.TempDir(), "s6dist")
	start := time.Now()
	cold, err := build(t, e, p, bk.Options{Dist: out})
	require.NoError(t, err)
	coldTook := time.Since(start)
	start = time.Now()
	warm, err := build(t, e, p, bk.Options{Dist: out})
	require.NoError(t, err)
	warmTook := time.Since(start)
	executed, _ := warm.Counts()
	assert.Equal(t, 0, executed, "warm run executed %v", warm.Executed())

	r := p.Request
	t.Logf("s6 %s / execline %s / skalibs %s: first run %.1fs, second run %.2fs", r.S6, r.Execline, r.Skalibs, coldTook.Seconds(), warmTook.Seconds())
	ct, wt := cold.StageTimes(), warm.StageTimes()
	ids := make([]string, 0, len(ct))
	for id := range ct {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t.Logf("  %-16s first %6.1fs  second %5.2fs", id, ct[id].Seconds(), wt[id].Seconds())
	}
	for _, b := range []string{"s6-svscan", "s6-supervise", "execlineb"} {
		assert.True(t, isStatic(t, filepath.Join(out, "bin", b)), "%s is static", b)
	}
	// The smoke test, in a container with the built binaries.
	rep, err := build(t, e, p, bk.Options{Smoke: true})
	require.NoError(t, err)
	require.Len(t, rep.Smoke, 4, "smoke checks: %v", rep.Smoke)
	for _, c := range rep.Smoke {
		t.Logf("  smoke ok: %s", c)
	}
}

// coldEngine is a private daemon with an empty cache, on the test
// environment's toolchain: real sources compile for real on every run,
// whatever the shared daemon has cached.
func coldEngine(t *testing.T) env {
	e := engine(t)
	_, start := privateRoot(t, e)
	c, _ := start()
	return env{c: c, toolchain: e.toolchain}
}

func TestRealSources2015Triplet(t *testing.T) {
	buildAndSmoke(t, coldEngine(t), realSources(t), "2.1.6.0")
}

func TestRealSourcesNewestTriplet(t *testing.T) {
	buildAndSmoke(t, coldEngine(t), realSources(t), "2.15.1.0")
}

// TestRealSourcesEveryMinorLine builds the newest s6 release of each minor
// line from 2.1 to 2.15 from real sources, with only the s6 version given,
// and smoke-tests each. It takes minutes cold, so it runs only when
// S6BUILDER_REAL_MATRIX is set too.
func TestRealSourcesEveryMinorLine(t *testing.T) {
	e := engine(t)
	m := realSources(t)
	if os.Getenv("S6BUILDER_REAL_MATRIX") == "" {
		t.Skip("SKIPPED: the release matrix runs with S6BUILDER_REAL_MATRIX=1 (minutes cold)")
	}
	cat, err := pipeline.LoadCatalog()
	require.NoError(t, err)
	newest := map[string]catalog.Release{}
	var lines []string
	for _, r := range cat.Releases(catalog.S6) {
		if r.Version[0] != 2 || r.Version[1] < 1 {
			continue
		}
		if _, seen := newest[r.Version.Minor()]; !seen {
			lines = append(lines, r.Version.Minor())
		}
		newest[r.Version.Minor()] = r
	}
	require.Len(t, lines, 15, "s6 minor lines 2.1 to 2.15")
	for _, line := range lines {
		s6 := newest[line].Version.String()
		t.Run(s6, func(t *testing.T) { buildAndSmoke(t, e, m, s6) })
	}
}

func TestRealSourcesNewestFamily(t *testing.T) {
	e := coldEngine(t)
	m := realSources(t)
	cat := realCatalog(t, m)
	p, err := pipeline.New(cat, pipeline.Request{S6: "2.15.1.0", With: []string{"all"}, Mirror: m.URL,
		Toolchain: pipeline.Toolchain{Image: e.toolchain}})
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "s6dist")
	start := time.Now()
	rep, err := build(t, e, p, bk.Options{Dist: out})
	require.NoError(t, err)
	t.Logf("s6 2.15.1.0 with %v: first run %.1fs, %d programs checked", p.Request.With, time.Since(start).Seconds(), rep.Verified)
	// A program of each member, static, and answering as documented.
	for prog, want := range map[string]string{
		"s6-rc-compile":       "usage: s6-rc-compile",       // s6-rc
		"s6-linux-init-maker": "usage: s6-linux-init-maker", // s6-linux-init
		"s6-dnsip4":           "usage: s6-dnsip4",           // s6-dns
		"s6-tcpserver":        "usage: s6-tcpserver",        // s6-networking
		"s6-freeramdisk":      "usage: s6-freeramdisk",      // s6-linux-utils
	} {
		path := filepath.Join(out, "bin", prog)
		require.FileExists(t, path)
		assert.True(t, isStatic(t, path), "%s is static", prog)
		b, _ := exec.Command(path).CombinedOutput()
		assert.Contains(t, string(b), want, prog)
	}
	echo, err := exec.Command(filepath.Join(out, "bin", "s6-echo"), "hello", "family").Output() // s6-portable-utils
	require.NoError(t, err)
	assert.Equal(t, "hello family\n", string(echo))

	// The smoke test, with the members' checks.
	rep, err = build(t, e, p, bk.Options{Smoke: true})
	require.NoError(t, err)
	for _, c := range rep.Smoke {
		t.Logf("  smoke ok: %s", c)
	}
	require.Len(t, rep.Smoke, 14, "supervision (4) and the members' checks (10)")
	for _, want := range []string{"s6-rc -u change", "s6-rc -d change", "s6-dnsip4 -h", "s6-tcpclient", "s6-linux-init-maker", "s6-echo", "s6-freeramdisk"} {
		assert.True(t, slices.ContainsFunc(rep.Smoke, func(c string) bool { return strings.Contains(c, want) }), "no smoke check mentions %s: %v", want, rep.Smoke)
	}

	// Multicall, where the releases can (execline, s6-portable-utils,
	// s6-linux-utils): one program each, the others links to it; the same
	// smoke checks pass, and the dist is smaller.
	mp, err := pipeline.New(cat, pipeline.Request{S6: "2.15.1.0", With: []string{"all"}, Mirror: m.URL, Multicall: true,
		Toolchain: pipeline.Toolchain{Image: e.toolchain}})
	require.NoError(t, err)
	mout := filepath.Join(t.TempDir(), "s6dist")
	start = time.Now()
	_, err = build(t, e, mp, bk.Options{Dist: mout})
	require.NoError(t, err)
	for _, id := range []string{"build/execline", "build/s6-portable-utils", "build/s6-linux-utils"} {
		assert.NotEqual(t, p.Stage(id).Key, mp.Stage(id).Key, "%s is built otherwise", id)
	}
	for _, id := range []string{"build/skalibs", "build/s6-dns"} {
		assert.Equal(t, p.Stage(id).Key, mp.Stage(id).Key, "%s builds on no multicall package: its build is reused", id)
	}
	for prog, multi := range map[string]string{"execlineb": "execline", "s6-echo": "s6-portable-utils", "s6-freeramdisk": "s6-linux-utils"} {
		target, err := os.Readlink(filepath.Join(mout, "bin", prog))
		require.NoError(t, err, "%s is a link to the multicall program", prog)
		assert.Equal(t, multi, filepath.Base(target), prog)
	}
	rep, err = build(t, e, mp, bk.Options{Smoke: true})
	require.NoError(t, err)
	require.Len(t, rep.Smoke, 14, "the same checks pass with multicall programs")
	size := func(dir string) (n int64) {
		_ = filepath.WalkDir(filepath.Join(dir, "bin"), func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				fi, _ := d.Info()
				n += fi.Size()
			}
			return nil
		})
		return n
	}
	single, multi := size(out), size(mout)
	t.Logf("multicall: built (the multicall packages and what builds on them) in %.1fs; bin/ %d bytes, %d without multicall", time.Since(start).Seconds(), multi, single)
	assert.Less(t, multi, single, "bin/ is smaller with multicall programs")
}

// TestRealSourcesCrossCompiled cross-compiles the newest triplet for
// linux/arm64 and linux/arm/v7, and the 2015 triplet for linux/arm64 (old
// configure scripts: skalibs runs its test programs under the host's
// emulator), on the daemon's own platform, in one go; checks every program's
// ELF header against its target, and runs the supervision smoke test on each
// target's binaries under emulation.
func TestRealSourcesCrossCompiled(t *testing.T) {
	crossCompile(t, coldEngine(t), realSources(t), []crossTarget{{"2.15.1.0", "linux/arm64", ""}, {"2.15.1.0", "linux/arm/v7", ""}, {"2.1.6.0", "linux/arm64", ""}})
}

// TestRealSourcesCrossCompiledRISCV cross-compiles the newest triplet for
// linux/riscv64, which Debian bookworm has no musl for, with the test
// environment's toolchain image from Debian trixie (gcc 14, musl 1.2.5),
// as a user gives --toolchain; smoke-tested under emulation. On a private
// daemon, as the other cross builds: the shared one may have it cached.
func TestRealSourcesCrossCompiledRISCV(t *testing.T) {
	e, m := coldEngine(t), realSources(t)
	next := os.Getenv("S6BUILDER_TOOLCHAIN_NEXT")
	require.NotEmpty(t, next, "S6BUILDER_TOOLCHAIN_NEXT comes from scripts/testenv env")
	crossCompile(t, e, m, []crossTarget{{"2.15.1.0", "linux/riscv64", next}})
}

// TestRealSourcesEveryTarget cross-compiles the newest triplet for every
// platform the default toolchain's Debian covers (platforms.tsv) and
// smoke-tests each under emulation. Slower: it runs when
// S6BUILDER_REAL_TARGETS is set.
func TestRealSourcesEveryTarget(t *testing.T) {
	m := realSources(t)
	if os.Getenv("S6BUILDER_REAL_TARGETS") == "" {
		t.Skip("SKIPPED: every target runs with S6BUILDER_REAL_TARGETS=1 (minutes cold)")
	}
	var targets []crossTarget
	for _, tg := range pipeline.Targets {
		if tg.InDefaultToolchain {
			targets = append(targets, crossTarget{"2.15.1.0", tg.Platform, ""})
		}
	}
	crossCompile(t, coldEngine(t), m, targets)
}

// crossTarget is an s6 release for a platform, built with toolchain
// ("" = the test environment's default one).
type crossTarget struct{ s6, platform, toolchain string }

// crossCompile builds each target's s6 release on the daemon's own
// platform (the native one is skipped), in one go, checks the programs' ELF
// headers and runs the smoke test on each target's binaries.
func crossCompile(t *testing.T, e env, m *fixtures.Mirror, targets []crossTarget) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	native, err := bk.NativePlatform(ctx, e.c)
	require.NoError(t, err)
	cat := realCatalog(t, m)
	var plans []*pipeline.Plan
	var opts []bk.Options
	for _, tg := range targets {
		if tg.platform == native {
			continue
		}
		tc := tg.toolchain
		if tc == "" {
			tc = e.toolchain
		}
		p, err := pipeline.New(cat, pipeline.Request{S6: tg.s6, Platform: tg.platform, BuildPlatform: native, Mirror: m.URL,
			Toolchain: pipeline.Toolchain{Image: tc}})
		require.NoError(t, err)
		require.True(t, p.Request.Cross())
		plans = append(plans, p)
		opts = append(opts, bk.Options{Dist: filepath.Join(t.TempDir(), pipeline.PlatformDir(tg.platform))})
	}
	start := time.Now()
	reps, err := bk.BuildMany(ctx, e.c, plans, opts, "quiet", nil)
	require.NoError(t, err)
	t.Logf("%d cross builds from real sources on %s, cold, in one go: %.1fs", len(plans), native, time.Since(start).Seconds())
	for i, p := range plans {
		r := p.Request
		want, err := pipeline.ELFTargetOf(r.Platform)
		require.NoError(t, err, r.Platform)
		assert.Greater(t, reps[i].Verified, 20, "s6 %s for %s: programs checked", r.S6, r.Platform)
		for _, prog := range []string{"s6-svscan", "s6-supervise", "execlineb"} {
			f, err := elf.Open(filepath.Join(opts[i].Dist, "bin", prog))
			require.NoError(t, err)
			assert.Equal(t, want.Machine, f.Machine, "%s for %s", prog, r.Platform)
			assert.Equal(t, want.Class, f.Class, "%s for %s", prog, r.Platform)
			for _, ph := range f.Progs {
				assert.NotEqual(t, elf.PT_INTERP, ph.Type, "%s for %s is static", prog, r.Platform)
			}
			f.Close()
		}
		// The smoke test runs the target's programs under the emulator.
		rep, err := bk.Build(ctx, e.c, p, bk.Options{Smoke: true, Progress: "quiet"})
		require.NoError(t, err, "smoke test of s6 %s for %s", r.S6, r.Platform)
		require.Len(t, rep.Smoke, 4, "s6 %s for %s: %v", r.S6, r.Platform, rep.Smoke)
		t.Logf("s6 %s for %s: %d programs checked (%s), %d smoke checks passed under emulation", r.S6, r.Platform, reps[i].Verified, want, len(rep.Smoke))
	}
}

// TestRealSourcesReleaseIsReproducible: the release of s6 2.1.6.0 from
// real sources, made twice on two daemons that share nothing (each a
// private buildkitd with its own, empty state: a cold build each), is the
// same bytes: tarball, manifest, SBOM, SHA256SUMS. Its time is the day the
// newest of its sources was tagged.
func TestRealSourcesReleaseIsReproducible(t *testing.T) {
	m := realSources(t)
	cat := realCatalog(t, m)
	var dirs []string
	for i := 0; i < 2; i++ {
		e := coldEngine(t)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		native, err := bk.NativePlatform(ctx, e.c)
		require.NoError(t, err)
		p, err := pipeline.New(cat, pipeline.Request{S6: "2.1.6.0", BuildPlatform: native, Mirror: m.URL,
			Toolchain: pipeline.Toolchain{Image: e.toolchain}})
		require.NoError(t, err)
		dir := filepath.Join(t.TempDir(), "release")
		start := time.Now()
		man, _, err := bk.Release(ctx, e.c, []*pipeline.Plan{p}, bk.ReleaseOptions{Dir: dir, Version: "test", Progress: "quiet"})
		cancel()
		require.NoError(t, err)
		t.Logf("release %d on a fresh daemon, cold: %.1fs, %s %s", i+1, time.Since(start).Seconds(), man.Artifacts[0].SHA256, man.Artifacts[0].File)
		// 2015-06-25: s6 2.1.6.0's tag, the newest of the three.
		assert.Equal(t, int64(1435190400), man.SourceDateEpoch)
		dirs = append(dirs, dir)
	}
	files := func(dir string) map[string][]byte {
		out := map[string][]byte{}
		require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			require.NoError(t, err)
			if d.Type().IsRegular() {
				b, err := os.ReadFile(path)
				require.NoError(t, err)
				rel, _ := filepath.Rel(dir, path)
				out[rel] = b
			}
			return nil
		}))
		return out
	}
	first, second := files(dirs[0]), files(dirs[1])
	assert.Len(t, first, 6, "tarball, its provenance, manifest.json, sbom.spdx.json, SHA256SUMS, marker: %v", slices.Collect(maps.Keys(first)))
	require.Equal(t, len(first), len(second))
	for name, b := range first {
		if strings.HasSuffix(name, ".provenance.json") {
			// BuildKit's attestation records the solve's times: outside
			// SHA256SUMS, checked for what it is.
			assert.Contains(t, string(b), `"predicateType": "https://slsa.dev/provenance/`, name)
			assert.Contains(t, string(b), `"_type": "https://in-toto.io/Statement`, name)
			continue
		}
		assert.True(t, bytes.Equal(b, second[name]), "%s differs between the two daemons", name)
	}
}

// realCatalog is the catalogue of the real sources m serves.
func realCatalog(t *testing.T, m *fixtures.Mirror) *catalog.Catalog {
	t.Helper()
	cat, err := pipeline.LoadCatalog(pipeline.Layer{Source: "real sources", File: m.Catalog()})
	require.NoError(t, err)
	return cat
}
