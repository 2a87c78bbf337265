package main_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/internal/fixtures"
)

// --profile pid1 on the real sources: the dist holds the profile's
// programs and what they exec (s6-svc runs s6-svlisten and s6-svwait by
// name, s6-supervise s6-setlock, s6-svwait PREFIX/libexec/s6-ftrigrd, or
// in s6 2.1 s6-svlisten1 and bin/s6-ftrigrd),
// nothing else, under 1 MB; and the smoke test passes on it, for the 2015
// triplet and the newest.
func TestRealSourcesPid1Profile(t *testing.T) {
	addr, tc := engineEnv(t)
	m, cat := realSourcesMirror(t)
	env := []string{"BUILDKIT_HOST=" + addr, "S6BUILDER_TOOLCHAIN=" + tc, "S6BUILDER_MIRROR=" + m.URL, "S6BUILDER_CATALOG=" + cat}
	pid1 := []string{"bin/s6-supervise", "bin/s6-svc", "bin/s6-svok", "bin/s6-svscan", "bin/s6-svscanctl", "bin/s6-svstat", "bin/s6-svwait"}
	for s6, more := range map[string][]string{
		"2.15.1.0": {"bin/s6-setlock", "bin/s6-svlisten", "libexec/s6-ftrigrd"},
		"2.1.6.0":  {"bin/s6-svlisten1", "bin/s6-ftrigrd"}, // s6 2.1 installs s6-ftrigrd in bin
	} {
		t.Run(s6, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "dist")
			log, code := run(t, env, "build", "--s6", s6, "--profile", "pid1", "--progress", "quiet", "-o", dir)
			require.Equal(t, 0, code, log)
			var got []string
			var size int64
			require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || d.Name() == ".s6builder.json" {
					return err
				}
				rel, _ := filepath.Rel(dir, p)
				got = append(got, rel)
				fi, err := d.Info()
				size += fi.Size()
				return err
			}))
			want := slices.Sorted(slices.Values(append(slices.Clone(pid1), more...)))
			assert.Equal(t, want, slices.Sorted(slices.Values(got)))
			assert.Less(t, size, int64(1<<20), "the PID-1 profile is under 1 MB")
			t.Logf("s6 %s --profile pid1: %d programs, %d bytes", s6, len(got), size)

			log, code = run(t, env, "test", "--s6", s6, "--profile", "pid1", "--progress", "plain")
			require.Equal(t, 0, code, log)
			assert.Contains(t, log, "ok: s6-svscan -h exits 100")
			_, err := os.Stat(filepath.Join(dir, "lib"))
			assert.ErrorIs(t, err, fs.ErrNotExist, "no static libraries in a profile")

			// An image takes the profile's dist, under its prefix.
			base := fixtures.TestEnv(t, "S6BUILDER_SSHD_BASE")
			services := filepath.Join(t.TempDir(), "services")
			require.NoError(t, os.MkdirAll(filepath.Join(services, "app"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(services, "app", "run"), []byte("#!/bin/sh\nexec sleep 1000\n"), 0o755))
			archive := filepath.Join(t.TempDir(), "image.tar")
			log, code = run(t, env, "image", "--s6", s6, "--profile", "pid1", "--services", services, "--base", base, "--progress", "quiet", "-o", archive)
			require.Equal(t, 0, code, log)
			files := layerFiles(t, archive)
			for _, p := range want {
				assert.Contains(t, files, "usr/local/"+p)
			}
			assert.NotContains(t, files, "usr/local/bin/execlineb", "the image has the profile, not the whole dist")
		})
	}
}
