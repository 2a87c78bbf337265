package buildkit_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/internal/overlayref"
	"github.com/s6builder/s6builder/pipeline"
)

// TestRealSourcesOverlayIsS6OverlaysOwn makes s6-overlay 3.2.3.2's
// tarballs for linux/amd64 and linux/arm64 from the real sources (its own
// tarball, the packages its conf/versions names, s6-overlay-helpers,
// Debian's BearSSL) and compares every entry (path, type, mode, owner, link
// target) of every tarball with what s6-overlay's own Makefile makes of the
// same tarballs, run unmodified (`make all`) in the same toolchain image
// (theirOverlay). The .sha256 files say the tarballs' digests; the
// programs are static ELF of their platform and run; two cold runs, each on
// a fresh daemon of its own, give the same bytes.
func TestRealSourcesOverlayIsS6OverlaysOwn(t *testing.T) {
	e := engine(t)
	m := realSources(t)
	const version = "3.2.3.2"
	cat := realCatalog(t, m)
	var plans []*pipeline.Plan
	for _, platform := range []string{"linux/amd64", "linux/arm64"} {
		p, err := pipeline.NewOverlay(cat, pipeline.OverlayRequest{Version: version, Platform: platform, BuildPlatform: "linux/amd64",
			Mirror: m.URL, Toolchain: pipeline.Toolchain{Image: e.toolchain}})
		require.NoError(t, err)
		plans = append(plans, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "overlay")
	start := time.Now()
	first := coldEngine(t)
	names, err := bk.Overlay(ctx, first.c, plans, bk.OverlayOptions{Dir: out, Progress: "quiet"})
	require.NoError(t, err)
	t.Logf("s6builder overlay, amd64 and arm64, on a cold daemon: %.1fs", time.Since(start).Seconds())
	assert.ElementsMatch(t, []string{
		"s6-overlay-noarch.tar.xz", "s6-overlay-symlinks-noarch.tar.xz", "syslogd-overlay-noarch.tar.xz",
		"s6-overlay-x86_64.tar.xz", "s6-overlay-aarch64.tar.xz", "s6-overlay-symlinks-arch.tar.xz",
		"s6-overlay-noarch.tar.xz.sha256", "s6-overlay-symlinks-noarch.tar.xz.sha256", "syslogd-overlay-noarch.tar.xz.sha256",
		"s6-overlay-x86_64.tar.xz.sha256", "s6-overlay-aarch64.tar.xz.sha256", "s6-overlay-symlinks-arch.tar.xz.sha256"}, names)

	for _, arch := range []struct {
		triple, hw string
		machine    elf.Machine
	}{
		{"x86_64-linux-musl", "x86_64", elf.EM_X86_64},
		{"aarch64-linux-musl", "aarch64", elf.EM_AARCH64},
	} {
		ref := theirOverlay(t, ctx, e, plans[0], arch.hw)
		for _, name := range append(append([]string{}, pipeline.OverlayNoarchTarballs...), pipeline.OverlayArchTarball(arch.hw), pipeline.OverlaySymlinksArch) {
			want, got := entries(t, filepath.Join(ref, name)), entries(t, filepath.Join(out, name))
			assert.NotEmpty(t, got, name)
			assert.Equal(t, want, got, "%s: entries and contents as s6-overlay's Makefile makes them for %s", name, arch.triple)
			sum, err := os.ReadFile(filepath.Join(out, name+".sha256"))
			require.NoError(t, err)
			b, err := os.ReadFile(filepath.Join(out, name))
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprintf("%x  %s\n", sha256sum(b), name), string(sum), "%s.sha256 in sha256sum's format", name)
			theirs, err := os.ReadFile(filepath.Join(ref, name))
			require.NoError(t, err)
			t.Logf("%s: %d entries, %d bytes (s6-overlay's Makefile: %d bytes)", name, len(got), len(b), len(theirs))
		}
		program := tarFile(t, filepath.Join(out, pipeline.OverlayArchTarball(arch.hw)), "./package/admin/s6-2.15.1.0/command/s6-svscan")
		assert.Equal(t, arch.machine, elfMachine(t, program), "s6-svscan of %s", arch.hw)
		// They run (arm64's under the host's emulator): execline's
		// multicall program, called as execlineb, runs a script.
		multicall := tarFile(t, filepath.Join(out, pipeline.OverlayArchTarball(arch.hw)), "./package/admin/execline-2.9.9.2/command/execline")
		execlineb := filepath.Join(t.TempDir(), "execlineb")
		require.NoError(t, os.WriteFile(execlineb, multicall, 0o755))
		said, err := exec.Command(execlineb, "-c", "echo ran on "+arch.hw).CombinedOutput()
		require.NoError(t, err, "%s", said)
		assert.Equal(t, "ran on "+arch.hw+"\n", string(said))
	}

	// Reproducible: the same plans, cold, on another daemon of their own.
	again := filepath.Join(t.TempDir(), "overlay")
	cold := coldEngine(t)
	start = time.Now()
	_, err = bk.Overlay(ctx, cold.c, plans, bk.OverlayOptions{Dir: again, Progress: "quiet"})
	require.NoError(t, err)
	t.Logf("s6builder overlay, amd64 and arm64, on a second cold daemon: %.1fs", time.Since(start).Seconds())
	for _, name := range names {
		a, err := os.ReadFile(filepath.Join(out, name))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(again, name))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(a, b), "%s: the same bytes from a cold daemon", name)
	}
}

// theirOverlay runs s6-overlay's own Makefile (internal/overlayref) for
// arch on the plan's sources and returns the folder its tarballs are
// exported to.
func theirOverlay(t *testing.T, ctx context.Context, e env, p *pipeline.Plan, arch string) string {
	t.Helper()
	st, err := overlayref.Build(p, arch)
	require.NoError(t, err)
	def, err := st.Marshal(ctx)
	require.NoError(t, err)
	ref := t.TempDir()
	start := time.Now()
	_, err = e.c.Solve(ctx, def, client.SolveOpt{Exports: []client.ExportEntry{{Type: client.ExporterLocal, OutputDir: ref}}}, nil)
	require.NoError(t, err)
	t.Logf("s6-overlay's Makefile, make all for %s: %.1fs", arch, time.Since(start).Seconds())
	return ref
}

// tarFile is the content of the file name in an xz'd tarball.
func tarFile(t *testing.T, path, name string) []byte {
	t.Helper()
	raw, err := exec.Command("xz", "-dc", path).Output()
	require.NoError(t, err, "xz -dc %s", path)
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		h, err := tr.Next()
		require.NoError(t, err, "%s in %s", name, path)
		if h.Name == name {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			return b
		}
	}
}

// elfMachine is a program's machine; it must be static (no interpreter).
func elfMachine(t *testing.T, program []byte) elf.Machine {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(program))
	require.NoError(t, err)
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "a static program has no interpreter")
	}
	return f.Machine
}

// entries lists an xz'd tarball's entries as "type mode uid:gid path ->
// link" and a regular file's sha256, sorted (s6-overlay's Makefile tars in
// directory order).
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
		content := ""
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			content = fmt.Sprintf(" sha256:%x", sha256sum(b))
		}
		out = append(out, fmt.Sprintf("%c %o %d:%d %s -> %s%s", h.Typeflag, h.Mode, h.Uid, h.Gid, h.Name, h.Linkname, content))
	}
	sort.Strings(out)
	return out
}

func sha256sum(b []byte) [32]byte { return sha256.Sum256(b) }
