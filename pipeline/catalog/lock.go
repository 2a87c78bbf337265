package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/s6builder/s6builder/pipeline/version"
)

// A lock file records digests pinned on first fetch, for releases nobody
// published a digest for (like go.sum). It uses the catalogue file format;
// later runs read it and BuildKit verifies every download against it.

// ReadLock reads a lock file; a missing file is an empty lock.
func ReadLock(path string) (File, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return File{}, nil
	}
	return ReadFile(path)
}

// ApplyLock applies a lock, refusing a pin that contradicts a digest the
// catalogue already has: the lock records, it does not override.
func (c *Catalog) ApplyLock(lock File, path string) error {
	for _, fr := range lock.Releases {
		if fr.Digest == "" {
			return fmt.Errorf("lock %s: %s %s has no digest", path, fr.Package, fr.Version)
		}
		v := version.MustParse(fr.Version)
		if r, ok := c.releases[fr.Package][v]; ok && r.Digest != "" && r.Digest.String() != fr.Digest {
			return fmt.Errorf("lock %s pins %s at %s, but %s says %s", path, r.Tarball, fr.Digest, r.DigestSource, r.Digest)
		}
	}
	c.Apply(lock, "lock "+path)
	return nil
}

// WriteLock adds pins to the lock at path, atomically.
func WriteLock(path string, lock File, pins []FileRelease) error {
	lock.Releases = append(lock.Releases, pins...)
	sort.Slice(lock.Releases, func(i, j int) bool {
		a, b := lock.Releases[i], lock.Releases[j]
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		return version.MustParse(a.Version).Less(version.MustParse(b.Version))
	})
	b, err := json.MarshalIndent(lock, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
