package pipeline

import (
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
)

// OverlayRoot is a tree of the user's that an s6-overlay image holds at /
// (etc/s6-overlay/s6-rc.d, etc/s6-overlay/user-bundles.d, etc/cont-init.d,
// etc/services.d...), read through a TreeReader so that what s6-overlay
// will run from it is checked before any work, by every front end.
type OverlayRoot struct {
	Entries []TreeEntry
	// Scripts are the files s6-overlay executes (cont-init.d and
	// cont-finish.d scripts, services.d run and finish files), with
	// whether each is an executable regular file.
	Scripts map[string]bool
	// RcServices are the s6-rc source definitions of etc/s6-overlay/s6-rc.d,
	// with whether each has a type file.
	RcServices map[string]bool
}

// ReadOverlayRoot reads the tree through r.
func ReadOverlayRoot(r TreeReader) (OverlayRoot, error) {
	es, err := r.Entries()
	if err != nil {
		return OverlayRoot{}, err
	}
	t := OverlayRoot{Entries: es, Scripts: map[string]bool{}, RcServices: map[string]bool{}}
	for _, e := range es {
		dir, name := path.Split(e.Path)
		parts := strings.Split(e.Path, "/")
		script := false
		switch {
		case (dir == "etc/cont-init.d/" || dir == "etc/cont-finish.d/") && e.Type != fs.ModeDir:
			script = true
		case len(parts) == 4 && parts[0] == "etc" && parts[1] == "services.d" && (name == "run" || name == "finish"):
			script = true
		case len(parts) == 4 && parts[0] == "etc" && parts[1] == "s6-overlay" && parts[2] == "s6-rc.d" && e.Type == fs.ModeDir:
			ok, err := r.RegularFile(e.Path + "/type")
			if err != nil {
				return OverlayRoot{}, err
			}
			t.RcServices[e.Path] = ok
		}
		if script {
			ok, err := r.Executable(e.Path)
			if err != nil {
				return OverlayRoot{}, err
			}
			t.Scripts[e.Path] = ok
		}
	}
	return t, nil
}

// Check says whether the tree will do: regular files, directories and
// symlinks only (a symlink may point anywhere: the tree is the image's
// root), readable, no control characters in names, every script executable, every
// s6-rc definition with a type.
func (t OverlayRoot) Check() error {
	for _, e := range t.Entries {
		if err := e.readableName(); err != nil {
			return err
		}
		switch e.Type {
		case 0, fs.ModeDir, fs.ModeSymlink:
		default:
			return fmt.Errorf("%s: a %s; the tree for / holds regular files, directories and symlinks only", e.Path, TypeName(e.Type))
		}
	}
	for _, p := range slices.Sorted(maps.Keys(t.Scripts)) {
		if !t.Scripts[p] {
			return fmt.Errorf("%s: not an executable file: s6-overlay runs it (chmod +x it)", p)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(t.RcServices)) {
		if !t.RcServices[p] {
			return fmt.Errorf("%s: an s6-rc definition without a type file (oneshot, longrun or bundle)", p)
		}
	}
	return nil
}
