package release

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/s6builder/s6builder/pipeline"
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
			out = append(out, Finding{name, fmt.Sprintf("a %s, not a regular file", pipeline.TypeName(e.Type()))})
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

// provenanceRunTimes are the fields of BuildKit's SLSA provenance that
// change with every solve (runDetails.metadata): left out when two are
// compared.
var provenanceRunTimes = []string{"invocationId", "startedOn", "finishedOn"}

// ProvenanceDifference compares two provenance attestations of the same
// build, but for the times and invocation of their solves and the
// daemon's blobs of the build's intermediate results
// (runDetails.metadata.buildkit_metadata.layers: a daemon that ran the
// steps itself compresses snapshots that hold its own file times, so the
// same build on another daemon has other digests there; the sources, the
// toolchain image and the subjects are compared), and returns the first
// path at which they differ ("" when they do not).
func ProvenanceDifference(a, b []byte) (string, error) {
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		return "", fmt.Errorf("not a provenance document: %w", err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		return "", fmt.Errorf("not a provenance document: %w", err)
	}
	for _, v := range []any{va, vb} {
		if m, ok := dig(v, "predicate", "runDetails", "metadata").(map[string]any); ok {
			for _, k := range provenanceRunTimes {
				delete(m, k)
			}
			if bm, ok := m["buildkit_metadata"].(map[string]any); ok {
				delete(bm, "layers")
			}
		}
	}
	return firstJSONDifference(va, vb, ""), nil
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// firstJSONDifference is the first path (in key order) at which two
// decoded JSON values differ, "" when they are equal.
func firstJSONDifference(a, b any, path string) string {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return orRoot(path)
		}
		keys := slices.Sorted(maps.Keys(x))
		for k := range y {
			if _, ok := x[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			if d := firstJSONDifference(x[k], y[k], path+"."+k); d != "" {
				return d
			}
		}
		return ""
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return orRoot(path)
		}
		for i := range x {
			if d := firstJSONDifference(x[i], y[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	default:
		if a != b {
			return orRoot(path)
		}
		return ""
	}
}

func orRoot(p string) string {
	if p == "" {
		return "."
	}
	return p
}
