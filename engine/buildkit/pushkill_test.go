package buildkit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/internal/fixtures"
	"github.com/s6builder/s6builder/pipeline"
)

// TestADaemonKilledDuringAnImagePushLeavesNoImage kills the daemon while it
// uploads an image's first blob (held by a proxy in front of the test
// registry): the push fails naming the daemon as gone, the registry has no
// image under the name (nothing half-made looks whole), and the next run,
// on a daemon restarted on the same state, pushes it.
func TestADaemonKilledDuringAnImagePushLeavesNoImage(t *testing.T) {
	e := engine(t)
	registry := fixtures.TestEnv(t, "S6BUILDER_REGISTRY")
	base := fixtures.TestEnv(t, "S6BUILDER_SSHD_BASE")

	// The proxy holds the first blob upload until the daemon is killed.
	target, err := url.Parse("http://" + registry)
	require.NoError(t, err)
	uploading, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	forward := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/blobs/uploads") {
			held := false
			once.Do(func() { held = true; close(uploading) })
			if held {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	proxyHost := strings.TrimPrefix(proxy.URL, "http://")

	root, err := os.MkdirTemp("", "s6builder-test-daemon-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	start := func() (*bk.Daemon, func()) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		d, err := bk.StartPrivate(ctx, bk.PrivateOptions{Root: root, HTTPRegistries: []string{strings.SplitN(e.toolchain, "/", 2)[0], proxyHost}})
		require.NoError(t, err)
		return d, d.Stop
	}

	m := fixtureMirror(t, map[string]string{"s6": fixtures.Nonce()}, "2.1.6.0")
	spec, err := pipeline.NewImage(pipeline.ImageRequest{Base: base, HasScanFinish: true})
	require.NoError(t, err)
	cat, err := pipeline.LoadCatalog(pipeline.Layer{Source: "fixtures", File: m.Catalog()})
	require.NoError(t, err)
	p, err := pipeline.New(cat, pipeline.Request{S6: "2.1.6.0", Mirror: m.URL, Toolchain: pipeline.Toolchain{Image: e.toolchain}, Prefix: spec.Prefix})
	require.NoError(t, err)
	pushed := proxyHost + "/s6builder-test/killed:" + strconv.FormatInt(time.Now().UnixNano(), 36)
	in := bk.ImageInput{Spec: spec, Plans: []*pipeline.Plan{p}, Services: serviceTree(t)}
	opts := bk.ImageOptions{Push: pushed, InsecurePush: true, Progress: "quiet"}

	d, stop := start()
	c, err := bk.Connect(context.Background(), d.Addr)
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		_, err := bk.BuildImage(ctx, c, in, opts)
		errc <- err
	}()
	select {
	case <-uploading:
	case err := <-errc:
		t.Fatalf("the image run ended before its push: %v", err)
	case <-time.After(4 * time.Minute):
		t.Fatal("no blob upload within 4 minutes")
	}
	killDaemon(t, root)
	close(release)
	err = <-errc
	require.Error(t, err)
	var gone *bk.DaemonGoneError
	assert.ErrorAs(t, err, &gone, "got: %v", err)
	c.Close()
	stop()

	ref, err := name.ParseReference(strings.Replace(pushed, proxyHost, registry, 1), name.Insecure)
	require.NoError(t, err)
	_, err = remote.Head(ref)
	require.Error(t, err, "no image is under the name after the killed push")

	d, stop = start() // the same state
	defer stop()
	c, err = bk.Connect(context.Background(), d.Addr)
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, err = bk.BuildImage(ctx, c, in, opts)
	require.NoError(t, err)
	_, err = remote.Head(ref)
	assert.NoError(t, err, "the next run pushed it")
}
