// Command modctx copies a Dagger module's context: what the engine uploads
// for the module in dagger.json (dagger.json itself, the module's source
// folder, and every file that matches an "include" pattern) from SRC to DST.
// scripts/dagger-check runs it to build, check and regenerate the module
// without an engine.
//
// Usage:
//
//	modctx SRC DST [FILELIST]
//
// FILELIST (one slash path per line, relative to SRC) restricts the copy to
// those files, e.g. git's list of tracked and new files; without it every
// file under SRC but .git is considered. Patterns are dagger.json's: paths
// relative to it, * and ? within a segment, ** for any number of segments, a
// leading ! excludes again; the last matching pattern wins. Only regular
// files are copied, with their permission bits (plus the owner's write bit);
// a listed file missing from SRC (deleted in the work tree) is skipped.
//
// It prints one line: the module's name, its engineVersion, its source folder
// and the number of files copied.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

type config struct {
	Name          string   `json:"name"`
	EngineVersion string   `json:"engineVersion"`
	Source        string   `json:"source"`
	Include       []string `json:"include"`
}

// match reports whether the slash path p matches pattern pat (** = any
// number of segments).
func match(pat, p []string) bool {
	if len(pat) == 0 {
		return len(p) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(p); i++ {
			if match(pat[1:], p[i:]) {
				return true
			}
		}
		return false
	}
	if len(p) == 0 {
		return false
	}
	ok, err := path.Match(pat[0], p[0])
	return err == nil && ok && match(pat[1:], p[1:])
}

func included(cfg config, rel string) bool {
	if rel == "dagger.json" || rel == cfg.Source || strings.HasPrefix(rel, cfg.Source+"/") {
		return true
	}
	in := false
	for _, pat := range cfg.Include {
		neg := strings.HasPrefix(pat, "!")
		pat = strings.TrimPrefix(strings.TrimPrefix(pat, "!"), "./")
		if match(strings.Split(pat, "/"), strings.Split(rel, "/")) {
			in = !neg
		}
	}
	return in
}

func copyFile(src, dst string, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode.Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// run copies the module context of args[0] to args[1] (args[2], when given,
// is the file list) and writes the summary line to stdout.
func run(args []string, stdout io.Writer) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: modctx SRC DST [FILELIST]")
	}
	src, dst := args[0], args[1]
	b, err := os.ReadFile(filepath.Join(src, "dagger.json"))
	if err != nil {
		return err
	}
	var cfg config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("dagger.json: %w", err)
	}
	cfg.Source = strings.Trim(path.Clean(cfg.Source), "/")
	var files []string
	if len(args) > 2 {
		list, err := os.ReadFile(args[2])
		if err != nil {
			return err
		}
		for _, f := range strings.Split(string(list), "\n") {
			if f != "" {
				files = append(files, f)
			}
		}
	} else {
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			if d.IsDir() && d.Name() == ".git" {
				return filepath.SkipDir
			}
			if !d.IsDir() {
				files = append(files, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	n := 0
	for _, rel := range files {
		if !included(cfg, rel) {
			continue
		}
		fi, err := os.Lstat(filepath.Join(src, rel))
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the work tree
			}
			return err
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(src, rel), filepath.Join(dst, rel), fi.Mode()); err != nil {
			return err
		}
		n++
	}
	_, err = fmt.Fprintf(stdout, "%s %s %s %d\n", cfg.Name, cfg.EngineVersion, cfg.Source, n)
	return err
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "modctx:", err)
		os.Exit(1)
	}
}
