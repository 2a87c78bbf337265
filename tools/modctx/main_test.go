package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A made-up module context: the source folder, a ** include with a !
// exclusion after it, a one-segment * pattern, and files that must stay
// behind.
const daggerJSON = `{
  "name": "demo",
  "engineVersion": "v0.21.8",
  "source": "./mod/",
  "include": [
    "lib/**",
    "!lib/**/*_test.go",
    "./data/*.tsv",
    "**/keep.txt"
  ]
}`

var tree = map[string]string{
	"dagger.json":               daggerJSON,
	"mod/main.go":               "package main\n",
	"mod/sub/x.go":              "package sub\n",
	"lib/a.go":                  "package lib\n",
	"lib/a_test.go":             "package lib\n",
	"lib/deep/b.go":             "package deep\n",
	"lib/deep/b_test.go":        "package deep\n",
	"data/one.tsv":              "a\tb\n",
	"data/nested/two.tsv":       "c\td\n",
	"data/README.md":            "# data\n",
	"other/keep.txt":            "kept\n",
	"keep.txt":                  "kept too\n",
	"other/drop.txt":            "dropped\n",
	"module.go":                 "package root\n",
	".git/config":               "[core]\n",
	"other/keep.txt.orig":       "not a match\n",
	"modx/not-the-source.go":    "package modx\n",
	"lib/deep/deeper/c.go":      "package deeper\n",
	"lib/deep/deeper/c_test.go": "package deeper\n",
}

func writeTree(t *testing.T, root string) {
	t.Helper()
	for rel, body := range tree {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func files(t *testing.T, root string) []string {
	t.Helper()
	var got []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got
}

func TestCopiesExactlyTheModuleContext(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeTree(t, src)
	// An executable keeps its mode; a link is not copied.
	if err := os.Chmod(filepath.Join(src, "lib/a.go"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.go", filepath.Join(src, "lib/link.go")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{src, dst}, &out); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"dagger.json",
		"data/one.tsv",
		"keep.txt",
		"lib/a.go",
		"lib/deep/b.go",
		"lib/deep/deeper/c.go",
		"mod/main.go",
		"mod/sub/x.go",
		"other/keep.txt",
	}
	if got := files(t, dst); !slices.Equal(got, want) {
		t.Errorf("copied:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if got, want := out.String(), "demo v0.21.8 mod 9\n"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	fi, err := os.Stat(filepath.Join(dst, "lib/a.go"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("lib/a.go copied with mode %v, want 0755", fi.Mode().Perm())
	}
	b, err := os.ReadFile(filepath.Join(dst, "data/one.tsv"))
	if err != nil || string(b) != tree["data/one.tsv"] {
		t.Errorf("data/one.tsv = %q, %v", b, err)
	}
}

func TestAFileListRestrictsTheCopy(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeTree(t, src)
	// Only listed files are considered; a listed file that is gone from the
	// work tree is skipped.
	list := filepath.Join(t.TempDir(), "files")
	body := "dagger.json\nmod/main.go\nlib/a.go\nlib/a_test.go\nlib/gone.go\nother/drop.txt\n\n"
	if err := os.WriteFile(list, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{src, dst, list}, &out); err != nil {
		t.Fatal(err)
	}
	want := []string{"dagger.json", "lib/a.go", "mod/main.go"}
	if got := files(t, dst); !slices.Equal(got, want) {
		t.Errorf("copied %v, want %v", got, want)
	}
	if got, want := out.String(), "demo v0.21.8 mod 3\n"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pat, path string
		want      bool
	}{
		{"pipeline/**", "pipeline/go.mod", true},
		{"pipeline/**", "pipeline/catalog/data/releases.tsv", true},
		{"pipeline/**", "pipeline", true},
		{"pipeline/**", "pipelines/go.mod", false},
		{"**/*.go", "a.go", true},
		{"**/*.go", "a/b/c.go", true},
		{"a/*/c", "a/b/c", true},
		{"a/*/c", "a/b/x/c", false},
		{"a/?.go", "a/b.go", true},
		{"a/?.go", "a/bb.go", false},
	} {
		if got := match(strings.Split(c.pat, "/"), strings.Split(c.path, "/")); got != c.want {
			t.Errorf("match(%q, %q) = %v, want %v", c.pat, c.path, got, c.want)
		}
	}
}

func TestErrors(t *testing.T) {
	if err := run([]string{t.TempDir()}, &bytes.Buffer{}); err == nil {
		t.Error("one argument accepted")
	}
	if err := run([]string{t.TempDir(), t.TempDir()}, &bytes.Buffer{}); err == nil {
		t.Error("a folder without dagger.json accepted")
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "dagger.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{src, t.TempDir()}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "dagger.json") {
		t.Errorf("bad dagger.json: %v", err)
	}
}
