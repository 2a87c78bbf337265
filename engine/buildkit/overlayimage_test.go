package buildkit_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
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

// TestRealSourcesOverlayImage puts s6-overlay 3.2.3.2, built from the real
// sources, over Debian with examples/s6-overlay/root copied in, as an
// s6-overlay user's Dockerfile does (ADD the tarballs, COPY the tree,
// ENTRYPOINT ["/init"]), and runs it under runc: the cont-init.d script,
// the oneshot and the longrun of the user bundle, the services.d service;
// with-contenv giving the container's environment, S6_KEEP_ENV giving it to
// every service; the CMD's exit code becoming the container's; a failing
// cont-init script stopping the container under
// S6_BEHAVIOUR_IF_STAGE2_FAILS=2; SIGTERM bringing the services down; and
// the same image as UID 1000 with a read-only root and a tmpfs /run.
func TestRealSourcesOverlayImage(t *testing.T) {
	e, m := engine(t), realSources(t)
	base := fixtures.TestEnv(t, "S6BUILDER_SSHD_BASE")
	cat := realCatalog(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	native, err := bk.NativePlatform(ctx, e.c)
	require.NoError(t, err)
	root, err := filepath.Abs("../../examples/s6-overlay/root")
	require.NoError(t, err)

	p, err := pipeline.NewOverlay(cat, pipeline.OverlayRequest{Version: "3.2.3.2", BuildPlatform: native, Mirror: m.URL, Toolchain: pipeline.Toolchain{Image: e.toolchain}})
	require.NoError(t, err)
	spec, err := pipeline.AddOverlayImage(p, pipeline.OverlayImage{Base: base, Root: true})
	require.NoError(t, err)
	archive := filepath.Join(t.TempDir(), "image.tar")
	start := time.Now()
	_, err = bk.BuildImage(ctx, e.c, bk.ImageInput{Spec: spec, Plans: []*pipeline.Plan{p}, Services: root}, bk.ImageOptions{OCIArchive: archive, Progress: "quiet"})
	require.NoError(t, err)
	t.Logf("image built in %.1fs", time.Since(start).Seconds())
	b, err := ocirun.Unpack(archive, t.TempDir())
	require.NoError(t, err)
	assert.Equal(t, "3.2.3.2", b.Config.Labels["io.s6builder.release.s6-overlay"])
	assert.Equal(t, "2.15.1.0", b.Config.Labels["io.s6builder.release.s6"])
	bootOverlayImage(t, b)
}

// TestRealSourcesOverlayImageForEveryPlatform builds the s6-overlay image
// for linux/amd64 and linux/arm64 over a two-platform base, as one index:
// each platform's image has its base, /init as the entrypoint, and the
// programs of its own arch tarball.
func TestRealSourcesOverlayImageForEveryPlatform(t *testing.T) {
	e, m := engine(t), realSources(t)
	registry := fixtures.TestEnv(t, "S6BUILDER_REGISTRY")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	plats := []string{"linux/amd64", "linux/arm64"}
	base := pushBaseIndex(t, registry+"/s6builder-test/base:multi", plats)
	native, err := bk.NativePlatform(ctx, e.c)
	require.NoError(t, err)
	cat := realCatalog(t, m)
	in := bk.ImageInput{}
	for _, p := range plats {
		plan, err := pipeline.NewOverlay(cat, pipeline.OverlayRequest{Version: "3.2.3.2", Platform: p, BuildPlatform: native, Mirror: m.URL,
			Toolchain: pipeline.Toolchain{Image: e.toolchain}})
		require.NoError(t, err)
		in.Spec, err = pipeline.AddOverlayImage(plan, pipeline.OverlayImage{Base: base})
		require.NoError(t, err)
		in.Plans = append(in.Plans, plan)
	}
	archive := filepath.Join(t.TempDir(), "image.tar")
	_, err = bk.BuildImage(ctx, e.c, in, bk.ImageOptions{OCIArchive: archive, Progress: "quiet"})
	require.NoError(t, err)
	checkPlatformImages(t, archiveIndex(t, archive), plats, platformImage{entrypoint: []string{"/init"}, program: "package/admin/s6-2.15.1.0/command/s6-svscan"})
}

// TestOverlayImageArchive boots the s6-overlay image of an OCI archive
// made elsewhere (S6BUILDER_OVERLAY_IMAGE: scripts/dagger-lab-check
// exports the Dagger module's overlay-image of examples/s6-overlay/root to
// one) with TestRealSourcesOverlayImage's checks.
func TestOverlayImageArchive(t *testing.T) {
	archive := os.Getenv("S6BUILDER_OVERLAY_IMAGE")
	if archive == "" {
		t.Skip("SKIPPED: no S6BUILDER_OVERLAY_IMAGE (scripts/dagger-lab-check sets it to the Dagger module's image)")
	}
	b, err := ocirun.Unpack(archive, t.TempDir())
	require.NoError(t, err)
	bootOverlayImage(t, b)
}

// bootOverlayImage runs an image of s6-overlay 3.2.3.2 over Debian with
// examples/s6-overlay/root under runc, checking what that tree uses of
// s6-overlay's runtime interface.
func bootOverlayImage(t *testing.T, b *ocirun.Bundle) {
	assert.Equal(t, []string{"/init"}, []string(b.Config.Entrypoint))
	fi, err := os.Stat(filepath.Join(b.Dir, "rootfs/package/admin/s6-overlay-helpers-0.1.2.2/command/s6-overlay-suexec"))
	require.NoError(t, err)
	assert.Equal(t, os.ModeSetuid, fi.Mode()&os.ModeSetuid, "s6-overlay-suexec is setuid, as in the tarball")

	run := func(t *testing.T, env []string, opts ...ocirun.Option) (*ocirun.Container, *syncLog) {
		log := &syncLog{}
		c, err := ocirun.Start(b, fmt.Sprintf("s6builder-test-%d", time.Now().UnixNano()), log, append([]ocirun.Option{ocirun.Env(env...)}, opts...)...)
		require.NoError(t, err)
		t.Cleanup(c.Remove)
		return c, log
	}
	up := func(t *testing.T, log *syncLog, lines ...string) {
		waitFor(t, "the services up", func() error {
			for _, line := range lines {
				if !strings.Contains(log.String(), line) {
					return fmt.Errorf("no %q yet", line)
				}
			}
			return nil
		}, log)
	}

	t.Run("the CMD's exit code is the container's", func(t *testing.T) {
		c, log := run(t, []string{"GREETING=hello"}, ocirun.Args("/init", "sh", "-c", `echo "cmd: GREETING=${GREETING:-unset}, uid $(id -u)"; exit 3`))
		code, err := c.Wait(60 * time.Second)
		require.NoError(t, err, log.String())
		out := log.String()
		assert.Equal(t, 3, code, out)
		for _, line := range []string{"cont-init: GREETING=hello", "prepare: up, GREETING=hello", "app: started, GREETING=hello, uid 0",
			// S6_KEEP_ENV=0: the CMD and the services without with-contenv
			// start from an empty environment.
			"legacy: started, GREETING=unset", "cmd: GREETING=unset, uid 0", "app: finished"} {
			assert.Contains(t, out, line)
		}
		assert.Less(t, strings.Index(out, "prepare: up"), strings.Index(out, "app: started"), "the oneshot before the longrun that depends on it")
		assert.Less(t, strings.Index(out, "app: started"), strings.Index(out, "cmd: "), "the CMD once the services are up")
	})

	t.Run("S6_KEEP_ENV gives every service the environment; SIGTERM stops", func(t *testing.T) {
		c, log := run(t, []string{"GREETING=hello", "S6_KEEP_ENV=1"})
		up(t, log, "app: started, GREETING=hello", "legacy: started, GREETING=hello")
		require.NoError(t, c.Signal("TERM"))
		code, err := c.Wait(60 * time.Second)
		require.NoError(t, err, log.String())
		assert.Equal(t, 0, code, log.String())
		assert.Contains(t, log.String(), "app: finished")
	})

	t.Run("a failing cont-init script stops the container", func(t *testing.T) {
		c, log := run(t, []string{"FAIL_INIT=1", "S6_BEHAVIOUR_IF_STAGE2_FAILS=2"}, ocirun.Args("/init", "sh", "-c", "echo cmd: ran"))
		code, err := c.Wait(60 * time.Second)
		require.NoError(t, err, log.String())
		out := log.String()
		assert.NotEqual(t, 0, code, out)
		assert.Contains(t, out, "cont-init: failing")
		assert.NotContains(t, out, "cmd: ran")
		assert.NotContains(t, out, "app: started")
	})

	t.Run("as UID 1000, read-only root, tmpfs /run", func(t *testing.T) {
		c, log := run(t, []string{"GREETING=hello", "S6_READ_ONLY_ROOT=1"}, ocirun.User(1000, 1000), ocirun.ReadOnlyRoot(),
			ocirun.Tmpfs("/run", "exec", "mode=0755", "uid=1000", "gid=1000"),
			ocirun.Args("/init", "sh", "-c", `echo "cmd: uid $(id -u)"; exit 3`))
		code, err := c.Wait(60 * time.Second)
		require.NoError(t, err, log.String())
		out := log.String()
		assert.Equal(t, 3, code, out)
		assert.Contains(t, out, "app: started, GREETING=hello, uid 1000")
		assert.Contains(t, out, "cmd: uid 1000")
	})

	t.Run("s6-networking's TLS client and server shake hands on loopback", func(t *testing.T) {
		certs := tlsFiles(t)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		require.NoError(t, l.Close())
		script := `CERTFILE=/certs/server.pem KEYFILE=/certs/server.key s6-tlsserver 127.0.0.1 "$1" echo tls-hello &
ok=
for i in $(seq 50); do
	if CAFILE=/certs/ca.pem s6-tlsclient -k localhost 127.0.0.1 "$1" sh -c 'cat <&6'; then ok=1; break; fi
	sleep 0.2
done
[ -n "$ok" ] || exit 1
if CAFILE=/certs/ca.pem s6-tlsclient -k wrong.example 127.0.0.1 "$1" sh -c 'cat <&6'; then
	echo "a certificate for another name was accepted"
	exit 2
fi
echo "the certificate refused for another name"
kill $!`
		c, log := run(t, nil, ocirun.HostNetwork(), ocirun.Bind(certs, "/certs"),
			ocirun.Args("/bin/sh", "-c", "PATH=/command:$PATH; "+script, "tls", port))
		code, err := c.Wait(60 * time.Second)
		require.NoError(t, err, log.String())
		assert.Equal(t, 0, code, log.String())
		assert.Contains(t, log.String(), "tls-hello", "the server's program's output, through BearSSL both ways")
		assert.Contains(t, log.String(), "the certificate refused for another name", "the client checks the server's name")
	})
}

// tlsFiles writes a CA's certificate and a server certificate and key for
// localhost, signed by it (ECDSA P-256, PEM), into a new folder.
func tlsFiles(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "s6builder test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	for name, block := range map[string]*pem.Block{"ca.pem": {Type: "CERTIFICATE", Bytes: caDER},
		"server.pem": {Type: "CERTIFICATE", Bytes: leafDER}, "server.key": {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o644))
	}
	return dir
}
