package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/pipeline"
)

// tree writes a small dist tree into dir with the given mtime.
func tree(t *testing.T, dir string, mtime time.Time) {
	t.Helper()
	for name, body := range map[string]string{"bin/s6-svscan": "\x7fELF svscan", "bin/execlineb": "\x7fELF", "include/s6/s6.h": "#pragma once\n", ".s6builder.json": "{}"} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	require.NoError(t, os.Chmod(filepath.Join(dir, "bin/s6-svscan"), 0o755))
	require.NoError(t, os.Symlink("s6-svscan", filepath.Join(dir, "bin/svscan")))
	require.NoError(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		require.NoError(t, err)
		if fi.Mode()&os.ModeSymlink == 0 {
			require.NoError(t, os.Chtimes(p, mtime, mtime))
		}
		return nil
	}))
}

func TestTarballsOfTheSameTreeAreTheSameBytes(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	tree(t, a, time.Unix(1, 0))
	tree(t, b, time.Now())
	var ta, tb bytes.Buffer
	require.NoError(t, WriteTarball(&ta, a, 1435190400, ".s6builder.json"))
	require.NoError(t, WriteTarball(&tb, b, 1435190400, ".s6builder.json"))
	assert.Equal(t, ta.Bytes(), tb.Bytes(), "trees that differ only in their files' times")

	zr, err := gzip.NewReader(bytes.NewReader(ta.Bytes()))
	require.NoError(t, err)
	assert.Equal(t, "", zr.Header.Name)
	assert.True(t, zr.Header.ModTime.IsZero(), "no time in the gzip header: %v", zr.Header.ModTime)
	tr := tar.NewReader(zr)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		got = append(got, h.Name)
		assert.Equal(t, int64(1435190400), h.ModTime.Unix(), h.Name)
		assert.Equal(t, 0, h.Uid)
		assert.Equal(t, "", h.Uname)
		switch h.Name {
		case "bin/s6-svscan":
			assert.Equal(t, int64(0o755), h.Mode)
		case "bin/svscan":
			assert.Equal(t, byte(tar.TypeSymlink), h.Typeflag)
			assert.Equal(t, "s6-svscan", h.Linkname)
		}
	}
	assert.Equal(t, []string{"bin/", "bin/execlineb", "bin/s6-svscan", "bin/svscan", "include/", "include/s6/", "include/s6/s6.h"}, got,
		"sorted, directories with their slash, the marker left out")

	// Another time gives other bytes: the time is in them.
	var tc bytes.Buffer
	require.NoError(t, WriteTarball(&tc, a, 1435190401, ".s6builder.json"))
	assert.NotEqual(t, ta.Bytes(), tc.Bytes())
}

func TestATreeWithADeviceOrFifoIsRefused(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	err := WriteTarball(io.Discard, dir, 0)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "fifo: neither a file, a directory nor a symbolic link")
}

func TestSourceDateEpochIsTheNewestSourceReleaseDay(t *testing.T) {
	cat, err := pipeline.LoadCatalog()
	require.NoError(t, err)
	p, err := pipeline.New(cat, pipeline.Request{S6: "2.1.6.0"})
	require.NoError(t, err)
	epoch, err := SourceDateEpoch([]*pipeline.Plan{p})
	require.NoError(t, err)
	// skalibs 2.3.5.1 2015-06-08, execline 2.1.2.2 2015-06-11, s6 2.1.6.0 2015-06-25.
	assert.Equal(t, time.Date(2015, 6, 25, 0, 0, 0, 0, time.UTC).Unix(), epoch)
	assert.Equal(t, "s6-2.1.6.0-"+pipeline.PlatformDir(p.Request.Platform)+".tar.gz", TarballName(p))
}

func TestWriteMakesSumsManifestAndSBOMFromTheInputsOnly(t *testing.T) {
	cat, err := pipeline.LoadCatalog()
	require.NoError(t, err)
	p, err := pipeline.New(cat, pipeline.Request{S6: "2.1.6.0", Platform: "linux/arm64", BuildPlatform: "linux/amd64"})
	require.NoError(t, err)
	inv := map[string]Inventory{ToolchainKey(p): {Packages: []string{"gcc 4:12.2.0-3 amd64"}, Compilers: map[string]string{"x": "gcc 12"}}}
	var outs [][]byte
	for i := 0; i < 2; i++ {
		dist, dir := t.TempDir(), t.TempDir()
		tree(t, dist, time.Unix(int64(i), 0))
		m, err := Write(dir, "test", 1435190400, []*pipeline.Plan{p}, []string{dist}, inv, ".s6builder.json")
		require.NoError(t, err)
		require.Len(t, m.Artifacts, 1)
		a := m.Artifacts[0]
		assert.Equal(t, "linux/arm64", a.Platform)
		assert.Equal(t, "linux/amd64", a.BuildPlatform)
		assert.Len(t, a.Sources, 3)
		assert.Len(t, a.Builds, 3)
		assert.Equal(t, []string{"gcc 4:12.2.0-3 amd64"}, m.Toolchains[0].Packages)
		assert.NotEmpty(t, m.Toolchains[0].Setup, "the default toolchain's setup steps")
		sums, err := ReadSums(filepath.Join(dir, SumsFile))
		require.NoError(t, err)
		assert.Len(t, sums, 3)
		assert.Equal(t, a.SHA256, sums[a.File])
		var all []byte
		for _, n := range []string{a.File, ManifestFile, SBOMFile, SumsFile} {
			b, err := os.ReadFile(filepath.Join(dir, n))
			require.NoError(t, err)
			all = append(all, b...)
		}
		outs = append(outs, all)
		sbom, _ := os.ReadFile(filepath.Join(dir, SBOMFile))
		assert.Contains(t, string(sbom), `"created": "2015-06-25T00:00:00Z"`)
		assert.Contains(t, string(sbom), `"downloadLocation": "https://skarnet.org/software/s6/s6-2.1.6.0.tar.gz"`)
	}
	assert.Equal(t, outs[0], outs[1])
}
