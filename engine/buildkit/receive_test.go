package buildkit

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type entry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func tarball(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, ModTime: time.Unix(1_000_000_000, 0)}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		require.NoError(t, tw.WriteHeader(h))
		if e.typ == tar.TypeReg {
			_, err := tw.Write([]byte(e.body))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	return b.Bytes()
}

func TestReceiveUnpacksFilesLinksAndModes(t *testing.T) {
	dir := t.TempDir()
	r := receive(dir)
	_, err := r.Write(tarball(t,
		entry{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "bin/s6-svscan", body: "elf", typ: tar.TypeReg, mode: 0o755},
		entry{name: "bin/s6-svscanctl", link: "bin/s6-svscan", typ: tar.TypeLink},
		entry{name: "lib/skalibs/sysdeps", link: "../../sysdeps", typ: tar.TypeSymlink},
		entry{name: "../escape", body: "x", typ: tar.TypeReg, mode: 0o644},
	))
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, r.wait())

	fi, err := os.Stat(filepath.Join(dir, "bin", "s6-svscan"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
	assert.Equal(t, int64(1_000_000_000), fi.ModTime().Unix())
	li, err := os.Stat(filepath.Join(dir, "bin", "s6-svscanctl"))
	require.NoError(t, err)
	assert.True(t, os.SameFile(fi, li), "a hard link stays one")
	target, err := os.Readlink(filepath.Join(dir, "lib", "skalibs", "sysdeps"))
	require.NoError(t, err)
	assert.Equal(t, "../../sysdeps", target)
	assert.FileExists(t, filepath.Join(dir, "escape"), "../ stays inside the tree")
	assert.NoFileExists(t, filepath.Join(filepath.Dir(dir), "escape"))
}

func TestReceiveWithoutExportIsNotAnError(t *testing.T) {
	r := receive(t.TempDir())
	assert.NoError(t, r.wait(), "the solve failed before exporting: its error says why")
}

func TestReceiveOnAFullFileSystemSaysHowMuchIsNeeded(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("S6BUILDER_REQUIRE_ENGINE") != "" {
			t.Fatal("needs root to mount a small tmpfs (S6BUILDER_REQUIRE_ENGINE is set)")
		}
		t.Skip("SKIPPED: needs root to mount a small tmpfs")
	}
	mnt := t.TempDir()
	require.NoError(t, syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"))
	t.Cleanup(func() { _ = syscall.Unmount(mnt, 0) })
	dir := filepath.Join(mnt, "out")
	require.NoError(t, os.Mkdir(dir, 0o755))

	big := strings.Repeat("x", 1<<20)
	r := receive(dir)
	done := make(chan error, 1)
	go func() {
		_, err := r.Write(tarball(t, entry{name: "a", body: big, typ: tar.TypeReg, mode: 0o644},
			entry{name: "b", body: big, typ: tar.TypeReg, mode: 0o644}))
		r.Close()
		done <- err
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the writer hangs on a full file system")
	}
	err := r.wait()
	var ns *NoSpaceError
	require.True(t, errors.As(err, &ns), "got %v", err)
	assert.Equal(t, int64(2<<20), ns.Need)
	assert.Contains(t, err.Error(), "no space left on the file system of "+mnt+": the tree needs about 2.1 MB")
}
