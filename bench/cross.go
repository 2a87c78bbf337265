package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/pipeline"
)

// crossTarget is the foreign platform the cross figures compare on.
const crossTarget = "linux/arm64"

// runCross measures cross-compilation for each s6 release (the newest one
// by default): the cold build for the daemon's own platform, the same
// request for linux/arm64 cross-compiled on it, and, when
// S6BUILDER_TOOLCHAIN_EMULATED names an arm64 toolchain image (`scripts/testenv
// emulated-toolchain linux/arm64` makes one), built under emulation with it;
// then the dist size of every target, built in one invocation.
func runCross(n int, s6s []string, prune bool) error {
	b, err := newBench(n, prune)
	if err != nil {
		return err
	}
	defer b.close()
	if !b.real {
		return fmt.Errorf("the cross figures need real sources: set S6BUILDER_REAL_SOURCES")
	}
	native, err := bk.NativePlatform(b.ctx, b.c)
	if err != nil {
		return err
	}
	emulatedTC := os.Getenv("S6BUILDER_TOOLCHAIN_EMULATED")
	fmt.Printf("# s6builder cross-compilation benchmarks\n\n- sources: %s\n- runs: median of %d (emulated: 1 run)\n- machine: %d CPUs (%s), toolchain %s\n- emulated toolchain (%s): %s\n\n",
		b.sources, n, runtime.NumCPU(), native, b.toolchain, crossTarget, firstOr(emulatedTC, "none given (S6BUILDER_TOOLCHAIN_EMULATED unset)"))
	fmt.Printf("| request | native (%s) cold | cross (%s on %s) cold | cross/native | emulated (%s) cold | emulated/cross |\n", native, crossTarget, native, crossTarget)
	fmt.Println("|---|---|---|---|---|---|")
	for _, s6 := range s6s {
		nat, err := b.platformPlan(s6, native, native, b.toolchain)
		if err != nil {
			return err
		}
		cross, err := b.platformPlan(s6, crossTarget, native, b.toolchain)
		if err != nil {
			return err
		}
		var natT, crossT []time.Duration
		for i := 0; i < b.n; i++ {
			for _, m := range []struct {
				p  *pipeline.Plan
				to *[]time.Duration
			}{{nat, &natT}, {cross, &crossT}} {
				if err := b.coldStart(); err != nil {
					return err
				}
				t, _, err := b.build(m.p, "")
				if err != nil {
					return fmt.Errorf("s6 %s for %s: %w", s6, m.p.Request.Platform, err)
				}
				*m.to = append(*m.to, t)
			}
		}
		emu, emuRatio := "-", "-"
		if emulatedTC != "" {
			p, err := b.platformPlan(s6, crossTarget, "", emulatedTC)
			if err != nil {
				return err
			}
			if err := b.coldStart(); err != nil {
				return err
			}
			if err := b.pull(emulatedTC, crossTarget); err != nil {
				return err
			}
			t, _, err := b.build(p, "")
			if err != nil {
				return fmt.Errorf("s6 %s for %s under emulation: %w", s6, crossTarget, err)
			}
			emu, emuRatio = sec(t), fmt.Sprintf("%.1fx", ratio(t, median(crossT)))
		}
		fmt.Printf("| s6 %s (skalibs %s, execline %s) | %s | %s | %.2fx | %s | %s |\n", s6, nat.Request.Skalibs, nat.Request.Execline,
			sec(median(natT)), sec(median(crossT)), ratio(median(crossT), median(natT)), emu, emuRatio)
	}

	// Every target in one invocation, as `--platform a,b,...` builds them.
	s6 := s6s[len(s6s)-1]
	type target struct{ platform, toolchain string }
	var targets []target
	for _, t := range pipeline.Targets {
		switch {
		case t.InDefaultToolchain:
			targets = append(targets, target{t.Platform, b.toolchain})
		case os.Getenv("S6BUILDER_TOOLCHAIN_NEXT") != "":
			targets = append(targets, target{t.Platform, os.Getenv("S6BUILDER_TOOLCHAIN_NEXT")})
		}
	}
	tmp, err := os.MkdirTemp("", "bench-targets-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var plans []*pipeline.Plan
	var opts []bk.Options
	for _, t := range targets {
		p, err := b.platformPlan(s6, t.platform, native, t.toolchain)
		if err != nil {
			return err
		}
		plans = append(plans, p)
		opts = append(opts, bk.Options{Dist: filepath.Join(tmp, pipeline.PlatformDir(t.platform))})
	}
	if err := b.coldStart(); err != nil {
		return err
	}
	start := time.Now()
	if _, err := bk.BuildMany(b.ctx, b.c, plans, opts, "quiet", nil); err != nil {
		return err
	}
	fmt.Printf("\nEvery target of s6 %s in one invocation (cold, %d targets, on %s): %s\n\n", s6, len(targets), native, sec(time.Since(start)))
	fmt.Println("| target | runtime part (bin, sbin, libexec) | whole dist |")
	fmt.Println("|---|---|---|")
	for i, t := range targets {
		var runtimeSize int64
		for _, sub := range []string{"bin", "sbin", "libexec"} {
			runtimeSize += dirSize(filepath.Join(opts[i].Dist, sub))
		}
		fmt.Printf("| %s | %.1f MB | %.1f MB |\n", t.platform, float64(runtimeSize)/1e6, float64(dirSize(opts[i].Dist))/1e6)
	}
	return nil
}

// platformPlan plans s6 for platform, built on buildPlatform ("" = under
// emulation, on platform itself) with toolchain.
func (b *bench) platformPlan(s6, platform, buildPlatform, toolchain string) (*pipeline.Plan, error) {
	return pipeline.New(b.cat, pipeline.Request{S6: s6, Platform: platform, BuildPlatform: buildPlatform,
		Mirror: b.mirror.URL, Toolchain: pipeline.Toolchain{Image: toolchain}})
}

func firstOr(s, or string) string {
	if s != "" {
		return s
	}
	return or
}
