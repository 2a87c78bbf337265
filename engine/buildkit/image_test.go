package buildkit_test

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
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
	base := fixtures.TestEnv(t, "S6BUILDER_SSHD_BASE")
	debian := fixtures.TestEnv(t, "S6BUILDER_DEBIAN_S6")
	if _, err := exec.LookPath("runc"); err != nil {
		t.Fatal("runc is needed (scripts/testenv up installs it)")
	}
	t.Run("debian-s6", func(t *testing.T) {
		// Debian's package tree: usr/bin/s6-svscan, programs under /usr.
		spec, err := pipeline.NewImage(pipeline.ImageRequest{Base: base, Prefix: "/usr", HasScanFinish: true})
		require.NoError(t, err)
		runImage(t, e, bk.ImageInput{Spec: spec, DistDir: debian, Services: serviceTree(t)})
	})
	t.Run("built-2.1.6.0", func(t *testing.T) {
		m := realSources(t)
		spec, err := pipeline.NewImage(pipeline.ImageRequest{Base: base, HasScanFinish: true})
		require.NoError(t, err)
		cat := realCatalog(t, m)
		p, err := pipeline.New(cat, pipeline.Request{S6: "2.1.6.0", Mirror: m.URL, Toolchain: pipeline.Toolchain{Image: e.toolchain}, Prefix: spec.Prefix})
		require.NoError(t, err)
		runImage(t, e, bk.ImageInput{Spec: spec, Plans: []*pipeline.Plan{p}, Services: serviceTree(t)})
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

// TestRealSourcesMultiPlatformImage builds one image for linux/amd64 and
// linux/arm64 (an OCI index) over a two-platform base: each platform's
// image has that platform's base and config, and the dist cross-compiled
// for it (the ELF machine of s6-svscan); the archive and the pushed index
// list the same two platforms.
func TestRealSourcesMultiPlatformImage(t *testing.T) {
	e, m := engine(t), realSources(t)
	registry := fixtures.TestEnv(t, "S6BUILDER_REGISTRY")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	plats := []string{"linux/amd64", "linux/arm64"}
	base := pushBaseIndex(t, registry+"/s6builder-test/base:multi", plats)
	native, err := bk.NativePlatform(ctx, e.c)
	require.NoError(t, err)
	cat := realCatalog(t, m)
	spec, err := pipeline.NewImage(pipeline.ImageRequest{Base: base, HasScanFinish: true})
	require.NoError(t, err)
	in := bk.ImageInput{Spec: spec, Services: serviceTree(t)}
	for _, p := range plats {
		plan, err := pipeline.New(cat, pipeline.Request{S6: "2.15.1.0", Platform: p, BuildPlatform: native, Mirror: m.URL,
			Toolchain: pipeline.Toolchain{Image: e.toolchain}, Prefix: spec.Prefix})
		require.NoError(t, err)
		in.Plans = append(in.Plans, plan)
	}
	archive := filepath.Join(t.TempDir(), "image.tar")
	pushed := registry + "/s6builder-test/multi:" + strconv.FormatInt(time.Now().UnixNano(), 36)
	_, err = bk.BuildImage(ctx, e.c, in, bk.ImageOptions{OCIArchive: archive, Push: pushed, InsecurePush: true, Progress: "quiet"})
	require.NoError(t, err)

	checkPlatformImages(t, archiveIndex(t, archive), plats, svscanImage)

	ref, err := name.ParseReference(pushed, name.Insecure)
	require.NoError(t, err)
	remoteIdx, err := remote.Index(ref)
	require.NoError(t, err)
	checkPlatformImages(t, remoteIdx, plats, svscanImage)
}

// archiveIndex is the one index an OCI archive holds.
func archiveIndex(t *testing.T, archive string) v1.ImageIndex {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("tar", "-xf", archive, "-C", dir).CombinedOutput()
	require.NoError(t, err, string(out))
	lp, err := layout.ImageIndexFromPath(dir)
	require.NoError(t, err)
	top, err := lp.IndexManifest()
	require.NoError(t, err)
	require.Len(t, top.Manifests, 1, "the archive holds one index")
	idx, err := lp.ImageIndex(top.Manifests[0].Digest)
	require.NoError(t, err)
	return idx
}

// svscanImage is what checkPlatformImages expects of `image`: s6-svscan
// at /usr/local/bin, the entrypoint.
var svscanImage = platformImage{entrypoint: []string{"/usr/local/bin/s6-svscan", "/etc/s6"}, program: "usr/local/bin/s6-svscan"}

// platformImage is what each platform's image of an index must have: its
// entrypoint and a program built for its machine.
type platformImage struct {
	entrypoint []string
	program    string // a path in the image, as its layers name it
}

// checkPlatformImages: idx has one image per platform, in order, each
// with that platform's config, the base's marker file for it, want's
// entrypoint and want's program built for its machine.
func checkPlatformImages(t *testing.T, idx v1.ImageIndex, plats []string, want platformImage) {
	t.Helper()
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	var got []string
	for _, d := range im.Manifests {
		if d.Platform == nil || d.Platform.OS == "unknown" {
			continue // an attestation manifest
		}
		p := d.Platform.OS + "/" + d.Platform.Architecture
		got = append(got, p)
		img, err := idx.Image(d.Digest)
		require.NoError(t, err)
		cfg, err := img.ConfigFile()
		require.NoError(t, err)
		assert.Equal(t, d.Platform.Architecture, cfg.Architecture, p)
		assert.Equal(t, want.entrypoint, cfg.Config.Entrypoint, p)

		files := map[string][]byte{}
		tr := tar.NewReader(mutate.Extract(img))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			switch h.Name {
			case "etc/s6builder-test-platform", want.program:
				b, err := io.ReadAll(tr)
				require.NoError(t, err)
				files[h.Name] = b
			}
		}
		assert.Equal(t, p, string(files["etc/s6builder-test-platform"]), "the base for %s", p)
		f, err := elf.NewFile(bytes.NewReader(files[want.program]))
		require.NoError(t, err, "%s: %s", p, want.program)
		machine, err := pipeline.ELFTargetOf(p)
		require.NoError(t, err)
		assert.Equal(t, machine.Machine, f.Machine, "%s: %s", p, want.program)
	}
	assert.Equal(t, plats, got)
}

// pushBaseIndex pushes a base image for each platform, holding only
// /etc/s6builder-test-platform naming it, as one index, and returns its
// reference by digest.
func pushBaseIndex(t *testing.T, to string, plats []string) string {
	t.Helper()
	var idx v1.ImageIndex = empty.Index
	for _, p := range plats {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}))
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "etc/s6builder-test-platform", Mode: 0o644, Size: int64(len(p))}))
		_, err := tw.Write([]byte(p))
		require.NoError(t, err)
		require.NoError(t, tw.Close())
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
		require.NoError(t, err)
		img, err := mutate.AppendLayers(empty.Image, layer)
		require.NoError(t, err)
		goos, arch, _ := strings.Cut(p, "/")
		cfg, err := img.ConfigFile()
		require.NoError(t, err)
		cfg = cfg.DeepCopy()
		cfg.OS, cfg.Architecture = goos, arch
		img, err = mutate.ConfigFile(img, cfg)
		require.NoError(t, err)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: goos, Architecture: arch}}})
	}
	ref, err := name.ParseReference(to, name.Insecure)
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(ref, idx))
	d, err := idx.Digest()
	require.NoError(t, err)
	return ref.Context().Digest(d.String()).String()
}
