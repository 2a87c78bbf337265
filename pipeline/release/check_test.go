package release

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// releaseDir writes a release folder: two files and their SHA256SUMS, the
// tarball's provenance and the marker.
func releaseDir(t *testing.T) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"s6-1-linux_amd64.tar.gz": "tarball", ManifestFile: "{}\n"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	require.NoError(t, WriteSums(dir, []string{"s6-1-linux_amd64.tar.gz", ManifestFile}))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "s6-1-linux_amd64.tar.gz.provenance.json"), []byte("{}"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".s6builder.json"), []byte("{}"), 0o644))
	sums, err := ReadSums(filepath.Join(dir, SumsFile))
	require.NoError(t, err)
	return dir, sums
}

func TestCheckDirPassesAReleaseAsWritten(t *testing.T) {
	dir, sums := releaseDir(t)
	got, err := CheckDir(dir, sums, ".s6builder.json")
	require.NoError(t, err)
	assert.Empty(t, got)
}

// Every way the folder can differ from its SHA256SUMS is named, and a
// link is not followed (its target is outside the folder).
func TestCheckDirNamesEveryFileThatIsNotWhatSHA256SUMSSays(t *testing.T) {
	dir, sums := releaseDir(t)
	outside := filepath.Join(t.TempDir(), "outside")
	require.NoError(t, os.WriteFile(outside, []byte("{}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "s6-1-linux_amd64.tar.gz"), []byte("tarbalL"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(dir, ManifestFile)))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, ManifestFile)))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "extra.txt"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "other.tar.gz.provenance.json"), nil, 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	sums["sbom.spdx.json"] = sums[ManifestFile]

	got, err := CheckDir(dir, sums, ".s6builder.json")
	require.NoError(t, err)
	problems := map[string]string{}
	for _, f := range got {
		problems[f.Name] = f.Problem
	}
	assert.Equal(t, map[string]string{
		"extra.txt":                    "not written by s6builder: SHA256SUMS does not name it",
		"fifo":                         "not written by s6builder: SHA256SUMS does not name it",
		"sub":                          "not written by s6builder: SHA256SUMS does not name it",
		"other.tar.gz.provenance.json": "not written by s6builder: SHA256SUMS does not name it",
		ManifestFile:                   "a symbolic link, not a regular file",
		"sbom.spdx.json":               "missing: SHA256SUMS names it",
		"s6-1-linux_amd64.tar.gz":      "its sha256 is " + sha256Hex("tarbalL") + ", SHA256SUMS says " + sha256Hex("tarball"),
	}, problems)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Two provenance documents of one build differ only in the solve's times;
// anything else is named by its path.
func TestProvenanceDifferenceIgnoresOnlyTheSolvesTimes(t *testing.T) {
	doc := func(start, digest string) []byte {
		return []byte(`{"subject": [{"name": "bin/s6-svscan", "digest": {"sha256": "` + digest + `"}}],
			"predicate": {"buildDefinition": {"buildType": "b", "resolvedDependencies": [{"uri": "docker-image://tc", "digest": {"sha256": "cc"}}]},
			"runDetails": {"metadata": {"invocationId": "` + start + `", "startedOn": "` + start + `", "finishedOn": "` + start + `",
				"buildkit_metadata": {"layers": {"step2:0": [[{"digest": "sha256:` + start + `"}]]}}}}}}`)
	}
	d, err := ProvenanceDifference(doc("1", "aa"), doc("2", "aa"))
	require.NoError(t, err)
	assert.Empty(t, d, "the solve's times and the daemon's intermediate blobs")
	d, err = ProvenanceDifference(doc("1", "aa"), doc("1", "ab"))
	require.NoError(t, err)
	assert.Equal(t, ".subject[0].digest.sha256", d)
	_, err = ProvenanceDifference([]byte("{"), doc("1", "aa"))
	assert.ErrorContains(t, err, "not a provenance document")
}
