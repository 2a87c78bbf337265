package main_test

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/internal/fixtures"
	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/release"
)

// realSourcesMirror serves the real upstream sources (S6BUILDER_REAL_SOURCES)
// and writes a catalogue of their digests; it skips without them (fails
// under S6BUILDER_REQUIRE_ENGINE).
func realSourcesMirror(t *testing.T) (*fixtures.Mirror, string) {
	t.Helper()
	m := fixtures.RealSources(t)
	b, err := json.Marshal(m.Catalog())
	require.NoError(t, err)
	cat := filepath.Join(t.TempDir(), "catalog.json")
	require.NoError(t, os.WriteFile(cat, b, 0o644))
	return m, cat
}

// s6builder overlay writes the tarballs, SHA256SUMS, the manifest and the
// SBOM; verify rebuilds them identical, and names a changed byte, a file
// added and an edited manifest as TAMPERED (exit 1); a second run replaces
// the output, which is s6builder's.
func TestRealSourcesOverlayThenVerify(t *testing.T) {
	addr, tc := engineEnv(t)
	m, cat := realSourcesMirror(t)
	env := []string{"BUILDKIT_HOST=" + addr}
	dir := filepath.Join(t.TempDir(), "s6-overlay")
	args := []string{"overlay", "--s6-overlay", "3.2.3.2", "--platform", "linux/amd64,aarch64", "--mirror", m.URL, "--catalog", cat, "--toolchain", tc, "--progress", "quiet", "-o", dir}
	log, code := run(t, env, args...)
	require.Equal(t, 0, code, log)
	sums, err := release.ReadSums(filepath.Join(dir, release.SumsFile))
	require.NoError(t, err)
	for _, name := range []string{"s6-overlay-noarch.tar.xz", "s6-overlay-x86_64.tar.xz", "s6-overlay-aarch64.tar.xz", "s6-overlay-symlinks-arch.tar.xz",
		"s6-overlay-x86_64.tar.xz.sha256", release.ManifestFile, release.SBOMFile} {
		assert.Contains(t, sums, name)
	}
	om, ok, err := release.ReadOverlayManifest(dir)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "3.2.3.2", om.S6Overlay)
	assert.Len(t, om.Platforms, 2)
	var helpers release.Source
	for _, s := range om.Sources {
		if s.Package == "s6-overlay-helpers" {
			helpers = s
		}
	}
	assert.Equal(t, "0.1.2.2", helpers.Version)
	sbom, err := os.ReadFile(filepath.Join(dir, release.SBOMFile))
	require.NoError(t, err)
	assert.Contains(t, string(sbom), strings.TrimPrefix(helpers.Digest, "sha256:"))

	log, code = run(t, env, "verify", dir, "--progress", "quiet")
	require.Equal(t, 0, code, log)
	for name, sum := range sums {
		assert.Contains(t, log, "identical  "+sum+"  "+name)
	}

	// The same again into the same folder: it is s6builder's, so replaced.
	log, code = run(t, env, args...)
	require.Equal(t, 0, code, log)

	tarball := filepath.Join(dir, "s6-overlay-aarch64.tar.xz")
	b, err := os.ReadFile(tarball)
	require.NoError(t, err)
	b[len(b)/2] ^= 0xff
	require.NoError(t, os.WriteFile(tarball, b, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("x\n"), 0o644))
	manifest := filepath.Join(dir, release.ManifestFile)
	mb, err := os.ReadFile(manifest)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(manifest, []byte(strings.Replace(string(mb), `"s6_overlay": "3.2.3.2"`, `"s6_overlay": "3.2.3.2" `, 1)), 0o644))
	log, code = run(t, env, "verify", dir, "--progress", "quiet")
	assert.Equal(t, 1, code, log)
	assert.Contains(t, log, "TAMPERED   s6-overlay-aarch64.tar.xz (its sha256 is")
	assert.Contains(t, log, "TAMPERED   extra.txt (not written by s6builder")
	assert.Contains(t, log, "TAMPERED   manifest.json (its sha256 is")
	assert.Contains(t, log, "3 files of "+dir+" are not what its SHA256SUMS says")
}

// The s6-rc definitions the tree checks take as s6-overlay's own
// (pipeline.OverlayOwnRc) are those of the real s6-overlay tarball: its
// etc/s6-rc/sources and its user bundles, with what each refers to.
func TestRealSourcesOverlayOwnRcIsTheTarballs(t *testing.T) {
	f, err := os.Open(filepath.Join(fixtures.RealSourcesDir(t), "s6-overlay-3.2.3.2.tar.gz"))
	require.NoError(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	require.NoError(t, err)
	got := map[string][]string{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		// .../etc/s6-rc/sources/NAME/FILE[/ENTRY] and
		// .../etc/s6-overlay/user-bundles.d/NAME/FILE[/ENTRY]
		_, rest, ok := strings.Cut(h.Name, "/package/admin/s6-overlay-@VERSION@/etc/s6-rc/sources/")
		if !ok {
			_, rest, ok = strings.Cut(h.Name, "/layout/rootfs-overlay/etc/s6-overlay/user-bundles.d/")
		}
		parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
		switch {
		case !ok:
		case len(parts) == 2 && parts[1] == "type":
			got[parts[0]] = append([]string{}, got[parts[0]]...)
		case len(parts) == 3 && (parts[1] == "dependencies.d" || parts[1] == "contents.d") && !strings.HasPrefix(parts[2], "."):
			got[parts[0]] = append(got[parts[0]], parts[2])
		case len(parts) == 2 && (parts[1] == "dependencies" || parts[1] == "contents"):
			t.Fatalf("%s: the old list format; the test reads only the .d directories", h.Name)
		}
	}
	want := map[string][]string{}
	for n, refs := range pipeline.OverlayOwnRc {
		want[n] = append([]string{}, refs...)
	}
	for n := range got {
		slices.Sort(got[n])
	}
	assert.Equal(t, want, got)
}
