package pipeline_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
	"github.com/s6builder/s6builder/pipeline/inputerr"
	"github.com/s6builder/s6builder/pipeline/recipe"
	"github.com/s6builder/s6builder/pipeline/version"
)

const testToolchain = "127.0.0.1:5055/s6builder/toolchain@sha256:0000000000000000000000000000000000000000000000000000000000000001"

// testCatalog is the embedded catalogue plus digests for the releases the
// embedded one has none for (2.1.5.0, the s6-only bump of the 2015 triplet).
func testCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	cf, err := catalog.ParseFile([]byte(`{"releases": [
	  {"package": "s6", "version": "2.1.5.0", "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111"}]}`))
	require.NoError(t, err)
	c, err := pipeline.LoadCatalog(pipeline.Layer{Source: "test", File: cf})
	require.NoError(t, err)
	return c
}

func plan(t *testing.T, req pipeline.Request) *pipeline.Plan {
	t.Helper()
	if req.Toolchain.Image == "" {
		req.Toolchain.Image = testToolchain
	}
	if req.Platform == "" {
		req.Platform = "linux/amd64"
	}
	p, err := pipeline.New(testCatalog(t), req)
	require.NoError(t, err)
	return p
}

func TestPlanKeysAreDeterministic(t *testing.T) {
	a := plan(t, pipeline.Request{S6: "2.1.6.0"})
	b := plan(t, pipeline.Request{S6: "2.1.6.0"})
	assert.Equal(t, a.Keys(), b.Keys())
	seen := map[string]string{}
	for id, k := range a.Keys() {
		assert.Len(t, k, 64, id)
		if other, dup := seen[k]; dup {
			t.Errorf("stages %s and %s share key %s", id, other, k)
		}
		seen[k] = id
	}
}

func TestPlanStagesInDependencyOrder(t *testing.T) {
	p := plan(t, pipeline.Request{S6: "2.1.6.0"})
	var ids []string
	pos := map[string]int{}
	for i, s := range p.Stages {
		ids = append(ids, s.ID)
		pos[s.ID] = i
		for _, d := range s.Deps {
			assert.Less(t, pos[d], i, "%s must come after its dependency %s", s.ID, d)
			_, known := pos[d]
			assert.True(t, known, "%s depends on %s, which is not before it", s.ID, d)
		}
	}
	assert.Equal(t, []string{"toolchain",
		"fetch/skalibs", "unpack/skalibs", "build/skalibs",
		"fetch/execline", "unpack/execline", "build/execline",
		"fetch/s6", "unpack/s6", "build/s6",
		"dist", "sources", "export", "smoke"}, ids)
}

// changed lists the stages whose keys differ between two plans.
func changed(a, b *pipeline.Plan) []string {
	var out []string
	bk := b.Keys()
	for _, s := range a.Stages {
		if bk[s.ID] != s.Key {
			out = append(out, s.ID)
		}
	}
	return out
}

func TestS6OnlyChangeTouchesOnlyS6Stages(t *testing.T) {
	a := plan(t, pipeline.Request{S6: "2.1.5.0"})
	b := plan(t, pipeline.Request{S6: "2.1.6.0"})
	require.Equal(t, a.Request.Skalibs, b.Request.Skalibs, "2.1.5.0 and 2.1.6.0 share skalibs")
	require.Equal(t, a.Request.Execline, b.Request.Execline)
	assert.Equal(t, []string{"fetch/s6", "unpack/s6", "build/s6", "dist", "sources", "export", "smoke"}, changed(a, b))
}

func TestChangesInvalidateWhatDependsOnThem(t *testing.T) {
	base := plan(t, pipeline.Request{S6: "2.1.6.0"})
	for name, tc := range map[string]struct {
		req  pipeline.Request
		want []string
	}{
		"mirror only (content pinned by digest)": {pipeline.Request{S6: "2.1.6.0", Mirror: "http://127.0.0.1:8055"}, nil},
		"jobs":                                   {pipeline.Request{S6: "2.1.6.0", Jobs: 3}, []string{"build/skalibs", "build/execline", "build/s6", "dist", "export", "smoke"}},
		"toolchain": {pipeline.Request{S6: "2.1.6.0", Toolchain: pipeline.Toolchain{Image: "example.org/tc:1"}}, []string{"toolchain",
			"unpack/skalibs", "build/skalibs", "unpack/execline", "build/execline", "unpack/s6", "build/s6", "dist", "sources", "export", "smoke"}},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, changed(base, plan(t, tc.req)))
		})
	}
}

func TestExtraConfigureOptionChangesOnlyItsPackage(t *testing.T) {
	base := plan(t, pipeline.Request{S6: "2.15.1.0"})
	p := plan(t, pipeline.Request{S6: "2.15.1.0", Configure: map[string][]string{"execline": {"--enable-multicall"}}})
	assert.Equal(t, []string{"build/execline", "build/s6", "dist", "export", "smoke"}, changed(base, p))
	assert.Contains(t, p.Stage("build/execline").Exec.Step("configure").Args, "--enable-multicall")
}

func TestFetchStagesCarryCatalogueDigests(t *testing.T) {
	p := plan(t, pipeline.Request{S6: "2.1.6.0", Mirror: "http://127.0.0.1:8055/"})
	f := p.Stage("fetch/s6").Fetch
	assert.Equal(t, "http://127.0.0.1:8055/s6/s6-2.1.6.0.tar.gz", f.URL)
	assert.Equal(t, "sha256:a4e977253fbe130788b721ae51a70680b71f4dfe3c02ebb1db0472e21548d467", f.Digest)
	assert.Equal(t, "s6-2.1.6.0.tar.gz", f.Filename)
}

func TestBuildStepsRunWithoutNetworkAndMountDepsReadOnly(t *testing.T) {
	p := plan(t, pipeline.Request{S6: "2.1.6.0"})
	for _, s := range p.Stages {
		if s.Exec == nil {
			continue
		}
		for _, st := range s.Exec.Steps {
			assert.False(t, st.Network, "%s %s", s.ID, st.Name)
		}
	}
	s6 := p.Stage("build/s6").Exec
	assert.Equal(t, []pipeline.Mount{
		{Target: "/in", From: "fetch/s6", Readonly: true},
		{Target: "/src", Tmpfs: true},
		{Target: "/deps/skalibs", From: "build/skalibs", Readonly: true},
		{Target: "/deps/execline", From: "build/execline", Readonly: true},
	}, s6.Mounts)
	assert.Equal(t, "/out", s6.Output)
	assert.Equal(t, "unpack, configure, make, strip, install", s6.StepNames())
	assert.Equal(t, []string{"tar", "-xzf", "/in/s6-2.1.6.0.tar.gz", "-C", "/src", "--no-same-owner"}, s6.Steps[0].Args)
	assert.Equal(t, []string{"sh", "-c", `exec make -j"$(nproc)" "$@"`, "make", "install", "DESTDIR=/out"}, s6.Steps[4].Args)
	assert.NotContains(t, p.Stage("build/s6").Deps, "unpack/s6", "the build unpacks for itself; unpack/s6 is for the sources output")
}

func TestDefaultToolchainIsPinnedAndSetUpWithNetwork(t *testing.T) {
	p, err := pipeline.New(testCatalog(t), pipeline.Request{S6: "2.1.6.0", Platform: "linux/amd64"})
	require.NoError(t, err)
	img := p.Stage("toolchain").Image
	assert.Regexp(t, `^docker\.io/library/debian:bookworm-slim@sha256:[0-9a-f]{64}$`, img.Ref)
	require.NotEmpty(t, img.Setup)
	for _, s := range img.Setup {
		assert.True(t, s.Network, "toolchain setup needs network: %v", s.Args)
	}
}

func TestDynamicUsesGCCAndSharedFlags(t *testing.T) {
	p := plan(t, pipeline.Request{S6: "2.15.1.0", Dynamic: true})
	s6 := p.Stage("build/s6").Exec
	assert.Contains(t, s6.Env, "CC=gcc")
	assert.Contains(t, s6.Step("configure").Args, "--enable-shared")
	assert.Contains(t, s6.Step("configure").Args, "--with-dynlib=/deps/skalibs/lib")
	assert.NotContains(t, s6.Step("configure").Args, "--enable-static-libc")
}

func TestBadInputIsRefusedBeforeAnyWork(t *testing.T) {
	for name, tc := range map[string]struct {
		req   pipeline.Request
		want  string
		field string // the refused request field; "" the request as a whole; "-" not an input error
	}{
		"hostile version":          {pipeline.Request{S6: "2.1.6.0; rm -rf /"}, `version "2.1.6.0; rm -rf /"`, "s6"},
		"three components":         {pipeline.Request{S6: "2.1.6"}, "four dot-separated numbers", "s6"},
		"leading zero":             {pipeline.Request{S6: "2.01.6.0"}, "not a plain decimal", "s6"},
		"unknown version":          {pipeline.Request{S6: "2.1.7.0"}, "nearest known: 2.1.6.0, 2.2.0.0; `versions` lists all", ""},
		"incompatible skalibs":     {pipeline.Request{S6: "2.1.6.0", Skalibs: "2.4.0.2"}, "needs skalibs 2.3.5.1 or a later 2.3.x", "skalibs"},
		"older execline":           {pipeline.Request{S6: "2.1.6.0", Execline: "2.1.2.0"}, "needs execline 2.1.2.2", "execline"},
		"no digest":                {pipeline.Request{S6: "2.2.2.1"}, "no digest is known for s6-2.2.2.1.tar.gz", ""},
		"mirror scheme":            {pipeline.Request{S6: "2.1.6.0", Mirror: "file:///etc"}, "http:// or https://", "mirror"},
		"mirror credentials":       {pipeline.Request{S6: "2.1.6.0", Mirror: "http://user:s3cret@m.example.org/"}, "credentials in the URL are refused", "mirror"},
		"mirror query":             {pipeline.Request{S6: "2.1.6.0", Mirror: "http://m/?x=$(id)"}, "no query", "mirror"},
		"platform":                 {pipeline.Request{S6: "2.1.6.0", Platform: "windows/amd64"}, "linux only", "platform"},
		"bad platform":             {pipeline.Request{S6: "2.1.6.0", Platform: "linux/am d64"}, "invalid component", "platform"},
		"toolchain ref":            {pipeline.Request{S6: "2.1.6.0", Toolchain: pipeline.Toolchain{Image: "UPPER/case;x"}}, "not an image reference", "toolchain"},
		"cc":                       {pipeline.Request{S6: "2.1.6.0", CC: "gcc; id"}, "compiler command", "cc"},
		"jobs":                     {pipeline.Request{S6: "2.1.6.0", Jobs: -1}, "want 0", "jobs"},
		"configure unknown pkg":    {pipeline.Request{S6: "2.1.6.0", Configure: map[string][]string{"busybox": {"--x"}}}, `configure "busybox": unknown package`, "configure"},
		"relative prefix":          {pipeline.Request{S6: "2.1.6.0", Prefix: "usr/local"}, "want a clean absolute path", "prefix"},
		"prefix expansion":         {pipeline.Request{S6: "2.1.6.0", Prefix: "/usr/$(id)"}, "want letters, digits and /._- only", "prefix"},
		"configure make expansion": {pipeline.Request{S6: "2.1.6.0", Configure: map[string][]string{"s6": {"--enable-nsss=$(shell id)"}}}, "want --name or --name=value", "-"},
		"configure owned option":   {pipeline.Request{S6: "2.1.6.0", Configure: map[string][]string{"s6": {"--prefix=/usr"}}}, "sets --prefix itself", "-"},
		"configure not in release": {pipeline.Request{S6: "2.1.6.0", Configure: map[string][]string{"s6": {"--enable-nsss"}}}, "s6 2.1.6.0 does not accept --enable-nsss", "-"},
	} {
		t.Run(name, func(t *testing.T) {
			req := tc.req
			if req.Toolchain.Image == "" {
				req.Toolchain.Image = testToolchain
			}
			_, err := pipeline.New(testCatalog(t), req)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			var ie *inputerr.Error
			if tc.field == "-" {
				return
			}
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, tc.field, ie.Field)
		})
	}
}

// Every s6 release in the catalogue plans (with a stand-in digest where none
// is published), and every configure option the recipes pass is one that
// release's configure knows: an unknown one would silently become the target.
func TestEveryReleasePlansWithOptionsItsConfigureKnows(t *testing.T) {
	c := familyCatalog(t) // stand-in digests where none is published
	for _, r := range c.Releases(catalog.S6) {
		p, err := pipeline.New(c, pipeline.Request{S6: r.Version.String(), Toolchain: pipeline.Toolchain{Image: testToolchain}, Platform: "linux/amd64"})
		require.NoError(t, err, "s6 %s", r.Version)
		for _, pkg := range p.Selection.Packages() {
			s := p.Stage("build/" + pkg)
			args := s.Exec.Step("configure").Args
			require.Equal(t, "./configure", args[0])
			for _, a := range args[1:] {
				name, _, _ := strings.Cut(a, "=")
				assert.True(t, recipe.Accepts(pkg, version.MustParse(s.Version), name), "s6 %s: %s %s gets %s", r.Version, pkg, s.Version, a)
			}
		}
	}
}

func TestMirrorPasswordIsNeverPrinted(t *testing.T) {
	for _, m := range []string{"http://user:s3cret@m.example.org/", "http://user:s3cret@[::1/"} {
		_, err := pipeline.New(testCatalog(t), pipeline.Request{S6: "2.1.6.0", Mirror: m, Toolchain: pipeline.Toolchain{Image: testToolchain}})
		require.Error(t, err, m)
		assert.NotContains(t, err.Error(), "s3cret", m)
	}
}

// A profile is the dist's part a use needs: the whole dist is merged
// apart (dist/all), the profile's stage copies its programs and what they
// exec, and the export, images and releases take it as the dist. Checked
// before any work: the name, and a program its request's release lacks.
func TestProfileIsTheDist(t *testing.T) {
	cat := testCatalog(t)
	full, err := pipeline.New(cat, pipeline.Request{S6: "2.1.6.0"})
	require.NoError(t, err)
	p, err := pipeline.New(cat, pipeline.Request{S6: "2.1.6.0", Profile: "pid1"})
	require.NoError(t, err)
	assert.Equal(t, full.Stage("build/s6").Key, p.Stage("build/s6").Key, "the packages build as they do without it")
	assert.Equal(t, full.Stage(pipeline.IDDist).Deps, p.Stage(pipeline.IDDistAll).Deps)
	dist := p.Stage(pipeline.IDDist)
	assert.Equal(t, []string{pipeline.IDToolchain, pipeline.IDDistAll}, dist.Deps)
	args := dist.Exec.Step("profile").Args
	assert.Equal(t, []string{"/", "bin/s6-svscan", "bin/s6-supervise", "bin/s6-svscanctl", "bin/s6-svc", "bin/s6-svok", "bin/s6-svstat", "bin/s6-svwait"}, args[6:])
	assert.Equal(t, []string{pipeline.IDDist}, p.Stage(pipeline.IDExport).Deps)

	_, err = pipeline.New(cat, pipeline.Request{S6: "2.1.6.0", Profile: "tiny"})
	assert.EqualError(t, err, `profile "tiny": no such profile: want one of pid1`)
}
