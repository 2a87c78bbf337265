package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
	"github.com/s6builder/s6builder/pipeline/inputerr"
	"github.com/s6builder/s6builder/pipeline/release"
)

func releaseCmd() *cobra.Command {
	var (
		rf           requestFlags
		output, addr string
		progress     string
		force        bool
		epoch        int64
		cache        bk.Cache
		nodeAddrs    []string
	)
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Build release artifacts: reproducible tarballs, manifest, SBOM and SHA256SUMS",
		Long: `Build the request (--platform a,b,... for several platforms) and write into
--output, replaced atomically:

  s6-<version>-<os>_<arch>[_<variant>].tar.gz   the dist tree of each platform,
                                  to extract at / (bin, sbin, libexec, lib,
                                  include, etc)
  manifest.json                   every input: releases, tarball digests and
                                  who published them, the toolchain image and
                                  the packages and compilers inside it, each
                                  build step's argv, SOURCE_DATE_EPOCH
  sbom.spdx.json                  SPDX 2.3: the source tarballs, and the
                                  artifacts generated from them
  SHA256SUMS                      over all of the above

The tarballs are bit-for-bit reproducible: sorted entries, owner 0:0, every
time SOURCE_DATE_EPOCH (default: the day the newest source release in the
request was tagged), gzip without a name or a time. 's6builder verify DIR'
rebuilds what DIR/manifest.json describes and compares.`,
		Example: `  s6builder release --s6 2.15.1.0 --with all --platform linux/amd64,linux/arm64 -o ./release
  s6builder verify ./release`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output == "" {
				return usageError{fmt.Errorf("give --output DIR, where the release goes")}
			}
			if epoch < 0 {
				return usageError{inputerr.New("source-date-epoch", strconv.FormatInt(epoch, 10), "want seconds since 1970")}
			}
			cat, req, err := rf.load()
			if err != nil {
				return err
			}
			if strings.Contains(req.S6, ",") {
				return usageError{inputerr.New("s6", req.S6, "a release is of one s6 release: give one")}
			}
			reqs, err := plannable(cat, req)
			if err != nil {
				return err
			}
			if err := bk.CheckOutputs([]bk.Output{{Field: "output", Path: output}}, force); err != nil {
				return usageError{err}
			}
			if err := checkNodes(addr, nodeAddrs); err != nil {
				return usageError{err}
			}
			c, stop, err := connect(cmd, addr, rf.toolchainRefs()...)
			if err != nil {
				return err
			}
			defer stop()
			n, stopNodes, err := connectNodes(cmd, c, nodeAddrs)
			if err != nil {
				return err
			}
			defer stopNodes()
			plans, on, err := plansOnNodes(n, cat, reqs)
			if err != nil {
				return err
			}
			start := time.Now()
			m, reps, err := bk.Release(cmd.Context(), c.Client, plans, bk.ReleaseOptions{Dir: output, Force: force,
				Version: version(), SourceDateEpoch: epoch, Progress: progress, Cache: cache,
				Nodes: n.clients(), On: on})
			if err != nil {
				return n.explain(err)
			}
			warnCacheImports(reps...)
			for _, a := range m.Artifacts {
				fmt.Printf("%s  %s\n", a.SHA256, a.File)
			}
			fmt.Fprintf(os.Stderr, "s6builder: release of s6 %s for %d platform(s) in %s in %.1fs (SOURCE_DATE_EPOCH=%d)\n",
				req.S6, len(m.Artifacts), output, time.Since(start).Seconds(), m.SourceDateEpoch)
			return nil
		},
	}
	rf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "", "release directory (replaced atomically)")
	f.BoolVar(&force, "force", false, "replace --output even when it is not an s6builder output")
	f.Int64Var(&epoch, "source-date-epoch", envEpoch(), "time of every file in the tarballs, in seconds since 1970 (default: env SOURCE_DATE_EPOCH, else the day the newest source release was tagged)")
	f.StringVar(&addr, "addr", os.Getenv("BUILDKIT_HOST"), "BuildKit daemon address; env BUILDKIT_HOST")
	progressVar(f, &progress)
	cacheVars(f, &cache)
	nodeVar(f, &nodeAddrs)
	return cmd
}

// envEpoch is SOURCE_DATE_EPOCH from the environment, 0 when unset or not
// a number (then the release derives it).
func envEpoch() int64 {
	n, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// version is s6builder's own version, as the Go toolchain stamped it: the
// module version, and the VCS revision when built from a checkout.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		v += "+" + rev[:12]
		if dirty {
			v += "-dirty"
		}
	}
	return v
}

func verifyCmd() *cobra.Command {
	var addr, progress string
	cmd := &cobra.Command{
		Use:   "verify DIR",
		Short: "Rebuild the release DIR/manifest.json describes and compare it with DIR/SHA256SUMS",
		Long: `Rebuild what DIR/manifest.json describes (the same requests, source digests,
toolchain, SOURCE_DATE_EPOCH and s6builder version it records) into a
temporary directory and compare every file of DIR/SHA256SUMS: each is
printed as identical or DIFFERS, with the first differing entry of a
tarball. Before that, the files in DIR are checked against DIR/SHA256SUMS
(as sha256sum -c does): a file whose content differs, a missing file and a
file s6builder did not write are each printed as TAMPERED. Exit status 1
when anything differs.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.ExactArgs(1)(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if om, ok, err := release.ReadOverlayManifest(dir); ok {
				if err != nil {
					return usageError{err}
				}
				return verifyOverlay(cmd, dir, om, addr, progress)
			}
			m, err := release.ReadManifest(dir)
			if err != nil {
				return usageError{err}
			}
			want, err := release.ReadSums(filepath.Join(dir, release.SumsFile))
			if err != nil {
				return usageError{err}
			}
			cat, err := manifestCatalog(m)
			if err != nil {
				return usageError{err}
			}
			// What is in DIR, against its own SHA256SUMS: a tampered,
			// missing or foreign file is found without any rebuild.
			findings, err := release.CheckDir(dir, want, bk.MarkerName)
			if err != nil {
				return err
			}
			for _, f := range findings {
				fmt.Printf("TAMPERED   %s (%s)\n", f.Name, f.Problem)
			}
			var plans []*pipeline.Plan
			for _, a := range m.Artifacts {
				r := a.Request
				if r.CC != "" {
					// The compiler the request's own normalization picks is
					// recorded too; only a user's own --cc is passed as such.
					probe := r
					probe.CC = ""
					if n, err := probe.Normalize(); err == nil && n.CC == r.CC {
						r.CC = ""
					}
				}
				p, err := pipeline.New(cat, r)
				if err != nil {
					return usageError{fmt.Errorf("%s: %w", a.File, err)}
				}
				plans = append(plans, p)
			}
			return withRebuild(cmd, addr, m.Artifacts[0].Request.Toolchain.Image, func(c *daemon, again string) error {
				_, _, err := bk.Release(cmd.Context(), c.Client, plans, bk.ReleaseOptions{Dir: again, Version: m.S6builder,
					SourceDateEpoch: m.SourceDateEpoch, Progress: progress})
				return err
			}, func(again string, got map[string]string) error {
				differ, names := compareRebuild(dir, again, want, got)
				// BuildKit's provenance of each tarball, beside it and outside
				// SHA256SUMS (it holds the solve's times): the rebuild's, but
				// for those times.
				provDiffer := 0
				for _, p := range plans {
					name := release.ProvenanceName(p)
					mine, err := os.ReadFile(filepath.Join(dir, name))
					if errors.Is(err, fs.ErrNotExist) {
						fmt.Printf("no provenance  %s (a release made without BuildKit's attestation)\n", name)
						continue
					}
					if err != nil {
						return err
					}
					rebuilt, err := os.ReadFile(filepath.Join(again, name))
					if err != nil {
						return err
					}
					d, err := release.ProvenanceDifference(mine, rebuilt)
					if err != nil {
						d = err.Error()
					}
					if d == "" {
						fmt.Printf("identical  provenance  %s (but for the solve's times and the daemon's intermediate blobs)\n", name)
						continue
					}
					provDiffer++
					fmt.Printf("DIFFERS    provenance  %s (first difference at %s)\n", name, d)
				}
				var problems []string
				if provDiffer > 0 {
					problems = append(problems, fmt.Sprintf("%d provenance files differ from the rebuild's", provDiffer))
				}
				return verdict(dir, len(findings), differ, len(names), problems...)
			})
		},
	}
	cmd.Flags().StringVar(&addr, "addr", os.Getenv("BUILDKIT_HOST"), "BuildKit daemon address; env BUILDKIT_HOST")
	progressVar(cmd.Flags(), &progress)
	return cmd
}

// withRebuild connects to the daemon (with ref, the toolchain, at hand),
// has build make the rebuild into a temporary folder, and gives compare
// that folder and its SHA256SUMS; the folder goes afterwards.
func withRebuild(cmd *cobra.Command, addr, ref string, build func(c *daemon, again string) error, compare func(again string, got map[string]string) error) error {
	c, stop, err := connect(cmd, addr, ref)
	if err != nil {
		return err
	}
	defer stop()
	tmp, err := os.MkdirTemp("", "s6builder-verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	again := filepath.Join(tmp, "rebuild")
	if err := build(c, again); err != nil {
		return c.explain(err)
	}
	got, err := release.ReadSums(filepath.Join(again, release.SumsFile))
	if err != nil {
		return err
	}
	return compare(again, got)
}

// verdict is verify's last word: the problems found (those given first),
// or nil, having said that every file matched and was rebuilt identical.
func verdict(dir string, tampered, differ, total int, problems ...string) error {
	if tampered > 0 {
		problems = append(problems, fmt.Sprintf("%d files of %s are not what its %s says", tampered, dir, release.SumsFile))
	}
	if differ > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d files of %s were rebuilt different", differ, total, filepath.Join(dir, release.SumsFile)))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Fprintf(os.Stderr, "s6builder: every file of %s matches %s, and all %d were rebuilt identical\n", dir, release.SumsFile, total)
	return nil
}

// compareRebuild prints, for each file of want (SHA256SUMS of dir),
// whether the rebuild in again (its sums got) has it identical, and
// returns how many differ and the names, sorted.
func compareRebuild(dir, again string, want, got map[string]string) (differ int, names []string) {
	names = slices.Sorted(maps.Keys(want))
	for _, n := range names {
		if got[n] == want[n] {
			fmt.Printf("identical  %s  %s\n", want[n], n)
			continue
		}
		differ++
		why := "not rebuilt"
		if got[n] != "" {
			why = "rebuilt as " + got[n]
			if strings.HasSuffix(n, ".tar.gz") {
				if first, err := firstDifference(filepath.Join(dir, n), filepath.Join(again, n)); err == nil && first != "" {
					why += "; first differing entry: " + first
				}
			}
		}
		fmt.Printf("DIFFERS    %s  %s (%s)\n", want[n], n, why)
	}
	return differ, names
}

// manifestCatalog is the embedded catalogue with the manifest's source
// digests pinned: the rebuild fetches exactly what the release used. A
// digest the embedded catalogue does not have as recorded (a user's, from
// a catalogue file) comes in a layer named as its source was, so that the
// rebuilt manifest says the same of it.
func manifestCatalog(m *release.Manifest) (*catalog.Catalog, error) {
	embedded, err := pipeline.LoadCatalog()
	if err != nil {
		return nil, err
	}
	known := func(s release.Source) bool {
		for _, r := range embedded.Releases(s.Package) {
			if r.Version.String() == s.Version {
				return r.Digest.String() == s.Digest && r.DigestSource == s.Published
			}
		}
		return false
	}
	type rel struct {
		Package string `json:"package"`
		Version string `json:"version"`
		Digest  string `json:"digest"`
	}
	bySource := map[string][]rel{}
	seen := map[string]bool{}
	for _, a := range m.Artifacts {
		for _, s := range a.Sources {
			if seen[s.Tarball] || known(s) {
				continue
			}
			seen[s.Tarball] = true
			bySource[s.Published] = append(bySource[s.Published], rel{s.Package, s.Version, s.Digest})
		}
	}
	var layers []pipeline.Layer
	for _, src := range slices.Sorted(maps.Keys(bySource)) {
		b, err := json.Marshal(map[string][]rel{"releases": bySource[src]})
		if err != nil {
			return nil, err
		}
		cf, err := catalog.ParseFile(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", release.ManifestFile, err)
		}
		layers = append(layers, pipeline.Layer{Source: src, File: cf})
	}
	return pipeline.LoadCatalog(layers...)
}

// firstDifference is the first entry (in the tarballs' order) whose header
// or content differs between two gzip'd tarballs, "" when none does.
func firstDifference(a, b string) (string, error) {
	ea, err := tarEntries(a)
	if err != nil {
		return "", err
	}
	eb, err := tarEntries(b)
	if err != nil {
		return "", err
	}
	for i := 0; i < len(ea) || i < len(eb); i++ {
		switch {
		case i >= len(ea):
			return eb[i].name + " (only in the rebuild)", nil
		case i >= len(eb):
			return ea[i].name + " (missing from the rebuild)", nil
		case ea[i] != eb[i]:
			return ea[i].name, nil
		}
	}
	return "", nil
}

type tarEntry struct{ name, sum string }

func tarEntries(path string) ([]tarEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	var out []tarEntry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		sum := sha256.New()
		fmt.Fprintf(sum, "%c %o %d %d %s %d\n", h.Typeflag, h.Mode, h.Uid, h.Gid, h.Linkname, h.ModTime.Unix())
		if _, err := io.Copy(sum, tr); err != nil {
			return nil, err
		}
		out = append(out, tarEntry{h.Name, fmt.Sprintf("%x", sum.Sum(nil))})
	}
}
