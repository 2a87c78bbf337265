package buildkit

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/s6builder/s6builder/pipeline/inputerr"
)

// MarkerName is the file s6builder writes at the top of every tree it
// exports. A directory holding it is s6builder's to replace; any other
// non-empty directory is the user's and is never replaced without Force.
// It is hidden so that `cp -r dist/* /` leaves it behind.
const MarkerName = ".s6builder.json"

// Marker is the content of MarkerName: what the tree holds and from which
// request, so that a later run (and a reader) knows.
type Marker struct {
	S6builder string            `json:"s6builder"` // "dist" or "sources"
	Releases  map[string]string `json:"releases"`  // package -> version
	Platform  string            `json:"platform"`
	Prefix    string            `json:"prefix,omitempty"` // where a dist's programs are in it
	Key       string            `json:"key"`              // plan key of the exported stage
}

// ReadMarker reads the marker of a tree s6builder wrote; ok is false when
// dir has none (a tree of the user's own).
func ReadMarker(dir string) (m Marker, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, MarkerName))
	if err != nil || json.Unmarshal(b, &m) != nil || m.S6builder == "" {
		return Marker{}, false
	}
	return m, true
}

// Output is one path a front end asks s6builder to write, named by the
// request field that gave it (for the error: "output", "sources").
type Output struct {
	Field string
	Path  string
	File  bool // an OCI archive file rather than a tree
}

// CheckOutputs refuses, before any work, outputs that s6builder must not
// replace: /, the working directory or one of its parents, a non-directory
// where a tree goes, a non-empty directory that is not an s6builder output
// (unless force), a file that is not an OCI archive (unless force), and two
// outputs that are the same path or inside one another. Refusals are input
// errors naming the field.
func CheckOutputs(outs []Output, force bool) error {
	abs := make([]string, len(outs))
	for i, o := range outs {
		a, err := checkOutput(o, force)
		if err != nil {
			return err
		}
		abs[i] = a
	}
	for i := range outs {
		for j := i + 1; j < len(outs); j++ {
			if within(abs[i], abs[j]) || within(abs[j], abs[i]) {
				return inputerr.New(outs[j].Field, outs[j].Path,
					"overlaps {arg:%s} %q: each output needs a directory of its own, outside the other", outs[i].Field, outs[i].Path)
			}
		}
	}
	return nil
}

// within reports whether path is dir or inside it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+string(filepath.Separator)) || dir == "/"
}

func checkOutput(o Output, force bool) (string, error) {
	refuse := func(reason string, args ...any) (string, error) {
		return "", inputerr.New(o.Field, o.Path, reason, args...)
	}
	if o.Path == "" {
		return refuse("an empty path")
	}
	abs, err := filepath.Abs(o.Path)
	if err != nil {
		return refuse("%v", err)
	}
	if abs == "/" {
		return refuse("refusing to replace /")
	}
	if wd, err := os.Getwd(); err == nil && within(wd, abs) {
		return refuse("refusing to replace the working directory or one of its parents")
	}
	fi, err := os.Lstat(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return abs, nil
	case err != nil:
		return refuse("%v", err)
	case o.File:
		if !fi.Mode().IsRegular() {
			return refuse("exists and is not a regular file")
		}
		if !force && !isOCIArchive(abs) {
			return refuse("exists and is not an OCI archive: refusing to overwrite it (choose a new path, or give {arg:force} to overwrite it)")
		}
		return abs, nil
	case !fi.IsDir():
		return refuse("exists and is not a directory")
	}
	if force || ownTree(abs) {
		return abs, nil
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return refuse("%v", err)
	}
	if len(entries) == 0 {
		return abs, nil
	}
	return refuse("exists, is not empty and is not an s6builder output (it has no %s): refusing to replace it "+
		"(choose a new or empty directory, or give {arg:force} to replace it and everything in it)", MarkerName)
}

// ownTree reports whether dir carries a marker that s6builder wrote.
func ownTree(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, MarkerName))
	if err != nil {
		return false
	}
	var m Marker
	return json.Unmarshal(b, &m) == nil && (m.S6builder == "dist" || m.S6builder == "sources" || m.S6builder == "release" || m.S6builder == "overlay")
}

// isOCIArchive reports whether path is a tar with an oci-layout entry
// among its first entries, as s6builder's image archives are.
func isOCIArchive(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for i := 0; i < 16; i++ {
		h, err := tr.Next()
		if err != nil {
			return false
		}
		if strings.TrimPrefix(h.Name, "./") == "oci-layout" {
			return true
		}
	}
	return false
}

// stagedDir is an export in progress: the daemon writes into tmp, beside
// target, and commit swaps it into place.
type stagedDir struct {
	target, tmp string
	made        []string // parent directories this run created, deepest first
	done        bool
}

// tmpPrefix names the temporary trees and files of exports to target; the
// owner's pid follows, so a later run can tell a dead run's leftovers.
func tmpPrefix(target string) string {
	return "." + filepath.Base(target) + ".s6builder-"
}

// stageDir makes the temporary directory beside target (its parents too,
// remembered so that a failure removes them again) and removes what dead
// runs left there. The caller has checked target with CheckOutputs.
func stageDir(target string) (*stagedDir, error) {
	abs, err := filepath.Abs(target)
	if err != nil {
		return nil, fmt.Errorf("output %q: %w", target, err)
	}
	s := &stagedDir{target: abs}
	parent := filepath.Dir(abs)
	if s.made, err = mkdirAll(parent); err != nil {
		return nil, fmt.Errorf("output %q: %w", target, err)
	}
	removeStale(parent, tmpPrefix(abs))
	tmp, err := os.MkdirTemp(parent, tmpPrefix(abs)+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		s.discard()
		return nil, fmt.Errorf("output %q: %w", target, err)
	}
	s.tmp = tmp
	if err := os.Chmod(tmp, 0o755); err != nil {
		s.discard()
		return nil, err
	}
	return s, nil
}

// mkdirAll is os.MkdirAll that returns the directories it created, deepest
// first.
func mkdirAll(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		missing = append(missing, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return missing, nil
}

// removeStale removes the temporary trees and files in dir that start with
// prefix and belong to a process that no longer runs (a killed run).
func removeStale(dir, prefix string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// mark writes the marker into the staged tree, before commit.
func (s *stagedDir) mark(m Marker) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.tmp, MarkerName), append(b, '\n'), 0o644)
}

// commit puts the new tree in place: an atomic exchange when the target
// exists (readers see the old tree or the new one, never a mix), a rename
// otherwise; then it removes the old tree.
func (s *stagedDir) commit() error {
	err := unix.Renameat2(unix.AT_FDCWD, s.tmp, unix.AT_FDCWD, s.target, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.ENOENT) {
		err = os.Rename(s.tmp, s.target)
	} else if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		err = swapByRename(s.tmp, s.target) // file systems without RENAME_EXCHANGE
	}
	if err != nil {
		return fmt.Errorf("output %s: %w", s.target, err)
	}
	s.done = true
	return os.RemoveAll(s.tmp) // now the old tree, if there was one
}

// swapByRename moves target aside, then tmp into place, then the old tree to tmp.
func swapByRename(tmp, target string) error {
	old := tmp + ".old"
	if err := os.Rename(target, old); err != nil {
		return err
	}
	if err := os.Rename(tmp, target); err != nil {
		_ = os.Rename(old, target)
		return err
	}
	return os.Rename(old, tmp)
}

// discard removes the temporary tree and the parents this run created,
// unless commit used them.
func (s *stagedDir) discard() {
	if s.done {
		return
	}
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
	}
	for _, d := range s.made {
		if os.Remove(d) != nil { // not empty: another run's, keep it
			break
		}
	}
}
