package release

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Finding is one file of a release directory that is not what SHA256SUMS
// says: its name and what is wrong with it.
type Finding struct {
	Name    string
	Problem string
}

// CheckDir compares the files in dir with sums (SHA256SUMS of dir, as
// sha256sum -c would): a file whose content differs, a file SHA256SUMS
// names that is missing, and any entry s6builder does not write into a
// release (anything but SHA256SUMS, the files it names, the provenance
// files of its tarballs and the files named in ours). Nothing is read
// outside dir, and symbolic links are not followed: a link in a release is
// a finding itself.
func CheckDir(dir string, sums map[string]string, ours ...string) ([]Finding, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Finding
	present := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		present[name] = true
		_, listed := sums[name]
		switch {
		case !e.Type().IsRegular() && (listed || name == SumsFile || slices.Contains(ours, name)):
			out = append(out, Finding{name, fmt.Sprintf("a %s, not a regular file", typeName(e.Type()))})
		case listed:
			got, err := Sha256File(filepath.Join(dir, name))
			if err != nil {
				return nil, err
			}
			if got != sums[name] {
				out = append(out, Finding{name, fmt.Sprintf("its sha256 is %s, %s says %s", got, SumsFile, sums[name])})
			}
		case name == SumsFile || slices.Contains(ours, name):
		case strings.HasSuffix(name, provenanceSuffix) && isTarball(sums, strings.TrimSuffix(name, provenanceSuffix)) && e.Type().IsRegular():
		default:
			out = append(out, Finding{name, fmt.Sprintf("not written by s6builder: %s does not name it", SumsFile)})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(sums)) {
		if !present[name] {
			out = append(out, Finding{name, fmt.Sprintf("missing: %s names it", SumsFile)})
		}
	}
	slices.SortFunc(out, func(a, b Finding) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

const provenanceSuffix = ".provenance.json"

func isTarball(sums map[string]string, name string) bool {
	_, ok := sums[name]
	return ok && strings.HasSuffix(name, ".tar.gz")
}

func typeName(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "symbolic link"
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "FIFO"
	case m&os.ModeDevice != 0:
		return "device"
	case m&os.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}
