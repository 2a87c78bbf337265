package main

import (
	"archive/tar"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/ulikunitz/xz"

	"github.com/moby/buildkit/client"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/internal/overlayref"
	"github.com/s6builder/s6builder/pipeline"
)

// runOverlay measures `s6builder overlay` beside s6-overlay's own build
// (its Makefile, `make -j` in one container on the same daemon, with the
// same toolchain and sources: internal/overlayref) for this machine's
// platform: cold (the daemon's cache pruned, the toolchain pulled again),
// warm, a one-package bump (s6-rc 0.7.0.0 → 0.6.1.1, after a warm run),
// and the tarballs' sizes side by side. s6-overlay's build runs in a fresh
// container each time: its warm run and its bump are its cold run.
func runOverlay(n int, version string, prune bool) error {
	b, err := newBench(n, prune)
	if err != nil {
		return err
	}
	defer b.close()
	if !b.real {
		return fmt.Errorf("the s6-overlay figures need real sources: set S6BUILDER_REAL_SOURCES")
	}
	native, err := bk.NativePlatform(b.ctx, b.c)
	if err != nil {
		return err
	}
	plan := func(with ...string) (*pipeline.Plan, error) {
		return pipeline.NewOverlay(b.cat, pipeline.OverlayRequest{Version: version, BuildPlatform: native, Mirror: b.mirror.URL,
			Toolchain: pipeline.Toolchain{Image: b.toolchain}, With: with})
	}
	p, err := plan()
	if err != nil {
		return err
	}
	bump, err := plan("s6-rc=0.6.1.1")
	if err != nil {
		return err
	}
	arch := p.OverlayArchTarballs()[0]
	hw := arch[len("s6-overlay-") : len(arch)-len(".tar.xz")]
	ours := func(p *pipeline.Plan) (time.Duration, string, error) {
		dir, err := os.MkdirTemp("", "bench-overlay-")
		if err != nil {
			return 0, "", err
		}
		out := filepath.Join(dir, "out")
		start := time.Now()
		_, err = bk.Overlay(b.ctx, b.c, []*pipeline.Plan{p}, bk.OverlayOptions{Dir: out, Version: "bench", Progress: "quiet"})
		return time.Since(start), out, err
	}
	theirs := func() (time.Duration, string, error) {
		st, err := overlayref.Build(p, hw)
		if err != nil {
			return 0, "", err
		}
		def, err := st.Marshal(b.ctx)
		if err != nil {
			return 0, "", err
		}
		out, err := os.MkdirTemp("", "bench-overlay-theirs-")
		if err != nil {
			return 0, "", err
		}
		start := time.Now()
		_, err = b.c.Solve(b.ctx, def, client.SolveOpt{Exports: []client.ExportEntry{{Type: client.ExporterLocal, OutputDir: out}}}, nil)
		return time.Since(start), out, err
	}
	var cold, warm, bumped, ref []time.Duration
	var ourDir, refDir string
	for i := 0; i < n; i++ {
		if err := b.coldStart(); err != nil {
			return err
		}
		d, dir, err := ours(p)
		if err != nil {
			return err
		}
		cold, ourDir = append(cold, d), dir
		if d, _, err = ours(p); err != nil {
			return err
		}
		warm = append(warm, d)
		if d, _, err = ours(bump); err != nil {
			return err
		}
		bumped = append(bumped, d)
		if err := b.coldStart(); err != nil {
			return err
		}
		if d, refDir, err = theirs(); err != nil {
			return err
		}
		ref = append(ref, d)
	}
	fmt.Printf("# s6-overlay from source against its own build\n\n- s6-overlay %s, %s (%s), real sources\n- runs: median of %d; cache pruned and the toolchain pulled before each cold run\n- machine: %d CPUs, toolchain %s\n\n",
		version, native, hw, n, runtime.NumCPU(), b.toolchain)
	fmt.Println("| build | cold | warm | bump (s6-rc 0.7.0.0 → 0.6.1.1) |")
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| s6builder overlay | %s | %s | %s |\n", sec(median(cold)), sec(median(warm)), sec(median(bumped)))
	fmt.Printf("| s6-overlay's Makefile (make -j%d, one container) | %s | (%s: a fresh container builds everything) | (%s) |\n", runtime.NumCPU(), sec(median(ref)), sec(median(ref)), sec(median(ref)))
	fmt.Printf("| ratio s6builder/Makefile | %.2f | | %.2f |\n\n", ratio(median(cold), median(ref)), ratio(median(bumped), median(ref)))
	fmt.Println("| tarball | s6builder | s6-overlay's Makefile |")
	fmt.Println("|---|---|---|")
	for _, name := range append(append([]string{}, pipeline.OverlayNoarchTarballs...), arch, pipeline.OverlaySymlinksArch) {
		a, err := os.Stat(filepath.Join(ourDir, name))
		if err != nil {
			return err
		}
		r, err := os.Stat(filepath.Join(refDir, name))
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %d | %d |\n", name, a.Size(), r.Size())
	}
	ourFiles, ourSize, err := tarballFiles(filepath.Join(ourDir, arch))
	if err != nil {
		return err
	}
	refFiles, refSize, err := tarballFiles(filepath.Join(refDir, arch))
	if err != nil {
		return err
	}
	same := 0
	for name, sum := range ourFiles {
		if refFiles[name] == sum {
			same++
		}
	}
	fmt.Printf("\n- %s unpacked (the runtime: its regular files' bytes): s6builder %d in %d files, s6-overlay's Makefile %d in %d files (ratio %.3f); %d files byte-identical\n",
		arch, ourSize, len(ourFiles), refSize, len(refFiles), float64(ourSize)/float64(refSize), same)
	return nil
}

// tarballFiles reads an .tar.xz: each regular file's sha256 by name, and
// their bytes in all.
func tarballFiles(path string) (map[string]string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	xr, err := xz.NewReader(f)
	if err != nil {
		return nil, 0, err
	}
	tr := tar.NewReader(xr)
	files := map[string]string{}
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, total, nil
		}
		if err != nil {
			return nil, 0, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		sum := sha256.New()
		if _, err := io.Copy(sum, tr); err != nil {
			return nil, 0, err
		}
		files[strings.TrimPrefix(h.Name, "./")] = fmt.Sprintf("%x", sum.Sum(nil))
		total += h.Size
	}
}
