package buildkit_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/pipeline"
)

// TestRealSourcesOverlayNoarchIsS6OverlaysOwn makes s6-overlay 3.2.3.2's
// noarch tarballs from its real source tarball and compares every entry
// (path, type, mode, owner, link target) with what s6-overlay's own
// Makefile makes of the same tarball, run unmodified on the same daemon
// (its rootfs-overlay-noarch-tarball, symlinks-overlay-noarch-tarball and
// syslogd-overlay-noarch-tarball targets) in a tree with a git checkout's
// modes, as its releases are built. The .sha256 files say the tarballs'
// digests, and a second run gives the same bytes.
func TestRealSourcesOverlayNoarchIsS6OverlaysOwn(t *testing.T) {
	e := engine(t)
	m := realSources(t)
	const version = "3.2.3.2"
	cat, err := pipeline.LoadCatalog(pipeline.Layer{Source: "real sources", File: m.Catalog()})
	require.NoError(t, err)
	p, err := pipeline.NewOverlay(cat, pipeline.OverlayRequest{Version: version, Mirror: m.URL, Toolchain: pipeline.Toolchain{Image: e.toolchain}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "overlay")
	names, err := bk.Overlay(ctx, e.c, []*pipeline.Plan{p}, bk.OverlayOptions{Dir: out, Progress: "quiet"})
	require.NoError(t, err)
	assert.Len(t, names, 6)

	// s6-overlay's own Makefile, on the same tarball, fetched by digest.
	fetch := p.Stage(pipeline.IDOverlayFetch).Fetch
	src := llb.HTTP(fetch.URL, llb.Checksum(digestOf(t, fetch.Digest)), llb.Filename(fetch.Filename))
	theirs := llb.Image(e.toolchain).Run(
		llb.Args([]string{"sh", "-ec", fmt.Sprintf(`mkdir -p /tmp/s /out
tar -xzf /in/%s -C /tmp/s --no-same-owner
cd /tmp/s/s6-overlay-%s
chmod -R go-w .
make rootfs-overlay-noarch-tarball symlinks-overlay-noarch-tarball syslogd-overlay-noarch-tarball
cp output/*.tar.xz /out/`, fetch.Filename, version)}),
		llb.AddMount("/in", src, llb.Readonly),
		llb.WithCustomName("s6-overlay's own Makefile, noarch targets"),
	).AddMount("/out", llb.Scratch())
	def, err := theirs.Marshal(ctx)
	require.NoError(t, err)
	ref := t.TempDir()
	_, err = e.c.Solve(ctx, def, client.SolveOpt{Exports: []client.ExportEntry{{Type: client.ExporterLocal, OutputDir: ref}}}, nil)
	require.NoError(t, err)

	for _, name := range pipeline.OverlayNoarchTarballs {
		want, got := entries(t, filepath.Join(ref, name)), entries(t, filepath.Join(out, name))
		assert.NotEmpty(t, got, name)
		assert.Equal(t, want, got, "%s: entries as s6-overlay's Makefile makes them", name)
		sum, err := os.ReadFile(filepath.Join(out, name+".sha256"))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(out, name))
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("%x  %s\n", sha256sum(b), name), string(sum), "%s.sha256 in sha256sum's format", name)
		t.Logf("%s: %d entries, %d bytes", name, len(got), len(b))
	}

	// Reproducible: the same plan again, into another folder, the same bytes.
	again := filepath.Join(t.TempDir(), "overlay")
	_, err = bk.Overlay(ctx, e.c, []*pipeline.Plan{p}, bk.OverlayOptions{Dir: again, Progress: "quiet"})
	require.NoError(t, err)
	for _, name := range pipeline.OverlayNoarchTarballs {
		a, err := os.ReadFile(filepath.Join(out, name))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(again, name))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(a, b), "%s: the same bytes twice", name)
	}
}

// entries lists an xz'd tarball's entries as "type mode uid:gid path ->
// link", sorted (s6-overlay's Makefile tars in directory order).
func entries(t *testing.T, path string) []string {
	t.Helper()
	raw, err := exec.Command("xz", "-dc", path).Output()
	require.NoError(t, err, "xz -dc %s", path)
	tr := tar.NewReader(bytes.NewReader(raw))
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		out = append(out, fmt.Sprintf("%c %o %d:%d %s -> %s", h.Typeflag, h.Mode, h.Uid, h.Gid, h.Name, h.Linkname))
	}
	sort.Strings(out)
	return out
}

func digestOf(t *testing.T, s string) digest.Digest {
	t.Helper()
	d, err := digest.Parse(s)
	require.NoError(t, err)
	return d
}

func sha256sum(b []byte) [32]byte { return sha256.Sum256(b) }
