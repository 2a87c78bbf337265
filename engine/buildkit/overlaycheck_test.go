package buildkit

import (
	"archive/tar"
	"bytes"
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"

	"github.com/s6builder/s6builder/pipeline"
)

// xzTar is an xz'd tarball of the files given, name -> content.
func xzTar(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	xw, err := xz.NewWriter(&buf)
	require.NoError(t, err)
	tw := tar.NewWriter(xw)
	for name, b := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(b)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, xw.Close())
	return buf.Bytes()
}

// An arch tarball is checked before it is written: programs of another
// machine than its platform's, or none at all, refuse the whole output.
func TestOverlayArchTarballsAreCheckedBeforeTheyAreWritten(t *testing.T) {
	native, err := os.ReadFile("/bin/true") // a program of this machine, not arm64
	require.NoError(t, err)
	other, want := "linux/arm64", "s6-overlay-aarch64.tar.xz"
	if runtime.GOARCH == "arm64" {
		other, want = "linux/amd64", "s6-overlay-x86_64.tar.xz"
	}
	plan := &pipeline.Plan{Request: pipeline.Request{Platform: other}}

	_, err = checkOverlayArch(plan, want, xzTar(t, map[string][]byte{"./command/s6-svscan": native, "./etc/x": []byte("text")}))
	assert.ErrorContains(t, err, want+" is not what was asked for, so nothing was written")
	assert.ErrorContains(t, err, "./command/s6-svscan is a")
	assert.ErrorContains(t, err, "but the request is for "+other)

	_, err = checkOverlayArch(plan, want, xzTar(t, map[string][]byte{"./etc/x": []byte("text")}))
	assert.ErrorContains(t, err, "holds no program")

	_, err = checkOverlayArch(plan, want, []byte("not xz"))
	assert.ErrorContains(t, err, want+": ")
}
