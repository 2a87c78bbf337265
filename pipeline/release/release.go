// Package release turns built dist trees into release artifacts that are a
// function of their inputs only: one tarball per platform (sorted entries,
// fixed owners, times set to SOURCE_DATE_EPOCH, gzip without a name or a
// time), a manifest of every input, an SPDX SBOM of the source tarballs and
// SHA256SUMS over them all. Two builds of the same request give the same
// bytes; nothing here reads a clock, a user name or a build path.
package release

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/s6builder/s6builder/pipeline"
)

// Files of a release directory besides the tarballs.
const (
	ManifestFile = "manifest.json"
	SBOMFile     = "sbom.spdx.json"
	SumsFile     = "SHA256SUMS"
)

// SourceDateEpoch is the default SOURCE_DATE_EPOCH of a release: midnight
// UTC of the day the newest source release in the plans was tagged, so the
// time in the artifacts is itself a function of the inputs.
func SourceDateEpoch(plans []*pipeline.Plan) (int64, error) {
	newest := ""
	for _, p := range plans {
		for _, pkg := range p.Selection.Packages() {
			rel, _ := p.Selection.Release(pkg)
			if rel.Released == "" {
				return 0, fmt.Errorf("%s %s has no release date in the catalogue: give --source-date-epoch", pkg, rel.Version)
			}
			if rel.Released > newest {
				newest = rel.Released
			}
		}
	}
	t, err := time.Parse("2006-01-02", newest)
	if err != nil {
		return 0, fmt.Errorf("release date %q: %w", newest, err)
	}
	return t.Unix(), nil
}

// ProvenanceName is the file of BuildKit's provenance attestation of a
// plan's tarball: <tarball>.provenance.json. It holds the solve's times, so
// SHA256SUMS leaves it out.
func ProvenanceName(p *pipeline.Plan) string {
	return TarballName(p) + provenanceSuffix
}

// TarballName is the file name of a plan's dist tarball:
// s6-<version>-<os>_<arch>[_<variant>].tar.gz.
func TarballName(p *pipeline.Plan) string {
	return "s6-" + p.Request.S6 + "-" + pipeline.PlatformDir(p.Request.Platform) + ".tar.gz"
}

// WriteTarball writes the dist tree in dir as a gzip'd tar to w, ready to
// extract at the dist's prefix (/): entries in byte order of their paths,
// directories first, owner 0:0 without names, the tree's permission bits,
// every time epoch. Only directories, regular files and symbolic links are
// taken; anything else in the tree is an error. Files named in skip (at the
// top) are left out.
func WriteTarball(w io.Writer, dir string, epoch int64, skip ...string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		for _, s := range skip {
			if rel == s {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		paths = append(paths, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	// No name, no modification time: the header is the same bytes always.
	zw.Header = gzip.Header{OS: 255}
	tw := tar.NewWriter(zw)
	mtime := time.Unix(epoch, 0).UTC()
	for _, rel := range paths {
		full := filepath.Join(dir, filepath.FromSlash(rel))
		fi, err := os.Lstat(full)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: rel, ModTime: mtime, Mode: int64(fi.Mode().Perm()), Format: tar.FormatPAX}
		switch {
		case fi.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, rel+"/"
		case fi.Mode().IsRegular():
			h.Typeflag, h.Size = tar.TypeReg, fi.Size()
		case fi.Mode()&fs.ModeSymlink != 0:
			h.Typeflag = tar.TypeSymlink
			if h.Linkname, err = os.Readlink(full); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: neither a file, a directory nor a symbolic link", rel)
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			f, err := os.Open(full)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// Sha256File is the hex sha256 of a file.
func Sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// WriteSums writes SHA256SUMS in dir over the files named, in sha256sum's
// format (`<hex>  <name>`), sorted by name.
func WriteSums(dir string, names []string) error {
	names = append([]string(nil), names...)
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		sum, err := Sha256File(filepath.Join(dir, n))
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, n)
	}
	return os.WriteFile(filepath.Join(dir, SumsFile), []byte(b.String()), 0o644)
}

// ReadSums reads a SHA256SUMS file: name -> hex digest.
func ReadSums(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for i, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 64 || name == "" {
			return nil, fmt.Errorf("%s line %d: want \"<sha256>  <name>\"", path, i+1)
		}
		out[name] = sum
	}
	return out, nil
}

// writeJSON writes v as indented JSON with a final newline.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
