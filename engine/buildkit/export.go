package buildkit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// stagedDir is an export in progress: the daemon writes into tmp, beside
// target, and commit swaps it into place.
type stagedDir struct {
	target, tmp string
	done        bool
}

// stageDir checks that target can be replaced and makes the temporary
// directory beside it. It refuses /, the working directory and its parents.
func stageDir(target string) (*stagedDir, error) {
	abs, err := filepath.Abs(target)
	if err != nil {
		return nil, fmt.Errorf("output %q: %w", target, err)
	}
	if wd, err := os.Getwd(); err == nil && (abs == wd || strings.HasPrefix(wd, abs+string(filepath.Separator)) || abs == "/") {
		return nil, fmt.Errorf("output %q: refusing to replace the working directory or one of its parents", target)
	}
	if abs == "/" {
		return nil, fmt.Errorf("output %q: refusing to replace /", target)
	}
	if fi, err := os.Lstat(abs); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("output %q exists and is not a directory", target)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("output %q: %w", target, err)
	}
	parent := filepath.Dir(abs)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("output %q: %w", target, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(abs)+".s6builder-")
	if err != nil {
		return nil, fmt.Errorf("output %q: %w", target, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return &stagedDir{target: abs, tmp: tmp}, nil
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

// discard removes the temporary tree unless commit used it.
func (s *stagedDir) discard() {
	if !s.done {
		os.RemoveAll(s.tmp)
	}
}
