package buildkit_test

// Integration tests: the real pipeline on the real BuildKit daemon of the
// test environment (scripts/testenv), with the fixture packages served over
// real HTTP on 127.0.0.1. They need BUILDKIT_HOST and S6BUILDER_TOOLCHAIN
// (eval "$(scripts/testenv env)"); without them they are skipped, loudly.

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/internal/fixtures"
	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
)

type env struct {
	c         *client.Client
	toolchain string
}

func engine(t *testing.T) env {
	t.Helper()
	addr, tc := os.Getenv("BUILDKIT_HOST"), os.Getenv("S6BUILDER_TOOLCHAIN")
	if addr == "" || tc == "" {
		if os.Getenv("S6BUILDER_REQUIRE_ENGINE") != "" {
			t.Fatal("BUILDKIT_HOST and S6BUILDER_TOOLCHAIN are required (S6BUILDER_REQUIRE_ENGINE is set): run scripts/testenv up; eval \"$(scripts/testenv env)\"")
		}
		t.Skip("SKIPPED: no BuildKit test environment (run scripts/testenv up; eval \"$(scripts/testenv env)\")")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := bk.Connect(ctx, addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return env{c: c, toolchain: tc}
}

// fixtureMirror serves the three fixtures at the 2015 versions; the nonces
// make tarballs (and so caches) distinct per test where a test needs cold
// stages.
func fixtureMirror(t *testing.T, nonces map[string]string, s6Versions ...string) *fixtures.Mirror {
	t.Helper()
	m := fixtures.NewMirror()
	t.Cleanup(m.Close)
	_, err := m.AddFixture("skalibs", "2.3.5.1", nonces["skalibs"])
	require.NoError(t, err)
	_, err = m.AddFixture("execline", "2.1.2.2", nonces["execline"])
	require.NoError(t, err)
	for _, v := range s6Versions {
		_, err = m.AddFixture("s6", v, nonces["s6"])
		require.NoError(t, err)
	}
	return m
}

func planFor(t *testing.T, e env, m *fixtures.Mirror, cf catalog.File, s6 string) *pipeline.Plan {
	t.Helper()
	cat, err := pipeline.LoadCatalog(pipeline.Layer{Source: "fixtures", File: cf})
	require.NoError(t, err)
	p, err := pipeline.New(cat, pipeline.Request{S6: s6, Mirror: m.URL, Toolchain: pipeline.Toolchain{Image: e.toolchain}})
	require.NoError(t, err)
	return p
}

func build(t *testing.T, e env, p *pipeline.Plan, o bk.Options) (*bk.Report, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if o.Progress == "" {
		o.Progress = "quiet"
	}
	return bk.Build(ctx, e.c, p, o)
}

func executedStages(r *bk.Report) map[string]bool {
	m := map[string]bool{}
	for _, v := range r.Vertices {
		if v.Stage != "" && !v.Cached && !v.Source {
			m[v.Stage] = true
		}
	}
	return m
}

func isStatic(t *testing.T, path string) bool {
	t.Helper()
	f, err := elf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			return false
		}
	}
	return true
}

func TestFixturesBuildColdThenFullyCached(t *testing.T) {
	e := engine(t)
	nonce := fixtures.Nonce()
	m := fixtureMirror(t, map[string]string{"skalibs": nonce, "execline": nonce, "s6": nonce}, "2.1.6.0")
	p := planFor(t, e, m, m.Catalog(), "2.1.6.0")
	out := filepath.Join(t.TempDir(), "s6dist")
	srcs := filepath.Join(t.TempDir(), "s6src")

	cold, err := build(t, e, p, bk.Options{Dist: out, Sources: srcs})
	require.NoError(t, err)
	ran := executedStages(cold)
	for _, id := range []string{"unpack/skalibs", "build/skalibs", "unpack/execline", "build/execline", "unpack/s6", "build/s6", "dist", "sources"} {
		assert.True(t, ran[id], "cold run must execute %s; executed: %v", id, cold.Executed())
	}

	// The dist layout, as the packages install it with prefix /.
	for _, f := range []string{"bin/fixture-execline", "bin/fixture-s6", "libexec/fixture-s6-helper",
		"lib/skalibs/libskarnet.a", "lib/skalibs/sysdeps/sysdeps", "include/skalibs/fixture.h",
		"lib/execline/libexecline.a", "include/execline/fixture.h"} {
		assert.FileExists(t, filepath.Join(out, f))
	}
	// Static binaries that run here.
	for _, b := range []string{"bin/fixture-s6", "bin/fixture-execline"} {
		assert.True(t, isStatic(t, filepath.Join(out, b)), "%s is statically linked", b)
	}
	got, err := exec.Command(filepath.Join(out, "bin/fixture-s6")).CombinedOutput()
	require.NoError(t, err, string(got))
	assert.Equal(t, "s6 2.1.6.0 execline 2.1.2.2 skalibs 2.3.5.1", strings.TrimSpace(string(got)))
	// The unpacked sources, one tree per package.
	for _, d := range []string{"skalibs-2.3.5.1/configure", "execline-2.1.2.2/configure", "s6-2.1.6.0/package/nonce"} {
		assert.FileExists(t, filepath.Join(srcs, d))
	}
	assertNoLeftovers(t, out)

	warm, err := build(t, e, p, bk.Options{Dist: out})
	require.NoError(t, err)
	executed, cached := warm.Counts()
	assert.Equal(t, 0, executed, "second identical run executed %v", warm.Executed())
	assert.GreaterOrEqual(t, cached, len(p.Selection.Packages()), "every build reported as cached")
	assert.FileExists(t, filepath.Join(out, "bin/fixture-s6"))
	assert.Equal(t, 1, m.Hits("s6", "2.1.6.0"), "the tarball is downloaded once, then cached by digest")
}

func TestS6OnlyChangeRebuildsOnlyS6(t *testing.T) {
	e := engine(t)
	nonce := fixtures.Nonce()
	m := fixtureMirror(t, map[string]string{"skalibs": nonce, "execline": nonce, "s6": nonce}, "2.1.5.0", "2.1.6.0")
	cf := m.Catalog()
	before := planFor(t, e, m, cf, "2.1.5.0")
	after := planFor(t, e, m, cf, "2.1.6.0")
	_, err := build(t, e, before, bk.Options{})
	require.NoError(t, err)

	rep, err := build(t, e, after, bk.Options{Dist: filepath.Join(t.TempDir(), "d")})
	require.NoError(t, err)
	ran := executedStages(rep)
	for id := range ran {
		assert.Contains(t, []string{"unpack/s6", "build/s6", "dist"}, id, "only s6's stages may run; ran %v", rep.Executed())
	}
	assert.True(t, ran["build/s6"], "s6 is rebuilt")
	assert.Equal(t, 1, m.Hits("skalibs", "2.3.5.1"), "skalibs is downloaded once for both runs")
	var s6Steps []string
	for _, v := range rep.Vertices {
		if v.Stage == "build/s6" && !v.Cached {
			s6Steps = append(s6Steps, v.Name)
		}
	}
	require.Len(t, s6Steps, 1, "s6's build is one container: %v", s6Steps)
	assert.Contains(t, s6Steps[0], "unpack, configure, make, strip, install")
}

func TestWrongDigestFailsNamingFileAndDigests(t *testing.T) {
	e := engine(t)
	m := fixtureMirror(t, map[string]string{"s6": fixtures.Nonce()}, "2.1.6.0")
	cf := m.Catalog()
	var good string
	wrong := "sha256:" + strings.Repeat("0", 64)
	for i, r := range cf.Releases {
		if r.Package == "s6" {
			good, cf.Releases[i].Digest = r.Digest, wrong
		}
	}
	p := planFor(t, e, m, cf, "2.1.6.0")
	out := existingOutput(t)

	_, err := build(t, e, p, bk.Options{Dist: out})
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "fetch/s6")
	assert.Contains(t, msg, "s6-2.1.6.0.tar.gz")
	assert.Contains(t, msg, good, "names the digest it got")
	assert.Contains(t, msg, wrong, "names the digest the catalogue expects")
	assertUntouched(t, out)
}

func TestFailingConfigureNamesStageAndLogTail(t *testing.T) {
	e := engine(t)
	// The fixture's configure fails on purpose for a last version component of 99.
	m := fixtureMirror(t, nil, "2.1.6.99")
	cf := m.Catalog()
	for i, r := range cf.Releases {
		if r.Package == "s6" {
			cf.Releases[i].Skalibs, cf.Releases[i].Execline = "2.3.5.1", "2.1.2.2"
		}
	}
	p := planFor(t, e, m, cf, "2.1.6.99")
	out := existingOutput(t)

	_, err := build(t, e, p, bk.Options{Dist: out})
	require.Error(t, err)
	var se *bk.StageError
	require.ErrorAs(t, err, &se, "%v", err)
	assert.Equal(t, "build/s6", se.Stage)
	assert.Equal(t, "configure", se.Step, "the failing step of the build's container")
	assert.Contains(t, err.Error(), "stage build/s6 failed at step configure: exit status 1")
	assert.Contains(t, err.Error(), "fixture failure requested by version 2.1.6.99", "the log tail is in the error")
	assertUntouched(t, out)
}

// existingOutput is an output directory from an earlier run, with a marker.
func existingOutput(t *testing.T) string {
	out := filepath.Join(t.TempDir(), "s6dist")
	require.NoError(t, os.MkdirAll(filepath.Join(out, "bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(out, "bin", "marker"), []byte("earlier run\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(out, bk.MarkerName), []byte(`{"s6builder": "dist"}`), 0o644))
	return out
}

func assertUntouched(t *testing.T, out string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "bin", "marker"))
	require.NoError(t, err, "the earlier output must survive a failed build")
	assert.Equal(t, "earlier run\n", string(b))
	entries, err := os.ReadDir(filepath.Join(out, "bin"))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "nothing added to the earlier output")
	assertNoLeftovers(t, out)
}

func assertNoLeftovers(t *testing.T, out string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(out))
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.Contains(e.Name(), ".s6builder-"), "temporary export left behind: %s", e.Name())
	}
}

func TestMatrixCompilesSharedPackagesOnce(t *testing.T) {
	e := engine(t)
	nonce := fixtures.Nonce()
	m := fixtureMirror(t, map[string]string{"skalibs": nonce, "execline": nonce, "s6": nonce}, "2.1.4.0", "2.1.5.0", "2.1.6.0")
	var plans []*pipeline.Plan
	for _, v := range []string{"2.1.4.0", "2.1.5.0", "2.1.6.0"} {
		plans = append(plans, planFor(t, e, m, m.Catalog(), v))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	reps, err := bk.BuildMany(ctx, e.c, plans, make([]bk.Options, len(plans)), "quiet", nil)
	require.NoError(t, err)
	makes := map[string]map[string]bool{}
	for _, rep := range reps {
		for _, v := range rep.Vertices {
			if !v.Cached && strings.HasPrefix(v.Stage, "build/") && strings.Contains(v.Name, ", make,") {
				if makes[v.Stage] == nil {
					makes[v.Stage] = map[string]bool{}
				}
				makes[v.Stage][v.Digest] = true
			}
		}
	}
	assert.Len(t, makes["build/skalibs"], 1, "skalibs compiles once for three s6 releases")
	assert.Len(t, makes["build/execline"], 1, "execline compiles once")
	assert.Len(t, makes["build/s6"], 3, "each s6 compiles")
}

// The default toolchain is a public Debian image plus setup steps that
// install the compilers with network access. No public registry is reachable
// here, so the same setup steps run on the test environment's plain Debian
// image (sshd-base: minbase, no compiler), which proves them for real.
func TestToolchainSetupStepsInstallTheCompilers(t *testing.T) {
	e := engine(t)
	base := fixtures.TestEnv(t, "S6BUILDER_SSHD_BASE")
	m := fixtureMirror(t, nil, "2.1.6.0")
	cat, err := pipeline.LoadCatalog(pipeline.Layer{Source: "fixtures", File: m.Catalog()})
	require.NoError(t, err)
	tc := pipeline.Toolchain{Image: base, Setup: pipeline.DefaultToolchain().Setup}
	p, err := pipeline.New(cat, pipeline.Request{S6: "2.1.6.0", Mirror: m.URL, Toolchain: tc})
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "s6dist")
	_, err = build(t, e, p, bk.Options{Dist: out})
	require.NoError(t, err)
	got, err := exec.Command(filepath.Join(out, "bin", "fixture-s6")).CombinedOutput()
	require.NoError(t, err, string(got))
	assert.True(t, isStatic(t, filepath.Join(out, "bin", "fixture-s6")), "musl-gcc from the setup steps links statically")
}

func TestForeignPlatformWithoutEmulationIsRefusedBeforeAnyWork(t *testing.T) {
	e := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	workers, err := e.c.ListWorkers(ctx)
	require.NoError(t, err)
	served := map[string]bool{}
	for _, w := range workers {
		for _, p := range w.Platforms {
			served[p.OS+"/"+p.Architecture] = true
		}
	}
	foreign := ""
	for _, p := range []string{"linux/mips64le", "linux/loong64", "linux/s390x", "linux/ppc64le", "linux/riscv64", "linux/arm64", "linux/amd64"} {
		if !served[p] {
			foreign = p
			break
		}
	}
	require.NotEmpty(t, foreign, "the daemon emulates every candidate platform: nothing to refuse")

	m := fixtureMirror(t, map[string]string{"s6": fixtures.Nonce()}, "2.1.6.0")
	cat, err := pipeline.LoadCatalog(pipeline.Layer{Source: "fixtures", File: m.Catalog()})
	require.NoError(t, err)
	p, err := pipeline.New(cat, pipeline.Request{S6: "2.1.6.0", Mirror: m.URL, Platform: foreign, Toolchain: pipeline.Toolchain{Image: e.toolchain}})
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "foreign")
	rep, err := build(t, e, p, bk.Options{Dist: out})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `platform "`+foreign+`": the BuildKit daemon runs`)
	assert.True(t, rep == nil || len(rep.Vertices) == 0, "nothing was solved")
	assert.NoDirExists(t, out)
	assertNoLeftovers(t, out)
}

func TestTheDistsProgramsAreCheckedBeforeTheyAreExported(t *testing.T) {
	e := engine(t)
	m := fixtureMirror(t, map[string]string{"s6": fixtures.Nonce()}, "2.1.6.0")
	p := planFor(t, e, m, m.Catalog(), "2.1.6.0")
	out := filepath.Join(t.TempDir(), "s6dist")
	rep, err := build(t, e, p, bk.Options{Dist: out})
	require.NoError(t, err)
	programs := 0
	for _, dir := range pipeline.BinaryDirs {
		entries, _ := os.ReadDir(filepath.Join(out, dir))
		programs += len(entries)
	}
	require.NotZero(t, programs)
	assert.Equal(t, programs, rep.Verified, "every program in %v was checked", pipeline.BinaryDirs)
	marker, err := os.ReadFile(filepath.Join(out, bk.MarkerName))
	require.NoError(t, err)
	assert.Contains(t, string(marker), `"s6builder": "dist"`)
	assert.Contains(t, string(marker), `"platform": "`+p.Request.Platform+`"`)

	// The hostile trial's case: a platform the daemon serves (386 on an
	// amd64 daemon) with a toolchain image of one platform only, which
	// runs natively and builds x86-64 programs. They must not be labelled
	// 386: the build fails naming a file and both machines, and the earlier
	// output stays as it was.
	if p.Request.Platform != "linux/amd64" {
		return // the toolchain image of the test environment is amd64
	}
	before, err := os.ReadFile(filepath.Join(out, bk.MarkerName))
	require.NoError(t, err)
	cat, err := pipeline.LoadCatalog(pipeline.Layer{Source: "fixtures", File: m.Catalog()})
	require.NoError(t, err)
	p386, err := pipeline.New(cat, pipeline.Request{S6: "2.1.6.0", Mirror: m.URL, Platform: "linux/386", Toolchain: pipeline.Toolchain{Image: e.toolchain}})
	require.NoError(t, err)
	_, err = build(t, e, p386, bk.Options{Dist: out})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is a 64-bit little-endian X86_64 binary, but the request is for linux/386 (32-bit little-endian 386)")
	assert.Contains(t, err.Error(), "so it was not exported")
	after, err := os.ReadFile(filepath.Join(out, bk.MarkerName))
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "the earlier output is untouched")
	assertNoLeftovers(t, out)
}

func TestAFileMissingOnTheMirrorIsReportedAsNotFound(t *testing.T) {
	e := engine(t)
	m := fixtureMirror(t, map[string]string{"s6": fixtures.Nonce()}, "2.1.6.0")
	cf := m.Catalog()
	// The catalogue knows s6 2.1.5.0; the mirror does not have it.
	cf.Releases = append(cf.Releases, catalog.FileRelease{Package: "s6", Version: "2.1.5.0", Digest: "sha256:" + strings.Repeat("1", 64)})
	p := planFor(t, e, m, cf, "2.1.5.0")
	out := existingOutput(t)
	_, err := build(t, e, p, bk.Options{Dist: out})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not found at "+m.URL+"/s6/s6-2.1.5.0.tar.gz (HTTP 404 Not Found)")
	assert.NotContains(t, err.Error(), "digest mismatch")
	assertUntouched(t, out)
}

// TestAStalledMirrorStopsTheBuildNamingIt: a mirror that sends its headers
// and a few bytes, then nothing, would hold BuildKit's fetch forever; the
// fetch deadline stops the build with the stage and the URL, and the
// output is left as it was.
func TestAStalledMirrorStopsTheBuildNamingIt(t *testing.T) {
	e := engine(t)
	stall := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte{0x1f, 0x8b})
		w.(http.Flusher).Flush()
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(stall); srv.Close() })
	m := fixtureMirror(t, map[string]string{"s6": fixtures.Nonce()}, "2.1.6.0")
	cf := m.Catalog()
	cf.Releases = append(cf.Releases, catalog.FileRelease{Package: "s6", Version: "2.1.5.0", Digest: "sha256:" + strings.Repeat("2", 64)})
	cat, err := pipeline.LoadCatalog(pipeline.Layer{Source: "fixtures", File: cf})
	require.NoError(t, err)
	p, err := pipeline.New(cat, pipeline.Request{S6: "2.1.5.0", Mirror: srv.URL, Toolchain: pipeline.Toolchain{Image: e.toolchain}})
	require.NoError(t, err)

	defer func(d time.Duration) { bk.FetchTimeout = d }(bk.FetchTimeout)
	bk.FetchTimeout = 3 * time.Second
	out := existingOutput(t)
	start := time.Now()
	_, err = build(t, e, p, bk.Options{Dist: out})
	require.Error(t, err)
	var te *bk.FetchTimeoutError
	require.ErrorAs(t, err, &te, "%v", err)
	assert.Contains(t, err.Error(), "was not fetched in 3s: the mirror stalled or is too slow")
	assert.Contains(t, err.Error(), srv.URL+"/")
	assert.Less(t, time.Since(start), 2*time.Minute, "stopped, not hung")
	assertUntouched(t, out)
}

// TestAFullFileSystemWhileAReleaseIsStagedLeavesNothing: the release's
// tarball does not fit beside its output; the run fails saying so, and no
// release folder, whole-looking or not, is left.
func TestAFullFileSystemWhileAReleaseIsStagedLeavesNothing(t *testing.T) {
	e := engine(t)
	mnt := nearlyFullTmpfs(t, 256, 252)

	m := fixtureMirror(t, map[string]string{"s6": fixtures.Nonce()}, "2.1.6.0")
	p := planFor(t, e, m, m.Catalog(), "2.1.6.0")
	out := filepath.Join(mnt, "release")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, _, err := bk.Release(ctx, e.c, []*pipeline.Plan{p}, bk.ReleaseOptions{Dir: out, Version: "test", SourceDateEpoch: 1700000000, Progress: "quiet"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no space left on device")
	assert.NoDirExists(t, out)
	assertNoLeftovers(t, out)
}

func TestANearlyFullOutputFileSystemFailsFastAndLeavesTheDaemonHealthy(t *testing.T) {
	e := engine(t)
	// Filled to the last few kB: the fixture dist no longer fits.
	mnt := nearlyFullTmpfs(t, 1024, 1000)

	m := fixtureMirror(t, map[string]string{"s6": fixtures.Nonce()}, "2.1.6.0")
	p := planFor(t, e, m, m.Catalog(), "2.1.6.0")
	out := filepath.Join(mnt, "s6dist")
	start := time.Now()
	_, err := build(t, e, p, bk.Options{Dist: out})
	require.Error(t, err)
	var ns *bk.NoSpaceError
	require.ErrorAs(t, err, &ns)
	assert.Contains(t, err.Error(), "no space left on the file system of "+mnt)
	assert.Less(t, time.Since(start), 3*time.Minute)
	assert.NoDirExists(t, out)
	assertNoLeftovers(t, out)

	// The daemon is fine: the same build into a roomy directory works.
	_, err = build(t, e, p, bk.Options{Dist: filepath.Join(t.TempDir(), "s6dist")})
	require.NoError(t, err)
}

// stageWatcher reads rawjson progress and closes done once a vertex of the
// stage has started: the stages it depends on are finished then.
// stageWatcher closes done once the stage's container prints its first
// line: it is running then, past the daemon's preparing of its mounts (a
// daemon killed inside that window can leave its snapshotter's state
// inconsistent, which is BuildKit's to recover, not what the test is about).
type stageWatcher struct {
	stage    string
	buf      []byte
	vertices map[digest.Digest]bool
	done     chan struct{}
	once     sync.Once
}

func (w *stageWatcher) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	if w.vertices == nil {
		w.vertices = map[digest.Digest]bool{}
	}
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		var ss client.SolveStatus
		if json.Unmarshal(w.buf[:i], &ss) == nil {
			for _, v := range ss.Vertexes {
				if bk.StageOf(v.Name) == w.stage {
					w.vertices[v.Digest] = true
				}
			}
			for _, l := range ss.Logs {
				if w.vertices[l.Vertex] {
					w.once.Do(func() { close(w.done) })
				}
			}
		}
		w.buf = w.buf[i+1:]
	}
}

// privateRoot is a state directory for private daemons of one test
// (fixtures.DaemonStateDir), and a function that starts one on it
// (stopped when the test ends).
func privateRoot(t *testing.T, e env) (root string, start func() (*client.Client, *bk.Daemon)) {
	t.Helper()
	root = fixtures.DaemonStateDir(t)
	return root, func() (*client.Client, *bk.Daemon) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		reg := strings.SplitN(e.toolchain, "/", 2)[0] // the test registry, plain HTTP
		d, err := bk.StartPrivate(ctx, bk.PrivateOptions{Root: root, HTTPRegistries: []string{reg}})
		require.NoError(t, err)
		t.Cleanup(d.Stop)
		c, err := bk.Connect(ctx, d.Addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c, d
	}
}

// killDaemon SIGKILLs the private daemon whose state is root.
func killDaemon(t *testing.T, root string) {
	t.Helper()
	pids, _ := exec.Command("pgrep", "-f", "buildkitd --root "+root).Output()
	require.NotEmpty(t, strings.TrimSpace(string(pids)), "the private daemon runs")
	for _, pid := range strings.Fields(string(pids)) {
		require.NoError(t, exec.Command("kill", "-9", pid).Run())
	}
}

// The daemon killed while a build or a release runs (once skalibs is
// built): the error names it and the stage; nothing is left at the output;
// the next run, on a daemon restarted on the same state, reuses skalibs
// and makes the whole output.
func TestADaemonKilledMidBuildIsNamedAndFinishedStagesAreReused(t *testing.T) {
	e := engine(t)
	for name, run := range map[string]func(ctx context.Context, c *client.Client, p *pipeline.Plan, out string, w io.Writer) (*bk.Report, error){
		"build": func(ctx context.Context, c *client.Client, p *pipeline.Plan, out string, w io.Writer) (*bk.Report, error) {
			progress := "quiet"
			if w != nil {
				progress = "rawjson"
			}
			return bk.Build(ctx, c, p, bk.Options{Dist: out, Progress: progress, ProgressOut: w})
		},
		"release": func(ctx context.Context, c *client.Client, p *pipeline.Plan, out string, w io.Writer) (*bk.Report, error) {
			progress := "quiet"
			if w != nil {
				progress = "rawjson"
			}
			_, reps, err := bk.Release(ctx, c, []*pipeline.Plan{p}, bk.ReleaseOptions{Dir: out, Progress: progress, ProgressOut: w})
			if len(reps) == 0 {
				return nil, err
			}
			return reps[0], err
		},
	} {
		t.Run(name, func(t *testing.T) {
			root, start := privateRoot(t, e)
			nonce := fixtures.Nonce()
			m := fixtureMirror(t, map[string]string{"skalibs": nonce, "execline": nonce, "s6": nonce}, "2.1.6.0")
			p := planFor(t, e, m, m.Catalog(), "2.1.6.0")
			out := filepath.Join(t.TempDir(), "out")

			c, d := start()
			w := &stageWatcher{stage: "build/execline", done: make(chan struct{})} // skalibs is built then
			errc := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				_, err := run(ctx, c, p, out, w)
				errc <- err
			}()
			select {
			case <-w.done:
			case err := <-errc:
				t.Fatalf("the %s ended before skalibs was built: %v", name, err)
			case <-time.After(4 * time.Minute):
				t.Fatal("skalibs was not built within 4 minutes")
			}
			killDaemon(t, root)
			err := <-errc
			require.Error(t, err)
			var gone *bk.DaemonGoneError
			require.ErrorAs(t, err, &gone, "got: %v", err)
			assert.Contains(t, err.Error(), "the BuildKit daemon went away during build/execline")
			assert.Contains(t, err.Error(), "run again: finished stages are reused")
			assert.NoDirExists(t, out)
			d.Stop() // releases the state directory for the next daemon

			c, _ = start() // the same state directory
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			rep, err := run(ctx, c, p, out, nil)
			require.NoError(t, err)
			ran := executedStages(rep)
			assert.False(t, ran["build/skalibs"], "skalibs, built before the kill, is reused: %v", rep.Executed())
			whole := map[string]string{"build": "bin/fixture-s6", "release": "SHA256SUMS"}[name]
			assert.FileExists(t, filepath.Join(out, whole))
			entries, err := os.ReadDir(filepath.Dir(out))
			require.NoError(t, err)
			assert.Len(t, entries, 1, "the output alone, no staging leftovers")
		})
	}
}

func TestConcurrentBuildsIntoOneOutputLeaveOneWholeTree(t *testing.T) {
	e := engine(t)
	m := fixtureMirror(t, map[string]string{"s6": fixtures.Nonce()}, "2.1.6.0")
	p := planFor(t, e, m, m.Catalog(), "2.1.6.0")
	out := filepath.Join(t.TempDir(), "s6dist")
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = build(t, e, p, bk.Options{Dist: out})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
	assert.FileExists(t, filepath.Join(out, bk.MarkerName))
	assert.FileExists(t, filepath.Join(out, "bin", "fixture-s6"))
	assertNoLeftovers(t, out)
}

func TestTheSummaryCountsWhatTheProgressShows(t *testing.T) {
	e := engine(t)
	m := fixtureMirror(t, map[string]string{"s6": fixtures.Nonce()}, "2.1.6.0")
	p := planFor(t, e, m, m.Catalog(), "2.1.6.0")
	for run := 0; run < 2; run++ {
		var log bytes.Buffer
		rep, err := build(t, e, p, bk.Options{Progress: "plain", ProgressOut: &log})
		require.NoError(t, err)
		_, cached := rep.Counts()
		// progressui may print a vertex's state more than once (e.g. when a
		// vertex is re-reported after another one starts): count vertices.
		shown := map[string]bool{}
		for _, line := range strings.Split(log.String(), "\n") {
			if id, ok := strings.CutSuffix(line, " CACHED"); ok {
				shown[id] = true
			}
		}
		assert.Equal(t, len(shown), cached, "run %d: CACHED lines in the progress vs the summary:\n%s", run+1, log.String())
	}
}

// TestACacheExportedByOneDaemonIsUsedByAFreshOne: a build that exports its
// cache to the test registry (type=registry, mode=max), then the same
// request on a second daemon with its own, empty state that imports it:
// the second compiles nothing (no build stage executed) and exports the
// same dist. Without the import, the fresh daemon compiles everything.
func TestACacheExportedByOneDaemonIsUsedByAFreshOne(t *testing.T) {
	e := engine(t)
	registry := fixtures.TestEnv(t, "S6BUILDER_REGISTRY")
	nonce := fixtures.Nonce()
	m := fixtureMirror(t, map[string]string{"skalibs": nonce, "execline": nonce, "s6": nonce}, "2.1.6.0")
	p := planFor(t, e, m, m.Catalog(), "2.1.6.0")
	ref := registry + "/s6builder-test/cache:" + nonce
	builds := func(r *bk.Report) []string {
		var out []string
		for s := range executedStages(r) {
			if strings.HasPrefix(s, "build/") {
				out = append(out, s)
			}
		}
		return out
	}

	first := filepath.Join(t.TempDir(), "s6dist")
	rep, err := build(t, e, p, bk.Options{Dist: first, Cache: bk.Cache{
		Exports: []client.CacheOptionsEntry{{Type: "registry", Attrs: map[string]string{"ref": ref, "mode": "max"}}}}})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"build/skalibs", "build/execline", "build/s6"}, builds(rep), "the first daemon compiles")

	_, start := privateRoot(t, e)
	c, _ := start()
	fresh := env{c: c, toolchain: e.toolchain}
	second := filepath.Join(t.TempDir(), "s6dist")
	rep, err = build(t, fresh, p, bk.Options{Dist: second, Cache: bk.Cache{
		Imports: []client.CacheOptionsEntry{{Type: "registry", Attrs: map[string]string{"ref": ref}}}}})
	require.NoError(t, err)
	assert.Empty(t, builds(rep), "a fresh daemon with the exported cache compiles nothing")
	out, err := exec.Command("diff", "-r", first, second).CombinedOutput()
	assert.NoError(t, err, "the same dist from the cache: %s", out)

	// The control: a fresh daemon without the cache compiles everything.
	_, start = privateRoot(t, e)
	c, _ = start()
	rep, err = build(t, env{c: c, toolchain: e.toolchain}, p, bk.Options{})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"build/skalibs", "build/execline", "build/s6"}, builds(rep), "a fresh daemon without the cache")
}

// nearlyFullTmpfs mounts a tmpfs of sizeKB and fills usedKB of it.
func nearlyFullTmpfs(t *testing.T, sizeKB, usedKB int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root to mount a small tmpfs")
	}
	mnt := t.TempDir()
	require.NoError(t, syscall.Mount("tmpfs", mnt, "tmpfs", 0, fmt.Sprintf("size=%dk", sizeKB)))
	t.Cleanup(func() { _ = syscall.Unmount(mnt, 0) })
	fill, err := os.Create(filepath.Join(mnt, "fill"))
	require.NoError(t, err)
	_, _ = fill.Write(make([]byte, usedKB*1024))
	require.NoError(t, fill.Close())
	return mnt
}
