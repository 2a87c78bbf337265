package pipeline_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/pipeline"
)

// A cross build runs the toolchain on the build platform with the target's
// cross compiler and musl; configure gets --target and, for skalibs, the
// sysdeps it cannot detect without running target programs.
func TestCrossBuildPlansTheTargetsCompilerOnTheBuildPlatform(t *testing.T) {
	p := plan(t, pipeline.Request{S6: "2.15.1.0", Platform: "aarch64", BuildPlatform: "linux/amd64"})
	assert.True(t, p.Request.Cross())
	assert.Equal(t, "linux/arm64", p.Request.Platform)
	assert.Equal(t, "linux/amd64", p.Stage(pipeline.IDToolchain).Image.Platform)
	assert.Equal(t, "aarch64-linux-gnu-gcc -specs=/usr/lib/aarch64-linux-musl/musl-gcc.specs", p.Request.CC)
	assert.Empty(t, p.Stage(pipeline.IDToolchain).Image.Setup, "a toolchain image of one's own is used as is")
	def, err := pipeline.New(testCatalog(t), pipeline.Request{S6: "2.15.1.0", Platform: "aarch64", BuildPlatform: "linux/amd64"})
	require.NoError(t, err)
	setup := def.Stage(pipeline.IDToolchain).Image.Setup
	require.NotEmpty(t, setup)
	assert.Equal(t, []string{"dpkg", "--add-architecture", "arm64"}, setup[len(setup)-3].Args)
	assert.Equal(t, []string{"apt-get", "install", "-y", "--no-install-recommends", "gcc-aarch64-linux-gnu", "musl-dev:arm64", "linux-libc-dev:arm64"}, setup[len(setup)-1].Args)

	sk := p.Stage("build/skalibs").Exec
	conf := sk.Step("configure").Args
	assert.Contains(t, conf, "--target=aarch64-linux-gnu")
	for _, sd := range []string{"--with-sysdep-devurandom=yes", "--with-sysdep-posixspawnearlyreturn=no", "--with-sysdep-procselfexe=/proc/self/exe", "--with-sysdep-selectinfinite=yes"} {
		assert.Contains(t, conf, sd)
	}
	assert.Contains(t, sk.Env, "CROSS_COMPILE=aarch64-linux-gnu-")
	assert.Empty(t, sk.Emulates, "skalibs 2.15 is told its sysdeps: nothing of the target runs")
	assert.Contains(t, p.Stage("build/s6").Exec.Step("configure").Args, "--target=aarch64-linux-gnu")
	assert.False(t, slices.ContainsFunc(p.Stage("build/s6").Exec.Step("configure").Args, func(a string) bool { return strings.HasPrefix(a, "--with-sysdep-") }))
	assert.Equal(t, "linux/arm64", p.Stage(pipeline.IDSmoke).Exec.Emulates, "the smoke test runs the target's programs")

	native := plan(t, pipeline.Request{S6: "2.15.1.0", Platform: "linux/amd64"})
	assert.False(t, native.Request.Cross())
	assert.Empty(t, native.Stage(pipeline.IDSmoke).Exec.Emulates)
	assert.NotEqual(t, native.Stage("build/skalibs").Key, p.Stage("build/skalibs").Key)
	assert.Equal(t, native.Stage("fetch/skalibs").Key, p.Stage("fetch/skalibs").Key, "the targets share their downloads")
}

// skalibs before 2.9 detects its sysdeps by running test programs: its cross
// build runs them under an emulator for the target.
func TestOldSkalibsCrossBuildRunsTargetPrograms(t *testing.T) {
	p := plan(t, pipeline.Request{S6: "2.1.6.0", Platform: "linux/arm/v7", BuildPlatform: "linux/amd64"})
	assert.Equal(t, "linux/arm/v7", p.Stage("build/skalibs").Exec.Emulates)
	assert.Empty(t, p.Stage("build/s6").Exec.Emulates)
	assert.Equal(t, "arm-linux-gnueabihf-gcc -specs=/usr/lib/arm-linux-musleabihf/musl-gcc.specs", p.Request.CC)
	// Their Makefiles put CROSS_COMPILE before CC: make is told to use CC.
	for _, pkg := range []string{"skalibs", "execline", "s6"} {
		ex := p.Stage("build/" + pkg).Exec
		assert.Equal(t, []string{"sh", "-c", `exec make -j"$(nproc)" "$@"`, "make", "REALCC=$(CC)"}, ex.Step("make").Args, pkg)
		assert.Equal(t, []string{"make", "strip", "REALCC=$(CC)"}, ex.Step("strip").Args, pkg)
	}
	newer := plan(t, pipeline.Request{S6: "2.15.1.0", Platform: "linux/arm/v7", BuildPlatform: "linux/amd64"})
	assert.Equal(t, []string{"sh", "-c", `exec make -j"$(nproc)"`}, newer.Stage("build/s6").Exec.Step("make").Args)
}

func TestCrossBuildRefusals(t *testing.T) {
	for _, tc := range []struct {
		req  pipeline.Request
		want string
	}{
		{pipeline.Request{S6: "2.15.1.0", Platform: "linux/riscv64", BuildPlatform: "linux/amd64"}, "Debian trixie has both"},
		{pipeline.Request{S6: "2.15.1.0", Platform: "linux/mips64le", BuildPlatform: "linux/amd64"}, "no cross compiler is known for it"},
	} {
		_, err := tc.req.Normalize()
		assert.ErrorContains(t, err, tc.want, tc.req.Platform)
	}
	// With a toolchain of one's own, riscv64 is the user's to provide.
	r, err := pipeline.Request{S6: "2.15.1.0", Platform: "linux/riscv64", BuildPlatform: "linux/amd64", Toolchain: pipeline.Toolchain{Image: "example.org/cross:trixie"}}.Normalize()
	require.NoError(t, err)
	assert.Equal(t, "riscv64-linux-gnu-gcc -specs=/usr/lib/riscv64-linux-musl/musl-gcc.specs", r.CC)
}

// TestAPlatformToolchainReplacesTheToolchainForItsPlatformOnly: a request
// for several platforms carries per-platform toolchains; each platform's
// plan uses its own, the others the request's toolchain.
func TestAPlatformToolchainReplacesTheToolchainForItsPlatformOnly(t *testing.T) {
	base := pipeline.Request{S6: "2.15.1.0", BuildPlatform: "linux/amd64", Toolchain: pipeline.Toolchain{Image: "registry.example/toolchain:bookworm"},
		PlatformToolchains: map[string]pipeline.Toolchain{"riscv64": {Image: "registry.example/toolchain:trixie"}}}
	for platform, want := range map[string]string{
		"linux/riscv64": "registry.example/toolchain:trixie",
		"linux/arm64":   "registry.example/toolchain:bookworm",
	} {
		r := base
		r.Platform = platform
		n, err := r.Normalize()
		require.NoError(t, err, platform)
		assert.Equal(t, want, n.Toolchain.Image, platform)
		assert.Nil(t, n.PlatformToolchains, "applied, then dropped: the plan does not depend on other platforms' toolchains")
	}
	// Without it, riscv64 is refused with the bookworm default toolchain,
	// saying what would work.
	_, err := pipeline.Request{S6: "2.15.1.0", Platform: "linux/riscv64", BuildPlatform: "linux/amd64"}.Normalize()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Debian trixie has both")

	bad := base
	bad.Platform = "linux/arm64"
	bad.PlatformToolchains = map[string]pipeline.Toolchain{"windows/amd64": {Image: "x"}}
	_, err = bad.Normalize()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "s6 builds for linux only")
}
