package buildkit_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/internal/fixtures"
	"github.com/s6builder/s6builder/internal/ocirun"
	"github.com/s6builder/s6builder/pipeline"
)

// The image tests build the sshd example into an image, unpack it and run it
// with runc, s6-svscan as PID 1: services start, a killed sshd restarts, an
// orphan is reaped, SIGTERM stops everything cleanly. The dist is Debian's
// s6 packages (always) and, with S6BUILDER_REAL_SOURCES, s6 2.1.6.0 built by
// s6builder from the real 2015 sources.

// orphanRun makes an orphan every second: the subshell exits at once, so
// its `sleep 2` is reparented to PID 1, which must reap it.
const orphanRun = "#!/bin/sh\nwhile :; do ( sleep 2 & ) ; sleep 1; done\n"

// syncLog is a log buffer the container writes to while the test reads it.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serviceTree is the sshd example plus a service that makes orphans.
func serviceTree(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "s6")
	out, err := exec.Command("cp", "-a", filepath.Join(fixtures.Dir(), "..", "..", "examples", "sshd", "etc", "s6"), dir).CombinedOutput()
	require.NoError(t, err, string(out))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "orphans"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "orphans", "run"), []byte(orphanRun), 0o755))
	return dir
}

func TestSshdImageUnderRunc(t *testing.T) {
	e := engine(t)
	base := os.Getenv("S6BUILDER_SSHD_BASE")
	debian := os.Getenv("S6BUILDER_DEBIAN_S6")
	if base == "" || debian == "" {
		t.Fatal("S6BUILDER_SSHD_BASE and S6BUILDER_DEBIAN_S6 come from scripts/testenv env")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Fatal("runc is needed (scripts/testenv up installs it)")
	}
	t.Run("debian-s6", func(t *testing.T) {
		spec, err := pipeline.NewImage(pipeline.ImageRequest{Base: base, DistPrefix: "/", HasScanFinish: true})
		require.NoError(t, err)
		runImage(t, e, bk.ImageInput{Spec: spec, DistDir: debian, Services: serviceTree(t)})
	})
	t.Run("built-2.1.6.0", func(t *testing.T) {
		m := realSources(t)
		spec, err := pipeline.NewImage(pipeline.ImageRequest{Base: base, HasScanFinish: true})
		require.NoError(t, err)
		runImage(t, e, bk.ImageInput{Spec: spec, Plan: planFor(t, e, m, m.Catalog(), "2.1.6.0"), Services: serviceTree(t)})
	})
}

func runImage(t *testing.T, e env, in bk.ImageInput) {
	archive := filepath.Join(t.TempDir(), "image.tar")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	_, err := bk.BuildImage(ctx, e.c, in, bk.ImageOptions{OCIArchive: archive, Progress: "quiet"})
	require.NoError(t, err)

	b, err := ocirun.Unpack(archive, t.TempDir())
	require.NoError(t, err)
	assert.Equal(t, in.Spec.Entrypoint, []string(b.Config.Entrypoint))
	assert.Equal(t, "SIGTERM", b.Config.StopSignal)
	assert.Contains(t, b.Config.Env, in.Spec.Env[0])

	log := &syncLog{}
	id := fmt.Sprintf("s6builder-test-%d", time.Now().UnixNano())
	c, err := ocirun.Start(b, id, log)
	require.NoError(t, err)
	defer c.Remove()
	init, err := c.Pid()
	require.NoError(t, err)
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", init))
	assert.Equal(t, "s6-svscan", strings.TrimSpace(string(comm)), "PID 1 of the container")

	upPID := regexp.MustCompile(`^up \(pid ([0-9]+)`)
	sshdPID := func() (int, error) {
		out, err := c.Exec("s6-svstat", in.Spec.ServicesDir+"/sshd")
		if err != nil {
			return 0, fmt.Errorf("s6-svstat: %v: %s", err, out)
		}
		m := upPID.FindStringSubmatch(out)
		if m == nil {
			return 0, fmt.Errorf("s6-svstat: %s", out)
		}
		return strconv.Atoi(m[1])
	}
	banner := func() error {
		// Connect inside the container's network namespace.
		out, err := exec.Command("nsenter", "-t", strconv.Itoa(init), "-n", "--", "bash", "-c",
			"exec 3<>/dev/tcp/127.0.0.1/22 && head -c 4 <&3").CombinedOutput()
		if err != nil || string(out) != "SSH-" {
			return fmt.Errorf("no SSH banner: %v %q", err, out)
		}
		return nil
	}
	var first int
	waitFor(t, "sshd up and answering", func() error {
		p, err := sshdPID()
		if err != nil {
			return err
		}
		first = p
		return banner()
	}, log)

	out, err := c.Exec("kill", "-KILL", strconv.Itoa(first))
	require.NoError(t, err, out)
	waitFor(t, "sshd restarted after kill, finish run", func() error {
		p, err := sshdPID()
		if err != nil {
			return err
		}
		if p == first {
			return fmt.Errorf("still pid %d", p)
		}
		if !strings.Contains(log.String(), "sshd finish") {
			return fmt.Errorf("sshd's finish has not run")
		}
		return banner()
	}, log)

	// Orphans: a `sleep 2` reparented to PID 1 shows the orphaning happens;
	// after that, PID 1 must have no zombie children.
	waitFor(t, "an orphan reparented to s6-svscan", func() error {
		kids, err := ocirun.Children(init)
		if err != nil {
			return err
		}
		for _, k := range kids {
			if k.Comm == "sleep" {
				return nil
			}
		}
		return fmt.Errorf("no orphan under PID 1 yet: %v", kids)
	}, log)
	time.Sleep(3 * time.Second) // the first orphans have exited by now
	kids, err := ocirun.Children(init)
	require.NoError(t, err)
	for _, k := range kids {
		assert.NotEqual(t, "Z", k.State, "zombie left under PID 1: %+v", k)
	}

	stop := time.Now()
	require.NoError(t, c.Signal("TERM"))
	code, err := c.Wait(30 * time.Second)
	t.Logf("SIGTERM to exit: %.2fs", time.Since(stop).Seconds())
	require.NoError(t, err, "container log:\n%s", log.String())
	assert.Equal(t, 0, code, "clean exit; log:\n%s", log.String())
	assert.Contains(t, log.String(), "s6-svscan: services down, exiting", ".s6-svscan/finish ran")
	assert.GreaterOrEqual(t, strings.Count(log.String(), "sshd finish"), 2, "sshd's finish ran again on stop")
}

func waitFor(t *testing.T, what string, f func() error, log *syncLog) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v\ncontainer log:\n%s", what, err, log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
