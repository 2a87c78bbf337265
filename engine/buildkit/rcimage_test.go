package buildkit_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/internal/fixtures"
	"github.com/s6builder/s6builder/internal/ocirun"
	"github.com/s6builder/s6builder/pipeline"
)

// TestRealSourcesS6RcImage builds examples/s6-rc into an image (s6 2.15.1.0,
// s6-rc 0.7.0.0, s6-linux-init 1.2.0.2 from real sources, over Debian) and
// runs it under runc: PID 1 is s6-linux-init's (it execs into s6-svscan
// over /run/service, with s6-linux-init-shutdownd); the oneshot runs before
// both longruns start; killing a longrun restarts it; SIGTERM brings the
// longruns down, then the oneshot, and the container exits 0 within the
// grace time; the worker's exit code becomes the container's. The same,
// built for UID 1000, runs as that user with a read-only root and a tmpfs
// at /run.
func TestRealSourcesS6RcImage(t *testing.T) {
	e, m := engine(t), realSources(t)
	base := fixtures.TestEnv(t, "S6BUILDER_SSHD_BASE")
	cat := realCatalog(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	native, err := bk.NativePlatform(ctx, e.c)
	require.NoError(t, err)
	rcDir, err := filepath.Abs("../../examples/s6-rc/rc")
	require.NoError(t, err)

	build := func(t *testing.T, user string) *ocirun.Bundle {
		p, err := pipeline.New(cat, pipeline.Request{S6: "2.15.1.0", With: []string{"s6-rc=0.7.0.0", "s6-linux-init=1.2.0.2"},
			BuildPlatform: native, Mirror: m.URL, Toolchain: pipeline.Toolchain{Image: e.toolchain}, Prefix: pipeline.DefaultImagePrefix})
		require.NoError(t, err)
		spec, err := pipeline.AddRcImage(p, pipeline.RcImage{Base: base, User: user})
		require.NoError(t, err)
		archive := filepath.Join(t.TempDir(), "image.tar")
		_, err = bk.BuildImage(ctx, e.c, bk.ImageInput{Spec: spec, Plans: []*pipeline.Plan{p}, Locals: map[string]string{pipeline.LocalRc: rcDir}},
			bk.ImageOptions{OCIArchive: archive, Progress: "quiet"})
		require.NoError(t, err)
		b, err := ocirun.Unpack(archive, t.TempDir())
		require.NoError(t, err)
		assert.Equal(t, []string{"/etc/s6-linux-init/current/bin/init"}, []string(b.Config.Entrypoint))
		assert.Equal(t, user, b.Config.User)
		return b
	}
	start := func(t *testing.T, b *ocirun.Bundle, opts ...ocirun.Option) (*ocirun.Container, *syncLog, int) {
		log := &syncLog{}
		c, err := ocirun.Start(b, fmt.Sprintf("s6builder-test-%d", time.Now().UnixNano()), log, opts...)
		require.NoError(t, err)
		t.Cleanup(c.Remove)
		init, err := c.Pid()
		require.NoError(t, err)
		waitFor(t, "the default bundle up: prepare, then app and worker", func() error {
			for _, line := range []string{"prepare: /run/app ready", "app: started", "worker: started"} {
				if !strings.Contains(log.String(), line) {
					return fmt.Errorf("no %q yet", line)
				}
			}
			return nil
		}, log)
		out := log.String()
		prepared := strings.Index(out, "prepare: /run/app ready")
		assert.Less(t, prepared, strings.Index(out, "app: started"), "the oneshot before the longrun that depends on it")
		assert.Less(t, prepared, strings.Index(out, "worker: started"), "the oneshot before the longrun that depends on it")
		return c, log, init
	}

	t.Run("a bad definition fails the build, naming the service", func(t *testing.T) {
		bad := t.TempDir()
		require.NoError(t, os.CopyFS(bad, os.DirFS(rcDir)))
		require.NoError(t, os.WriteFile(filepath.Join(bad, "app", "type"), []byte("daemon\n"), 0o644))
		p, err := pipeline.New(cat, pipeline.Request{S6: "2.15.1.0", With: []string{"s6-rc=0.7.0.0", "s6-linux-init=1.2.0.2"},
			BuildPlatform: native, Mirror: m.URL, Toolchain: pipeline.Toolchain{Image: e.toolchain}, Prefix: pipeline.DefaultImagePrefix})
		require.NoError(t, err)
		spec, err := pipeline.AddRcImage(p, pipeline.RcImage{Base: base})
		require.NoError(t, err)
		_, err = bk.BuildImage(ctx, e.c, bk.ImageInput{Spec: spec, Plans: []*pipeline.Plan{p}, Locals: map[string]string{pipeline.LocalRc: bad}},
			bk.ImageOptions{OCIArchive: filepath.Join(t.TempDir(), "image.tar"), Progress: "quiet"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "s6-rc-compile: fatal: invalid /rc/app/type")
	})

	t.Run("root", func(t *testing.T) {
		b := build(t, "")
		c, log, init := start(t, b)

		// PID 1 began as bin/init (s6-linux-init), which execs s6-svscan on
		// the scandir it made, with its shutdown daemon in it.
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", init))
		assert.Equal(t, "s6-svscan", strings.TrimSpace(string(comm)))
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", init))
		assert.Contains(t, strings.ReplaceAll(string(cmdline), "\x00", " "), "/run/service")
		out, err := c.Exec("s6-svstat", "/run/service/s6-linux-init-shutdownd")
		require.NoError(t, err, out)
		assert.Contains(t, out, "up", "s6-linux-init's shutdown daemon is supervised")
		// What only s6-linux-init as PID 1 does: its run image copied to /run.
		out, err = c.Exec("cat", "/run/s6-linux-init-container-results/exitcode")
		require.NoError(t, err, "s6-linux-init copied its run image to /run: %s", out)
		assert.Equal(t, "0", strings.TrimSpace(out))

		// Kill the longrun: s6-supervise runs finish and restarts it.
		upPID := regexp.MustCompile(`^up \(pid ([0-9]+)`)
		appPID := func() (int, error) {
			out, err := c.Exec("s6-svstat", "/run/service/app")
			if err != nil {
				return 0, fmt.Errorf("s6-svstat: %v: %s", err, out)
			}
			m := upPID.FindStringSubmatch(out)
			if m == nil {
				return 0, fmt.Errorf("s6-svstat: %s", out)
			}
			return strconv.Atoi(m[1])
		}
		var first int
		waitFor(t, "app up", func() (err error) { first, err = appPID(); return err }, log)
		out, err = c.Exec("kill", "-KILL", strconv.Itoa(first))
		require.NoError(t, err, out)
		waitFor(t, "app restarted after kill", func() error {
			p, err := appPID()
			if err == nil && p == first {
				err = fmt.Errorf("still pid %d", p)
			}
			if err == nil && strings.Count(log.String(), "app: started") < 2 {
				err = fmt.Errorf("app's run has not started again")
			}
			return err
		}, log)
		assert.Contains(t, log.String(), "app: stopped (256 9)", "finish ran with the signal")

		// SIGTERM: longruns down, then the oneshot; exit 0 within the grace.
		stop := time.Now()
		require.NoError(t, c.Signal("TERM"))
		code, err := c.Wait(pipeline.DefaultGraceMS*time.Millisecond + 10*time.Second)
		t.Logf("SIGTERM to exit: %.2fs", time.Since(stop).Seconds())
		require.NoError(t, err, "container log:\n%s", log.String())
		assert.Equal(t, 0, code, "clean exit; log:\n%s", log.String())
		out = log.String()
		down := strings.Index(out, "prepare: /run/app removed")
		require.GreaterOrEqual(t, down, 0, "the oneshot's down ran; log:\n%s", out)
		assert.Less(t, strings.LastIndex(out, "app: stopped (256 15)"), down, "app down before the oneshot it depends on")
		assert.Less(t, strings.LastIndex(out, "worker: stopped (256 15)"), down, "worker down before the oneshot it depends on")
		assert.Less(t, time.Since(stop), pipeline.DefaultGraceMS*time.Millisecond+5*time.Second)
		t.Logf("container log:\n%s", out)
	})

	t.Run("the worker's exit code is the container's", func(t *testing.T) {
		b := build(t, "")
		c, log, _ := start(t, b)
		out, err := c.Exec("sh", "-c", "echo 3 >/run/app/exit")
		require.NoError(t, err, out)
		code, err := c.Wait(30 * time.Second)
		require.NoError(t, err, "container log:\n%s", log.String())
		assert.Equal(t, 3, code, "log:\n%s", log.String())
		assert.Contains(t, log.String(), "prepare: /run/app removed", "halting brought everything down")
	})

	t.Run("non-root with a read-only root", func(t *testing.T) {
		b := build(t, "1000:1000")
		fi, err := os.Stat(filepath.Join(b.Dir, "rootfs", "run"))
		require.NoError(t, err)
		c, log, init := start(t, b, ocirun.ReadOnlyRoot(), ocirun.Tmpfs("/run", "exec", "mode=0755", "uid=1000", "gid=1000"))
		assert.True(t, fi.IsDir())
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", init))
		require.NoError(t, err)
		assert.Regexp(t, `(?m)^Uid:\s+1000\s`, string(status), "PID 1 runs as 1000")
		out, err := c.Exec("sh", "-c", "touch /etc/x 2>&1; echo $?")
		require.NoError(t, err, out)
		assert.NotEqual(t, "0", strings.TrimSpace(out), "the root is read-only: %s", out)
		require.NoError(t, c.Signal("TERM"))
		code, err := c.Wait(pipeline.DefaultGraceMS*time.Millisecond + 10*time.Second)
		require.NoError(t, err, "container log:\n%s", log.String())
		assert.Equal(t, 0, code, "log:\n%s", log.String())
		assert.Contains(t, log.String(), "prepare: /run/app removed")
	})
}
