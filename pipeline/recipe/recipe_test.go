package recipe_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/pipeline/recipe"
	"github.com/s6builder/s6builder/pipeline/version"
)

var v = version.MustParse

func deps2015() []recipe.Dep {
	return []recipe.Dep{
		{Package: "skalibs", Version: v("2.3.5.1"), Root: "/deps/skalibs"},
		{Package: "execline", Version: v("2.1.2.2"), Root: "/deps/execline"},
	}
}

func TestRecipe2015Triplet(t *testing.T) {
	sk, err := recipe.For("skalibs", v("2.3.5.1"), recipe.Options{Static: true, Jobs: 2, DestDir: "/out"})
	require.NoError(t, err)
	// skalibs < 2.4 probes /dev/random unless told; it has no --enable-static-libc.
	assert.Equal(t, []string{"./configure", "--prefix=/", "--enable-force-devr", "--disable-shared"}, sk.Configure)
	assert.Equal(t, []string{"make", "-j2"}, sk.Make)
	assert.Equal(t, []string{"make", "strip"}, sk.Strip)
	assert.Equal(t, []string{"make", "-j2", "install", "DESTDIR=/out"}, sk.Install, "make -j for install too")
	assert.Equal(t, "skalibs-2.3.5.1", sk.SourceDir)

	s6, err := recipe.For("s6", v("2.1.6.0"), recipe.Options{Static: true, Deps: deps2015(), DestDir: "/out"})
	require.NoError(t, err)
	assert.Equal(t, []string{"./configure", "--prefix=/", "--enable-static-libc", "--disable-shared",
		"--with-sysdeps=/deps/skalibs/lib/skalibs/sysdeps",
		"--with-include=/deps/skalibs/include", "--with-lib=/deps/skalibs/lib/skalibs",
		"--with-include=/deps/execline/include", "--with-lib=/deps/execline/lib/execline"}, s6.Configure)
	assert.Equal(t, "4.0", s6.MakeMin, "s6 2.1 needs GNU make 4")
	assert.Equal(t, []string{"sh", "-c", `exec make -j"$(nproc)"`}, s6.Make, "jobs 0 asks the container")
}

func TestRecipe2026Triplet(t *testing.T) {
	deps := []recipe.Dep{
		{Package: "skalibs", Version: v("2.15.1.0"), Root: "/deps/skalibs"},
		{Package: "execline", Version: v("2.9.9.2"), Root: "/deps/execline"},
	}
	sk, err := recipe.For("skalibs", v("2.15.1.0"), recipe.Options{Static: true, DestDir: "/out"})
	require.NoError(t, err)
	assert.Equal(t, []string{"./configure", "--prefix=/", "--disable-shared"}, sk.Configure, "no --enable-force-devr after 2.4")

	s6, err := recipe.For("s6", v("2.15.1.0"), recipe.Options{Static: true, Deps: deps, DestDir: "/out"})
	require.NoError(t, err)
	// Libraries moved to plain lib in skalibs 2.14.3.0 and execline 2.9.6.1.
	assert.Equal(t, []string{"./configure", "--prefix=/", "--enable-static-libc", "--disable-shared",
		"--with-sysdeps=/deps/skalibs/lib/skalibs/sysdeps",
		"--with-include=/deps/skalibs/include", "--with-lib=/deps/skalibs/lib",
		"--with-include=/deps/execline/include", "--with-lib=/deps/execline/lib"}, s6.Configure)
	assert.Equal(t, "3.81", s6.MakeMin)
}

func TestLibDirFollowsTheRelease(t *testing.T) {
	for _, tc := range []struct{ pkg, ver, want string }{
		{"skalibs", "2.14.2.0", "lib/skalibs"}, {"skalibs", "2.14.3.0", "lib"},
		{"execline", "2.9.6.0", "lib/execline"}, {"execline", "2.9.6.1", "lib"},
		{"s6", "2.13.0.0", "lib/s6"}, {"s6", "2.13.1.0", "lib"},
	} {
		assert.Equal(t, tc.want, recipe.LibDir(tc.pkg, v(tc.ver)), "%s %s", tc.pkg, tc.ver)
	}
}

func TestExtraOptionsFollowTheRelease(t *testing.T) {
	assert.NoError(t, recipe.CheckExtra("execline", v("2.9.2.0"), []string{"--enable-multicall"}))
	assert.ErrorContains(t, recipe.CheckExtra("execline", v("2.9.1.0"), []string{"--enable-multicall"}), "execline 2.9.1.0 does not accept --enable-multicall")
	assert.NoError(t, recipe.CheckExtra("skalibs", v("2.9.0.0"), []string{"--with-sysdep-devurandom=yes"}))
	assert.Error(t, recipe.CheckExtra("skalibs", v("2.8.1.0"), []string{"--with-sysdep-devurandom=yes"}))
	assert.ErrorContains(t, recipe.CheckExtra("s6", v("2.15.1.0"), []string{"--with-lib=/etc"}), "sets --with-lib itself")
	assert.ErrorContains(t, recipe.CheckExtra("s6", v("2.15.1.0"), []string{"--enable-nsss=`id`"}), "want --name or --name=value")
}

func TestOlderThanTheFactsIsRefused(t *testing.T) {
	_, err := recipe.For("s6", v("1.1.3.2"), recipe.Options{Static: true, DestDir: "/out"})
	assert.ErrorContains(t, err, "s6builder knows releases from 2.0.0.0 on")
}

// The prefix is compiled in (--prefix) and is where each dependency's tree
// holds its headers, libraries and sysdeps under its root.
func TestPrefixIsCompiledInAndFindsTheDeps(t *testing.T) {
	deps := []recipe.Dep{
		{Package: "skalibs", Version: v("2.15.1.0"), Root: "/deps/skalibs"},
		{Package: "execline", Version: v("2.9.9.2"), Root: "/deps/execline"},
	}
	s6, err := recipe.For("s6", v("2.15.1.0"), recipe.Options{Static: true, Deps: deps, DestDir: "/out", Prefix: "/usr/local"})
	require.NoError(t, err)
	assert.Equal(t, []string{"./configure", "--prefix=/usr/local", "--enable-static-libc", "--disable-shared",
		"--with-sysdeps=/deps/skalibs/usr/local/lib/skalibs/sysdeps",
		"--with-include=/deps/skalibs/usr/local/include", "--with-lib=/deps/skalibs/usr/local/lib",
		"--with-include=/deps/execline/usr/local/include", "--with-lib=/deps/execline/usr/local/lib"}, s6.Configure)
	assert.Equal(t, []string{"sh", "-c", `exec make -j"$(nproc)" "$@"`, "make", "install", "DESTDIR=/out"}, s6.Install)

	for _, bad := range []string{"usr", "/usr/", "/usr/../etc"} {
		_, err := recipe.For("s6", v("2.15.1.0"), recipe.Options{Static: true, Deps: deps, DestDir: "/out", Prefix: bad})
		assert.ErrorContains(t, err, "Prefix must be a clean absolute path", bad)
	}
}

// Multicall goes to the releases whose configure takes it, and only there.
func TestMulticallFollowsTheRelease(t *testing.T) {
	for _, tc := range []struct {
		pkg, ver string
		want     bool
	}{
		{"execline", "2.9.9.2", true}, {"execline", "2.9.1.0", false}, {"execline", "2.1.2.2", false},
		{"s6-portable-utils", "2.3.1.2", true}, {"s6-linux-utils", "2.6.4.1", true},
		{"s6", "2.15.1.0", false}, {"skalibs", "2.15.1.0", false},
	} {
		r, err := recipe.For(tc.pkg, version.MustParse(tc.ver), recipe.Options{Static: true, DestDir: "/out", Multicall: true})
		require.NoError(t, err, "%s %s", tc.pkg, tc.ver)
		assert.Equal(t, tc.want, slices.Contains(r.Configure, "--enable-multicall"), "%s %s: %v", tc.pkg, tc.ver, r.Configure)
		plain, err := recipe.For(tc.pkg, version.MustParse(tc.ver), recipe.Options{Static: true, DestDir: "/out"})
		require.NoError(t, err)
		assert.NotContains(t, plain.Configure, "--enable-multicall", "only when asked")
	}
}
