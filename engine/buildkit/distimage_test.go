package buildkit_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tonistiigi/fsutil"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/internal/fixtures"
	"github.com/s6builder/s6builder/internal/ocirun"
	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/release"
)

// TestRealSourcesDistImage: the dist image of s6 2.1.6.0 (FROM scratch,
// prefix /usr/local) pushed from the shared daemon and from a fresh one
// with empty state has the same digest; a Dockerfile's `COPY --from=IT / /`
// onto Debian (merged /usr: /bin is a link) gives an image whose
// s6-svscan, as PID 1, supervises a service and stops cleanly on SIGTERM.
func TestRealSourcesDistImage(t *testing.T) {
	m := realSources(t)
	registry := fixtures.TestEnv(t, "S6BUILDER_REGISTRY")
	base := fixtures.TestEnv(t, "S6BUILDER_SSHD_BASE")
	cat := realCatalog(t, m)

	var digests []string
	for i, e := range []env{engine(t), coldEngine(t)} {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		native, err := bk.NativePlatform(ctx, e.c)
		require.NoError(t, err)
		p, err := pipeline.New(cat, pipeline.Request{S6: "2.1.6.0", BuildPlatform: native, Mirror: m.URL,
			Toolchain: pipeline.Toolchain{Image: e.toolchain}, Prefix: pipeline.DefaultImagePrefix})
		require.NoError(t, err)
		plans := []*pipeline.Plan{p}
		spec, err := pipeline.NewDistImage(plans)
		require.NoError(t, err)
		epoch, err := release.SourceDateEpoch(plans)
		require.NoError(t, err)
		ref := fmt.Sprintf("%s/s6builder-test/dist:%d-%s", registry, i, strconv.FormatInt(time.Now().UnixNano(), 36))
		_, err = bk.BuildImage(ctx, e.c, bk.ImageInput{Spec: spec, Plans: plans},
			bk.ImageOptions{Push: ref, InsecurePush: true, Progress: "quiet", SourceDateEpoch: epoch})
		cancel()
		require.NoError(t, err)
		r, err := name.ParseReference(ref, name.Insecure)
		require.NoError(t, err)
		desc, err := remote.Head(r)
		require.NoError(t, err)
		t.Logf("dist image %d: %s", i+1, desc.Digest)
		digests = append(digests, r.Context().Name()+"@"+desc.Digest.String())
		img, err := remote.Image(r)
		require.NoError(t, err)
		cfg, err := img.ConfigFile()
		require.NoError(t, err)
		assert.Equal(t, "2.1.6.0", cfg.Config.Labels["org.opencontainers.image.version"])
		assert.Equal(t, "/usr/local", cfg.Config.Labels["io.s6builder.prefix"])
		assert.Empty(t, cfg.Config.Entrypoint, "a dist image runs nothing")
		assert.Equal(t, time.Unix(epoch, 0).UTC(), cfg.Created.UTC(), "created at SOURCE_DATE_EPOCH")
	}
	require.Len(t, digests, 2)
	assert.Equal(t, strings.Split(digests[0], "@")[1], strings.Split(digests[1], "@")[1], "the same digest from two daemons")

	// A user's Dockerfile: Debian, then the dist image copied at /.
	e := engine(t)
	dir := t.TempDir()
	for name, content := range map[string]string{
		"Dockerfile": fmt.Sprintf("FROM %s\nCOPY --from=%s / /\nCOPY svc /etc/s6\n"+
			"ENTRYPOINT [\"/usr/local/bin/s6-svscan\", \"/etc/s6\"]\nSTOPSIGNAL SIGTERM\n", base, digests[0]),
		"svc/hello/run":         "#!/bin/sh\necho hello-up\nexec sleep 3600\n",
		"svc/.s6-svscan/finish": "#!/bin/sh\necho scan-finish\nexit 0\n",
	} {
		path := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o755))
	}
	ctxFS, err := fsutil.NewFS(dir)
	require.NoError(t, err)
	archive := filepath.Join(t.TempDir(), "image.tar")
	f, err := os.Create(archive)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	_, err = e.c.Solve(ctx, nil, client.SolveOpt{Frontend: "dockerfile.v0", FrontendAttrs: map[string]string{"filename": "Dockerfile"},
		LocalMounts: map[string]fsutil.FS{"context": ctxFS, "dockerfile": ctxFS},
		Exports: []client.ExportEntry{{Type: client.ExporterOCI, Attrs: map[string]string{"name": "s6builder-test/copied"},
			Output: func(map[string]string) (io.WriteCloser, error) { return f, nil }}}}, nil)
	require.NoError(t, err, "COPY --from the dist image onto %s", base)

	b, err := ocirun.Unpack(archive, t.TempDir())
	require.NoError(t, err)
	fi, err := os.Lstat(filepath.Join(b.Dir, "rootfs", "bin"))
	require.NoError(t, err)
	assert.True(t, fi.Mode()&os.ModeSymlink != 0, "the base's /bin is still a link (merged /usr): the dist did not replace it")
	log := &syncLog{}
	c, err := ocirun.Start(b, fmt.Sprintf("s6builder-test-%d", time.Now().UnixNano()), log)
	require.NoError(t, err)
	defer c.Remove()
	init, err := c.Pid()
	require.NoError(t, err)
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", init))
	assert.Equal(t, "s6-svscan", strings.TrimSpace(string(comm)), "PID 1 of the container")
	up := regexp.MustCompile(`^up \(pid [0-9]+`)
	waitFor(t, "the service up under s6-supervise", func() error {
		out, err := c.Exec("/usr/local/bin/s6-svstat", "/etc/s6/hello")
		if err != nil || !up.MatchString(out) {
			return fmt.Errorf("s6-svstat: %v: %s", err, out)
		}
		return nil
	}, log)
	require.NoError(t, c.Signal("TERM"))
	code, err := c.Wait(30 * time.Second)
	require.NoError(t, err, "container log:\n%s", log.String())
	assert.Equal(t, 0, code, "clean exit; log:\n%s", log.String())
	assert.Contains(t, log.String(), "scan-finish", ".s6-svscan/finish ran")
}
