package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/pipeline"
)

func familyPlan(t *testing.T) *pipeline.Plan {
	t.Helper()
	cat, err := pipeline.LoadCatalog()
	require.NoError(t, err)
	p, err := pipeline.New(cat, pipeline.Request{S6: "2.15.1.0", With: []string{"all"}, Toolchain: pipeline.Toolchain{Image: "toolchain"}})
	require.NoError(t, err)
	return p
}

// The peers run the plan's own stages with its mounts moved: every /in,
// /src, /deps/X, /kernel-headers and /out path of a stage's arguments and
// environment goes under the peer's root, and nothing else changes.
func TestStageScriptMovesEveryMountedPath(t *testing.T) {
	p := familyPlan(t)
	st := p.Stage("build/s6-networking")
	script := stageScript(st, rebaser(p, st, "/R"), false)
	for _, want := range []string{
		"'--with-sysdeps=/R/out/build-skalibs/lib/skalibs/sysdeps'",
		"'--with-include=/R/out/build-s6-dns/include'",
		"'--with-include=/R/out/build-s6/include'",
		"'tar' '-xzf' '/R/in/s6-networking-2.8.0.1.tar.gz' '-C' '/R/src/s6-networking'",
		"cd '/R/src/s6-networking/s6-networking-2.8.0.1'",
		"'DESTDIR=/R/out/build-s6-networking'",
		"'--prefix=/'",
	} {
		assert.Contains(t, script, want)
	}
	for _, stale := range []string{"'/deps/", "=/deps/", " /in/", "'/src", "=/out'"} {
		assert.NotContains(t, script, stale)
	}
	kh := p.Stage("build/s6-linux-init")
	assert.Contains(t, stageScript(kh, rebaser(p, kh, "/R"), false), "export CPPFLAGS='-isystem /R/out/kernel-headers'")
	assert.Contains(t, stageScript(st, rebaser(p, st, "/R"), true), "'make' 'install' 'DESTDIR=/R/out/build-s6-networking'", "the seed's serial install")
}

// The Dockerfile has one stage per package, copying what the plan's stage
// mounts, with the plan's flags and environment.
func TestDockerfileHasAStagePerPackage(t *testing.T) {
	p := familyPlan(t)
	text, err := dockerfile(p)
	require.NoError(t, err)
	for _, pkg := range p.Selection.Packages() {
		assert.Contains(t, text, "FROM ${TOOLCHAIN} AS "+pkg+"\n")
		assert.Contains(t, text, "COPY --from="+pkg+" /out /\n")
	}
	networking := text[strings.Index(text, "AS s6-networking"):]
	networking = networking[:strings.Index(networking, "\nFROM")]
	for _, want := range []string{"COPY --from=s6-dns /out /deps/s6-dns", "COPY --from=s6 /out /deps/s6", `ENV CC="musl-gcc"`, "--with-include=/deps/s6-dns/include", "ADD --checksum=sha256:"} {
		assert.Contains(t, networking, want)
	}
	assert.Contains(t, text, "COPY --from=kernel-headers /out /kernel-headers")
	assert.Contains(t, text, `ENV CPPFLAGS="-isystem /kernel-headers"`)
}
