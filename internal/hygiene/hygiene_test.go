package hygiene

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// maxSize is the largest tracked file allowed without an entry in
// allowLarge.
const maxSize = 1 << 20

// allowLarge lists the tracked files that may exceed maxSize, each with the
// reason. Empty today: the largest files, ci/codegen/introspection-v0.21.8-module.json
// (Dagger's schema, about 860 KB) and the generated ci/internal/dagger/dagger.gen.go
// and ci/tests/internal/dagger/dagger.gen.go (about 420 KB each), are under
// the limit; add them here, with a reason, if a new Dagger version makes them
// larger.
var allowLarge = map[string]string{}

// wording is what no prose of the repository may say: work sessions, and
// paths of the machines the project is built on. The strings are split so
// that this file does not match them itself.
var wording = regexp.MustCompile(`(?i)` + strings.Join([]string{
	`session` + ` [0-9]`,
	`helper` + ` session`,
	regexp.QuoteMeta("/" + "work/"),
	regexp.QuoteMeta("/var/" + "tmp/"),
}, "|"))

// allowedPaths are exact strings that would match wording but are fine:
// scripts/testenv's documented default state folder.
var allowedPaths = regexp.MustCompile(`(?i)` + regexp.QuoteMeta("/var/"+"tmp/s6builder-testenv"))

// trackedFiles returns the repository root and its tracked files (slash
// paths relative to the root); it skips the test when git or the .git folder
// is absent (a source tarball, a module download).
func trackedFiles(t *testing.T) (string, []string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not in a git work tree: %v", err)
	}
	root := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		t.Skipf("no .git in %s", root)
	}
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		t.Fatal("git ls-files lists no files")
	}
	return root, files
}

// regular returns the file's information, or nil for a tracked path that is
// not a regular file in the work tree (a link, or a file deleted and not yet
// committed).
func regular(t *testing.T, root, rel string) fs.FileInfo {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(rel)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	return fi
}

func TestNoLargeFiles(t *testing.T) {
	root, files := trackedFiles(t)
	for _, rel := range files {
		fi := regular(t, root, rel)
		if fi == nil || fi.Size() <= maxSize {
			continue
		}
		if _, ok := allowLarge[rel]; ok {
			continue
		}
		t.Errorf("%s: %d bytes (%.1f MiB), over the %d-byte limit for tracked files; keep it out of git or add it to allowLarge with a reason",
			rel, fi.Size(), float64(fi.Size())/(1<<20), maxSize)
	}
	for rel := range allowLarge {
		if fi := regular(t, root, rel); fi == nil || fi.Size() <= maxSize {
			t.Errorf("allowLarge lists %s, which is not a tracked file over %d bytes: remove it from the list", rel, maxSize)
		}
	}
}

func TestNoExecutables(t *testing.T) {
	root, files := trackedFiles(t)
	for _, rel := range files {
		if regular(t, root, rel) == nil {
			continue
		}
		f, err := os.Open(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		var magic [4]byte
		_, err = io.ReadFull(f, magic[:])
		f.Close()
		if err == nil && string(magic[:]) == "\x7fELF" {
			t.Errorf("%s: an ELF file is tracked; build outputs stay out of git", rel)
		}
	}
}

// generated reports whether a file is generated: it says "Code generated" in
// its first lines (Go's convention), or it is one of Dagger's schemas.
func generated(rel string, content []byte) bool {
	if ok, _ := path.Match("ci/codegen/*.json", rel); ok {
		return true
	}
	head := content
	for i, n := 0, 0; i < len(content); i++ {
		if content[i] == '\n' {
			if n++; n == 5 {
				head = content[:i]
				break
			}
		}
	}
	return bytes.Contains(head, []byte("Code generated"))
}

func TestNoSessionsOrMachinePaths(t *testing.T) {
	root, files := trackedFiles(t)
	for _, rel := range files {
		if regular(t, root, rel) == nil {
			continue
		}
		content, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		sniff := content[:min(len(content), 8000)]
		if bytes.IndexByte(sniff, 0) >= 0 || generated(rel, content) {
			continue // binary, or not written by hand
		}
		for n, line := range lines(content) {
			if m := wording.FindString(allowedPaths.ReplaceAllString(line, "")); m != "" {
				t.Errorf("%s:%d: %q (no work sessions, no paths of the build machines): %s",
					rel, n+1, m, strings.TrimSpace(line))
			}
		}
	}
}

func lines(content []byte) []string {
	var out []string
	s := bufio.NewScanner(bytes.NewReader(content))
	s.Buffer(make([]byte, 0, 64*1024), len(content)+1)
	for s.Scan() {
		out = append(out, s.Text())
	}
	if err := s.Err(); err != nil {
		panic(fmt.Sprintf("reading lines: %v", err))
	}
	return out
}

// TestWording checks the patterns themselves.
func TestWording(t *testing.T) {
	for line, want := range map[string]bool{
		"measured in Session " + "5":               true,
		"written by a Helper " + "Session":         true,
		"sources in /" + "work/shared/sources":     true,
		"state in /var/" + "tmp/other":             true,
		"state in /var/" + "tmp/s6builder-testenv": false,
		"a BuildKit session":                       false,
		"t.Helper()":                               false,
		"the sessions' cache":                      false,
	} {
		got := wording.FindString(allowedPaths.ReplaceAllString(line, "")) != ""
		if got != want {
			t.Errorf("%q: matched %v, want %v", line, got, want)
		}
	}
	if !generated("x.go", []byte("// Code generated by dagger. DO NOT EDIT.\n\npackage x\n")) {
		t.Error("a generated Go file is not recognised")
	}
	if generated("x.go", []byte("package x\n\n\n\n\n\n// Code generated, said on line 7\n")) {
		t.Error("a file that mentions code generation below its first lines is taken as generated")
	}
	if !generated("ci/codegen/introspection-v0.21.8-module.json", []byte("{}")) {
		t.Error("Dagger's schema is not skipped")
	}
}
