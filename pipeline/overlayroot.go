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
	// RcRefs are the names each of the tree's s6-rc definitions refers to,
	// by definition name: those of etc/s6-overlay/s6-rc.d, and the user
	// bundles' contents of etc/s6-overlay/user-bundles.d (which s6-overlay
	// ignores when the deprecated s6-rc.d/user is there).
	RcRefs map[string][]string
}

// The s6-rc paths of an s6-overlay image's tree.
const (
	overlayRcDir      = "etc/s6-overlay/s6-rc.d"
	overlayBundlesDir = "etc/s6-overlay/user-bundles.d"
)

// OverlayOwnRc is s6-overlay 3's own s6-rc definitions and what each refers
// to (package/admin/s6-overlay/etc/s6-rc/sources of its layout), compiled
// with the user's: a user's definition may depend on them, and a cycle may
// run through them. user and user2 are the user bundles, whose contents
// the tree gives.
var OverlayOwnRc = map[string][]string{
	"base":             {"fix-attrs", "legacy-cont-init"},
	"fix-attrs":        nil,
	"legacy-cont-init": {"fix-attrs"},
	"legacy-services":  {"base", "user"},
	"top":              {"base", "legacy-services", "user", "user2"},
	"user":             nil,
	"user2":            nil,
}

// ReadOverlayRoot reads the tree through r.
func ReadOverlayRoot(r TreeReader) (OverlayRoot, error) {
	es, err := r.Entries()
	if err != nil {
		return OverlayRoot{}, err
	}
	t := OverlayRoot{Entries: es, Scripts: map[string]bool{}, RcServices: map[string]bool{}, RcRefs: map[string][]string{}}
	bundles := map[string][]string{}
	for _, e := range es {
		dir, name := path.Split(e.Path)
		parts := strings.Split(e.Path, "/")
		script := false
		switch {
		case (dir == "etc/cont-init.d/" || dir == "etc/cont-finish.d/") && e.Type != fs.ModeDir:
			script = true
		case len(parts) == 4 && parts[0] == "etc" && parts[1] == "services.d" && (name == "run" || name == "finish"):
			script = true
		case dir == overlayRcDir+"/" && e.Type == fs.ModeDir:
			ok, err := r.RegularFile(e.Path + "/type")
			if err != nil {
				return OverlayRoot{}, err
			}
			t.RcServices[e.Path] = ok
			if t.RcRefs[name], err = readRcRefs(r, e.Path); err != nil {
				return OverlayRoot{}, err
			}
		case dir == overlayBundlesDir+"/" && e.Type == fs.ModeDir:
			if bundles[name], err = readRcRefs(r, e.Path); err != nil {
				return OverlayRoot{}, err
			}
		}
		if script {
			ok, err := r.Executable(e.Path)
			if err != nil {
				return OverlayRoot{}, err
			}
			t.Scripts[e.Path] = ok
		}
	}
	if _, deprecated := t.RcServices[overlayRcDir+"/user"]; !deprecated {
		for n, refs := range bundles {
			t.RcRefs[n] = append(t.RcRefs[n], refs...)
		}
	}
	return t, nil
}

// Check says whether the tree will do: regular files, directories and
// symlinks only (a symlink may point anywhere: the tree is the image's
// root), readable, no control characters in names, every script executable, every
// s6-rc definition with a type (but the deprecated s6-rc.d/user and user2,
// which s6-overlay types itself), none of s6-overlay's own names redefined,
// every name referred to defined, and no dependency cycle.
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
		name := path.Base(p)
		userBundle := name == "user" || name == "user2" // typed by s6-overlay, filled by the tree
		if !t.RcServices[p] && !userBundle {
			return fmt.Errorf("%s: an s6-rc definition without a type file (oneshot, longrun or bundle)", p)
		}
		if _, own := OverlayOwnRc[name]; own && !userBundle {
			return fmt.Errorf("%s: s6-overlay defines %s itself (give the definition another name)", p, name)
		}
	}
	refs := maps.Clone(OverlayOwnRc)
	for n, r := range t.RcRefs {
		refs[n] = append(slices.Clone(refs[n]), r...)
	}
	return checkRcGraph(overlayRcDir, refs)
}
