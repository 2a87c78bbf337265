package main

import (
	"archive/tar"
	"context"
	"debug/elf"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/internal/ocirun"
)

// seedEnv is the test environment the image test needs, or skips (fails
// under S6BUILDER_REQUIRE_ENGINE).
func seedEnv(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{}
	var missing []string
	for _, k := range []string{"BUILDKIT_HOST", "S6BUILDER_SEED_BASE", "S6BUILDER_TOOLCHAIN", "S6BUILDER_MIRROR", "S6BUILDER_CATALOG"} {
		if env[k] = os.Getenv(k); env[k] == "" {
			missing = append(missing, k)
		}
	}
	if _, err := exec.LookPath("runc"); err != nil {
		missing = append(missing, "runc")
	}
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	if len(missing) > 0 {
		if os.Getenv("S6BUILDER_REQUIRE_ENGINE") != "" {
			t.Fatalf("needs %v (scripts/testenv up tests; S6BUILDER_REQUIRE_ENGINE is set)", missing)
		}
		t.Skipf("SKIPPED: needs %v (scripts/testenv up tests)", missing)
	}
	return env
}

// TestSeedImageUnderRunc runs docker-s6builder's line with the s6builder
// image, `docker run --privileged -v DATA:/data -e SKALIBS_VERSION=2.3.5.1
// -e EXECLINE_VERSION=2.1.2.2 -e S6_VERSION=2.1.6.0 s6builder`, under runc
// as a container engine would (internal/ocirun), with real upstream
// sources from the test environment's mirror: once against the test
// daemon's socket mounted into the container, once with the buildkitd
// inside the image. Both leave DATA/s6dist and DATA/s6src owned by DATA's
// owner (not root), the s6 2.1.6.0 dist and the three source trees.
func TestSeedImageUnderRunc(t *testing.T) {
	env := seedEnv(t)
	ctx := context.Background()
	archive := filepath.Join(t.TempDir(), "s6builder.oci.tar")
	require.NoError(t, build(ctx, options{base: env["S6BUILDER_SEED_BASE"], platforms: "linux/" + goarch(t),
		output: archive, addr: env["BUILDKIT_HOST"], progress: "quiet", epoch: 1}))

	// Reproducible: the same checkout, base and epoch give the same image.
	again := filepath.Join(t.TempDir(), "s6builder.oci.tar")
	require.NoError(t, build(ctx, options{base: env["S6BUILDER_SEED_BASE"], platforms: "linux/" + goarch(t),
		output: again, addr: env["BUILDKIT_HOST"], progress: "quiet", epoch: 1}))
	assert.Equal(t, indexOf(t, archive), indexOf(t, again), "two builds of the image, one digest")

	seedLine := []string{"SKALIBS_VERSION=2.3.5.1", "EXECLINE_VERSION=2.1.2.2", "S6_VERSION=2.1.6.0",
		"S6BUILDER_MIRROR=" + env["S6BUILDER_MIRROR"], "S6BUILDER_CATALOG=/etc/s6builder/catalog.json",
		"S6BUILDER_TOOLCHAIN=" + env["S6BUILDER_TOOLCHAIN"]}
	// run returns the container's output and its root file system.
	run := func(t *testing.T, name string, opts ...ocirun.Option) (string, string) {
		t.Helper()
		b, err := ocirun.Unpack(archive, t.TempDir())
		require.NoError(t, err)
		assert.Equal(t, []string{"/usr/local/bin/s6builder", "seed"}, b.Config.Entrypoint)
		data := filepath.Join(t.TempDir(), "data")
		require.NoError(t, os.Mkdir(data, 0o755))
		require.NoError(t, os.Chown(data, 1000, 1000)) // a user's folder
		var log strings.Builder
		opts = append([]ocirun.Option{ocirun.Privileged(), ocirun.Bind(data, "/data"),
			ocirun.Bind(env["S6BUILDER_CATALOG"], "/etc/s6builder/catalog.json"), ocirun.Env(seedLine...)}, opts...)
		c, err := ocirun.Start(b, "s6builder-seed-"+name+"-"+strconv.Itoa(os.Getpid()), &log, opts...)
		require.NoError(t, err, log.String())
		defer c.Remove()
		code, err := c.Wait(15 * time.Minute)
		require.NoError(t, err, log.String())
		require.Equal(t, 0, code, log.String())

		assert.FileExists(t, filepath.Join(data, "s6dist", "bin", "s6-svscan"), log.String())
		assert.FileExists(t, filepath.Join(data, "s6dist", "lib", "skalibs", "libskarnet.a"))
		assert.DirExists(t, filepath.Join(data, "s6dist", "include"))
		for _, src := range []string{"skalibs-2.3.5.1", "execline-2.1.2.2", "s6-2.1.6.0"} {
			assert.FileExists(t, filepath.Join(data, "s6src", src, "configure"))
		}
		n := 0
		require.NoError(t, filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
			require.NoError(t, err)
			fi, err := d.Info()
			require.NoError(t, err)
			st := fi.Sys().(*syscall.Stat_t)
			if st.Uid != 1000 || st.Gid != 1000 {
				t.Errorf("%s is owned by %d:%d, not by the data folder's owner 1000:1000", path, st.Uid, st.Gid)
			}
			n++
			return nil
		}))
		assert.Greater(t, n, 100, "entries checked")
		return log.String(), filepath.Join(b.Dir, "rootfs")
	}
	// Where s6builder keeps a daemon of its own (os.UserCacheDir, HOME=/root).
	ownDaemon := filepath.Join("root", ".cache", "s6builder", "buildkitd")

	t.Run("the test daemon's socket", func(t *testing.T) {
		sock, ok := strings.CutPrefix(env["BUILDKIT_HOST"], "unix://")
		if !ok {
			t.Skipf("BUILDKIT_HOST %s is not a unix socket to mount", env["BUILDKIT_HOST"])
		}
		// The container's own network: everything goes through the socket.
		log, rootfs := run(t, "socket", ocirun.Bind(sock, "/run/buildkit/buildkitd.sock"))
		assert.Contains(t, log, "s6builder: dist tree in /data/s6dist")
		assert.NoDirExists(t, filepath.Join(rootfs, ownDaemon), "no daemon of its own")
	})
	t.Run("its own buildkitd", func(t *testing.T) {
		// The host's network (docker run --network host): the daemon in
		// the container pulls the toolchain and fetches the sources from
		// the test environment's registry and mirror on 127.0.0.1.
		log, rootfs := run(t, "own", ocirun.HostNetwork())
		assert.Contains(t, log, "s6builder: dist tree in /data/s6dist")
		assert.DirExists(t, filepath.Join(rootfs, ownDaemon), "the daemon's state, in the container")
		assert.Regexp(t, `: [1-9][0-9]* steps executed`, log, "compiled by its own daemon, cold")
	})
}

func goarch(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOARCH").Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

// indexOf is the index.json of an OCI archive: the image's digest.
func indexOf(t *testing.T, archive string) string {
	t.Helper()
	f, err := os.Open(archive)
	require.NoError(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		require.NoError(t, err, "no index.json in %s", archive)
		if h.Name == "index.json" {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			return string(b)
		}
	}
}

// TestProgramsForEachPlatform: the image's programs are compiled for the
// platform of each image of the index (here arm64 and arm/v7 beside this
// machine's): static ELF files of that machine.
func TestProgramsForEachPlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles buildkitd twice")
	}
	for _, tc := range []struct {
		platform string
		machine  elf.Machine
		class    elf.Class
	}{
		{"linux/arm64", elf.EM_AARCH64, elf.ELFCLASS64},
		{"linux/arm/v7", elf.EM_ARM, elf.ELFCLASS32},
	} {
		dir := t.TempDir()
		gc, err := newCompiler(context.Background())
		require.NoError(t, err)
		require.NoError(t, gc.compile(context.Background(), tc.platform, dir))
		for _, prog := range []string{"s6builder", "buildkitd", "buildctl"} {
			f, err := elf.Open(filepath.Join(dir, prog))
			require.NoError(t, err, "%s for %s", prog, tc.platform)
			assert.Equal(t, tc.machine, f.Machine, "%s for %s", prog, tc.platform)
			assert.Equal(t, tc.class, f.Class, "%s for %s", prog, tc.platform)
			for _, p := range f.Progs {
				assert.NotEqual(t, elf.PT_INTERP, p.Type, "%s for %s: static, no interpreter", prog, tc.platform)
			}
			f.Close()
		}
	}
}
