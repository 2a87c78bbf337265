package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"unicode"
)

// ScanFinishPath is the finish script of s6-svscan, inside a service tree.
const ScanFinishPath = ".s6-svscan/finish"

// ServiceTree is what a front end read of a service tree (a local folder, a
// Dagger Directory): the service directories with whether each has an
// executable run file, and whether .s6-svscan/finish is executable. The
// rules s6-svscan needs live here, once, for every front end.
type ServiceTree struct {
	RunExecutable map[string]bool // service directory name -> run is an executable regular file
	HasScanFinish bool
	// Entries is every entry of the tree, when the front end can list them
	// (the CLI walks the folder): what goes into the image is checked too.
	Entries []TreeEntry
}

// TreeEntry is one entry of a service tree.
type TreeEntry struct {
	Path   string      // slash-separated, relative to the tree
	Type   fs.FileMode // fs.ModeDir, fs.ModeSymlink, or 0 for a regular file; other type bits are refused
	Target string      // a symlink's target
	// Unreadable: the front end cannot read it (permission denied), so
	// it could not be sent to the engine.
	Unreadable bool
}

// TreeReader reads a tree of the user's the way a front end can: the CLI
// a local folder, the Dagger module a Directory. ReadServiceTree and
// ReadRcTree read what the checks need through it, so the rules of what a
// tree must be are here once, for every front end.
type TreeReader interface {
	// TopDirs names the tree's top-level directories (a link is not one).
	TopDirs() ([]string, error)
	// RegularFile reports whether path is a regular file (through links
	// inside the tree); false when there is nothing there.
	RegularFile(path string) (bool, error)
	// Executable reports whether path is a regular file with an execute bit.
	Executable(path string) (bool, error)
	// Entries lists every entry of the tree, or nil when the front end
	// cannot list them.
	Entries() ([]TreeEntry, error)
	// Names lists the names in directory dir; none when there is no
	// directory there.
	Names(dir string) ([]string, error)
	// ReadFile returns the contents of the regular file at path; nil when
	// there is none. Only small files are read (s6-rc's lists of names).
	ReadFile(path string) ([]byte, error)
}

// ReadServiceTree reads a service tree through r: its service
// directories, whether each has an executable run, whether the tree has an
// executable .s6-svscan/finish, and its entries. Check says whether it will do.
func ReadServiceTree(r TreeReader) (ServiceTree, error) {
	dirs, err := r.TopDirs()
	if err != nil {
		return ServiceTree{}, err
	}
	t := ServiceTree{RunExecutable: map[string]bool{}}
	for _, d := range dirs {
		if IsService(d, true) {
			if t.RunExecutable[d], err = r.Executable(d + "/run"); err != nil {
				return t, err
			}
		}
	}
	if t.HasScanFinish, err = r.Executable(ScanFinishPath); err != nil {
		return t, err
	}
	t.Entries, err = r.Entries()
	return t, err
}

// ReadRcTree reads an s6-rc source tree through r: its top-level
// directories, whether each has a type file, what each refers to, and its
// entries.
func ReadRcTree(r TreeReader) (RcTree, error) {
	dirs, err := r.TopDirs()
	if err != nil {
		return RcTree{}, err
	}
	t := RcTree{Typed: map[string]bool{}, Refs: map[string][]string{}}
	for _, d := range dirs {
		if !strings.HasPrefix(d, ".") {
			if t.Typed[d], err = r.RegularFile(d + "/type"); err != nil {
				return t, err
			}
			if t.Refs[d], err = readRcRefs(r, d); err != nil {
				return t, err
			}
		}
	}
	t.Entries, err = r.Entries()
	return t, err
}

// IsService reports whether a top-level entry of a service tree is a
// service directory: s6-svscan skips names that start with a dot.
func IsService(name string, isDir bool) bool { return isDir && !strings.HasPrefix(name, ".") }

// Check refuses a tree s6-svscan could not run, or that would not copy
// into an image as it is: it needs one service at least, every service an
// executable run file; names without control characters; only regular
// files, directories and symlinks that stay inside the tree (a link out of
// it would dangle in the image; a fifo or device node has no place there).
func (t ServiceTree) Check() error {
	if err := checkEntries(t.Entries); err != nil {
		return err
	}
	if len(t.RunExecutable) == 0 {
		return errors.New("no service directories in it (one directory per service, each with an executable run file)")
	}
	for _, n := range slices.Sorted(maps.Keys(t.RunExecutable)) {
		if !t.RunExecutable[n] {
			return fmt.Errorf("service %q has no executable run file", n)
		}
	}
	return nil
}

// checkEntries applies TreeEntry's rules to every entry of a tree.
func checkEntries(es []TreeEntry) error {
	for _, e := range es {
		if err := e.check(); err != nil {
			return err
		}
	}
	return nil
}

func (e TreeEntry) check() error {
	if err := e.readableName(); err != nil {
		return err
	}
	switch e.Type {
	case 0, fs.ModeDir:
		return nil
	case fs.ModeSymlink:
		if path.IsAbs(e.Target) {
			return fmt.Errorf("%s: a symlink to %s, outside the tree: it would dangle in the image (copy the file in, or link within the tree)", e.Path, e.Target)
		}
		if to := path.Join(path.Dir(e.Path), e.Target); to == ".." || strings.HasPrefix(to, "../") {
			return fmt.Errorf("%s: a symlink to %s, outside the tree: it would dangle in the image (copy the file in, or link within the tree)", e.Path, e.Target)
		}
		return nil
	default:
		return fmt.Errorf("%s: a %s; a service tree holds regular files, directories and symlinks only", e.Path, TypeName(e.Type))
	}
}

// readableName: the rules of every tree's entries, whatever the tree is
// for: a name without control characters, readable.
func (e TreeEntry) readableName() error {
	if strings.ContainsFunc(e.Path, unicode.IsControl) {
		return fmt.Errorf("%q: a name with a control character (a newline?)", e.Path)
	}
	if e.Unreadable {
		return fmt.Errorf("%s: not readable (permission denied): it could not be copied into the image", e.Path)
	}
	return nil
}

// TypeName names the type of a file that is not a regular one, for
// refusals: "fifo", "symbolic link", "character device"...
func TypeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file (" + m.String() + ")"
}
