package pipeline_test

import (
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
)

func overlayCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	cat, err := pipeline.LoadCatalog(pipeline.Layer{Source: "test", File: catalog.File{Releases: []catalog.FileRelease{
		{Package: "s6-overlay", Version: "3.2.3.2", Digest: "sha256:" + strings.Repeat("a", 64)},
		{Package: "s6-overlay-helpers", Version: "0.1.2.2", Digest: "sha256:" + strings.Repeat("b", 64)}}}})
	require.NoError(t, err)
	return cat
}

// The plan fetches GitHub's tag archive by digest (or the mirror's copy)
// and assembles the noarch tarballs in the toolchain, with the release's
// day as the time of every file.
func TestOverlayPlan(t *testing.T) {
	cat := overlayCatalog(t)
	p, err := pipeline.NewOverlay(cat, pipeline.OverlayRequest{Version: "3.2.3.2", BuildPlatform: "linux/amd64"})
	require.NoError(t, err)
	f := p.Stage(pipeline.IDOverlayFetch)
	require.NotNil(t, f)
	assert.Equal(t, "https://github.com/just-containers/s6-overlay/archive/refs/tags/v3.2.3.2.tar.gz", f.Fetch.URL)
	assert.Equal(t, "s6-overlay-3.2.3.2.tar.gz", f.Fetch.Filename)
	assert.Equal(t, "sha256:"+strings.Repeat("a", 64), f.Fetch.Digest)
	a := p.Stage(pipeline.IDOverlayNoarch)
	require.NotNil(t, a)
	assert.Equal(t, pipeline.KindAssemble, a.Kind)
	args := a.Exec.Steps[0].Args
	assert.Equal(t, []string{"/in/s6-overlay-3.2.3.2.tar.gz", "3.2.3.2", "/command", "1784160000", "/out"}, args[4:],
		"tarball, version, SHEBANGDIR, 2026-07-16 00:00 UTC, output")

	m, err := pipeline.NewOverlay(cat, pipeline.OverlayRequest{Version: "3.2.3.2", Mirror: "http://127.0.0.1:8055", BuildPlatform: "linux/amd64", SourceDateEpoch: 1700000000})
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8055/s6-overlay/s6-overlay-3.2.3.2.tar.gz", m.Stage(pipeline.IDOverlayFetch).Fetch.URL)
	assert.Equal(t, "1700000000", m.Stage(pipeline.IDOverlayNoarch).Exec.Steps[0].Args[7])
	assert.Equal(t, a.Deps, m.Stage(pipeline.IDOverlayNoarch).Deps)
	assert.NotEqual(t, a.Key, m.Stage(pipeline.IDOverlayNoarch).Key, "the epoch is an input")
}

func TestOverlayRefusals(t *testing.T) {
	cat := overlayCatalog(t)
	embedded, err := pipeline.LoadCatalog()
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		cat  *catalog.Catalog
		req  pipeline.OverlayRequest
		want string
	}{
		"no version":     {cat, pipeline.OverlayRequest{}, "give the s6-overlay release"},
		"bad version":    {cat, pipeline.OverlayRequest{Version: "3.2;id"}, `version "3.2;id"`},
		"unknown":        {cat, pipeline.OverlayRequest{Version: "9.9.9.9"}, "unknown s6-overlay release 9.9.9.9"},
		"no digest":      {embedded, pipeline.OverlayRequest{Version: "3.2.3.2"}, "nobody publishes one for a GitHub tag archive"},
		"bad mirror":     {cat, pipeline.OverlayRequest{Version: "3.2.3.2", Mirror: "ftp://x"}, "mirror"},
		"negative epoch": {cat, pipeline.OverlayRequest{Version: "3.2.3.2", SourceDateEpoch: -1}, "want seconds since 1970"},
	} {
		_, err := pipeline.NewOverlay(tc.cat, tc.req)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), tc.want, name)
	}
}

// The arch stages of a plan: every package of the release's conf/versions
// fetched by digest and built as mk/skaware.mk does (slashpackage, its
// options, on the packages it names), BearSSL for s6-networking, and the
// arch tarballs from their trees; a cross build for arm64.
func TestOverlayArchPlan(t *testing.T) {
	cat := overlayCatalog(t)
	p, err := pipeline.NewOverlay(cat, pipeline.OverlayRequest{Version: "3.2.3.2", Platform: "linux/arm64", BuildPlatform: "linux/amd64", Mirror: "http://127.0.0.1:8055"})
	require.NoError(t, err)
	assert.Equal(t, []string{"s6-overlay-aarch64.tar.xz", "s6-overlay-symlinks-arch.tar.xz"}, p.OverlayArchTarballs())
	tls := p.Stage("fetch/bearssl")
	require.NotNil(t, tls)
	assert.Equal(t, "http://127.0.0.1:8055/bearssl/bearssl_0.6+dfsg.1.orig.tar.xz", tls.Fetch.URL)
	assert.Equal(t, "sha256:102a625bd8f6155260867a50c508df8d8c3f796985dd744df1a68e5cd1a79004", tls.Fetch.Digest, "Debian's published digest")
	helpers := p.Stage("fetch/s6-overlay-helpers")
	require.NotNil(t, helpers)
	assert.Equal(t, "sha256:"+strings.Repeat("b", 64), helpers.Fetch.Digest, "pinned by the catalogue")

	net := p.Stage("build/s6-networking")
	require.NotNil(t, net)
	assert.Equal(t, "2.8.0.1", net.Version, "conf/versions' release")
	assert.Equal(t, []string{"toolchain", "fetch/s6-networking", "build/skalibs", "build/execline", "build/s6", "build/s6-dns", "build/bearssl", "kernel-headers"}, net.Deps,
		"s6-overlay's compilers see the kernel headers in every compile")
	configure := net.Exec.Step("configure").Args
	// s6-overlay's ARCH, as its Makefile configures every package; our
	// binutils by their own prefix.
	for _, want := range []string{"--enable-slashpackage", "--enable-static-libc", "--disable-shared", "--target=aarch64-linux-musl",
		"--enable-ssl=bearssl", "--with-ssl-path=/deps/bearssl",
		"--with-sysdeps=/deps/skalibs/package/prog/skalibs/sysdeps",
		"--with-include=/deps/s6-dns/package/web/s6-dns/include", "--with-lib=/deps/s6-dns/package/web/s6-dns/library"} {
		assert.Contains(t, configure, want)
	}
	assert.Equal(t, []string{"make", "-j1", "-L", "install", "update", "global-links", "DESTDIR=/out", "CROSS_COMPILE=aarch64-linux-gnu-"}, net.Exec.Step("install").Args)
	assert.Contains(t, p.Stage("build/execline").Exec.Step("configure").Args, "--enable-multicall")
	assert.Contains(t, p.Stage("build/skalibs").Exec.Step("configure").Args, "--with-default-path=/command:/usr/bin:/bin")

	arch := p.Stage(pipeline.IDOverlayArch)
	require.NotNil(t, arch)
	assert.Len(t, arch.Exec.Mounts, 10, "the ten packages' trees")
	assert.NotContains(t, arch.Deps, "build/bearssl", "BearSSL is in no tarball")

	// A one-package change reaches what depends on it, nothing else.
	other, err := pipeline.NewOverlay(cat, pipeline.OverlayRequest{Version: "3.2.3.2", Platform: "linux/amd64", BuildPlatform: "linux/amd64", Mirror: "http://127.0.0.1:8055"})
	require.NoError(t, err)
	assert.Equal(t, p.Stage(pipeline.IDOverlayNoarch).Key, other.Stage(pipeline.IDOverlayNoarch).Key, "the noarch trees are the same for every platform")
	assert.Equal(t, pipeline.IDOverlayToolchain, p.Stage(pipeline.IDOverlayNoarch).Exec.ToolchainID(), "made without the cross compilers")
	assert.Less(t, len(p.Stage(pipeline.IDOverlayToolchain).Image.Setup), len(p.Stage(pipeline.IDToolchain).Image.Setup), "the arm64 cross compiler is set up for the builds only")
	assert.NotEqual(t, p.Stage(pipeline.IDOverlayArch).Key, other.Stage(pipeline.IDOverlayArch).Key)
}

func TestOverlayPlatformRefusals(t *testing.T) {
	cat := overlayCatalog(t)
	_, err := pipeline.NewOverlay(cat, pipeline.OverlayRequest{Version: "3.2.3.2", Platform: "powerpc64", BuildPlatform: "linux/amd64"})
	assert.ErrorContains(t, err, "no Debian release has musl for big-endian POWER")
}

// entryTree is a TreeReader that lists its entries: path -> entry, with
// executable regular files in exec.
type entryTree struct {
	entries []pipeline.TreeEntry
	exec    map[string]bool
}

func (e entryTree) TopDirs() ([]string, error) { return nil, nil }
func (e entryTree) RegularFile(p string) (bool, error) {
	for _, x := range e.entries {
		if x.Path == p && x.Type == 0 {
			return true, nil
		}
	}
	return false, nil
}
func (e entryTree) Executable(p string) (bool, error)      { return e.exec[p], nil }
func (e entryTree) Entries() ([]pipeline.TreeEntry, error) { return e.entries, nil }
func (e entryTree) Names(dir string) ([]string, error) {
	var out []string
	for _, x := range e.entries {
		if d, name := path.Split(x.Path); d == dir+"/" {
			out = append(out, name)
		}
	}
	return out, nil
}
func (e entryTree) ReadFile(p string) ([]byte, error) { return nil, nil }

func TestOverlayRootChecks(t *testing.T) {
	dir := func(p string) pipeline.TreeEntry { return pipeline.TreeEntry{Path: p, Type: fs.ModeDir} }
	file := func(p string) pipeline.TreeEntry { return pipeline.TreeEntry{Path: p} }
	good := []pipeline.TreeEntry{dir("etc"), dir("etc/cont-init.d"), file("etc/cont-init.d/10-setup"),
		dir("etc/services.d"), dir("etc/services.d/web"), file("etc/services.d/web/run"), file("etc/services.d/web/notification-fd"),
		dir("etc/s6-overlay"), dir("etc/s6-overlay/s6-rc.d"), dir("etc/s6-overlay/s6-rc.d/app"), file("etc/s6-overlay/s6-rc.d/app/type"),
		{Path: "usr/local/bin/app", Type: fs.ModeSymlink, Target: "/opt/app/bin/app"}}
	exec := map[string]bool{"etc/cont-init.d/10-setup": true, "etc/services.d/web/run": true}
	tree, err := pipeline.ReadOverlayRoot(entryTree{good, exec})
	require.NoError(t, err)
	assert.NoError(t, tree.Check(), "an absolute link is fine in the image's root")

	for name, tc := range map[string]struct {
		entries []pipeline.TreeEntry
		exec    map[string]bool
		want    string
	}{
		"script not executable": {good, map[string]bool{"etc/services.d/web/run": true}, "etc/cont-init.d/10-setup: not an executable file"},
		"run not executable":    {good, map[string]bool{"etc/cont-init.d/10-setup": true}, "etc/services.d/web/run: not an executable file"},
		"no type":               {append(good, dir("etc/s6-overlay/s6-rc.d/db")), exec, "etc/s6-overlay/s6-rc.d/db: an s6-rc definition without a type file"},
		"fifo":                  {append(good, pipeline.TreeEntry{Path: "etc/pipe", Type: fs.ModeNamedPipe}), exec, "etc/pipe: a fifo"},
		"newline":               {append(good, file("etc/a\nb")), exec, "a name with a control character"},
		"unreadable":            {append(good, pipeline.TreeEntry{Path: "etc/shadow", Unreadable: true}), exec, "etc/shadow: not readable (permission denied)"},
	} {
		tree, err := pipeline.ReadOverlayRoot(entryTree{tc.entries, tc.exec})
		require.NoError(t, err)
		assert.ErrorContains(t, tree.Check(), tc.want, name)
	}
}

// --with overrides a release of conf/versions, checked against the
// releases' package/deps-build.
func TestOverlayWith(t *testing.T) {
	cat := overlayCatalog(t)
	req := pipeline.OverlayRequest{Version: "3.2.3.2", BuildPlatform: "linux/amd64", With: []string{"s6-rc=0.6.1.1"}}
	p, err := pipeline.NewOverlay(cat, req)
	require.NoError(t, err)
	assert.Equal(t, "0.6.1.1", p.Stage("build/s6-rc").Version)
	base, err := pipeline.NewOverlay(cat, pipeline.OverlayRequest{Version: "3.2.3.2", BuildPlatform: "linux/amd64"})
	require.NoError(t, err)
	assert.Equal(t, base.Stage("build/skalibs").Key, p.Stage("build/skalibs").Key, "what s6-rc builds on is untouched")
	assert.NotEqual(t, base.Stage("build/s6-rc").Key, p.Stage("build/s6-rc").Key, "the package changed is rebuilt")
	for _, same := range []string{"build/s6", "build/s6-linux-init", "build/s6-networking", "build/s6-overlay-helpers"} {
		assert.Equal(t, base.Stage(same).Key, p.Stage(same).Key, "%s does not build on s6-rc", same)
	}
	assert.NotEqual(t, base.Stage(pipeline.IDOverlayArch).Key, p.Stage(pipeline.IDOverlayArch).Key, "the arch tarball holds s6-rc")
	assert.Equal(t, base.Stage(pipeline.IDOverlayNoarch).Key, p.Stage(pipeline.IDOverlayNoarch).Key, "the noarch ones do not")

	for with, want := range map[string]string{
		"skalibs=2.3.5.1":            "s6 2.15.1.0 needs skalibs 2.15.1.0 or later (its package/deps-build), and the set has skalibs 2.3.5.1",
		"execline=2.1.2.2":           "s6 2.15.1.0 needs execline 2.9.9.2 or later",
		"nsss=0.2.1.3":               "s6-overlay 3.2.3.2 builds skalibs, execline, s6, s6-rc, s6-linux-init, s6-portable-utils, s6-linux-utils, s6-dns, s6-networking, s6-overlay-helpers: nsss is not one of them",
		"s6=2.1.7.0":                 "unknown s6 release 2.1.7.0",
		"s6":                         "want PACKAGE=VERSION",
		"s6=2.15;id":                 `version "2.15;id"`,
		"s6-overlay-helpers=0.1.2.2": "",
		"s6=2.15.0.0":                "s6-rc 0.7.0.0 needs s6 2.15.1.0 or later (its package/deps-build), and the set has s6 2.15.0.0",
	} {
		_, err := pipeline.NewOverlay(cat, pipeline.OverlayRequest{Version: "3.2.3.2", BuildPlatform: "linux/amd64", With: []string{with}})
		if want == "" {
			assert.NoError(t, err, with)
			continue
		}
		assert.ErrorContains(t, err, want, with)
	}
}
