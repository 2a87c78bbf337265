package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/pipeline"
)

// emulatedDefault is the platform S6BUILDER_TOOLCHAIN_EMULATED (one
// emulated toolchain, the older form) is for.
const emulatedDefault = "linux/arm64"

// runCross measures cross-compilation for each s6 release (the newest one
// by default): the cold build for the daemon's own platform, then, for every
// target a toolchain here covers, the same request cross-compiled on it
// (cross/native), and, for the targets S6BUILDER_TOOLCHAINS_EMULATED names a
// toolchain image of (PLATFORM=REF,...; `scripts/testenv emulated-toolchain
// PLATFORM` makes one), the same built under emulation with it
// (emulated/cross); then every target in one invocation, cold and warm, and
// the dist size of each.
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
	emulated := map[string]string{}
	for _, kv := range strings.Split(os.Getenv("S6BUILDER_TOOLCHAINS_EMULATED"), ",") {
		if p, ref, ok := strings.Cut(kv, "="); ok {
			emulated[p] = ref
		}
	}
	if ref := os.Getenv("S6BUILDER_TOOLCHAIN_EMULATED"); ref != "" && emulated[emulatedDefault] == "" {
		emulated[emulatedDefault] = ref
	}
	targets := b.crossTargets()
	fmt.Printf("# s6builder cross-compilation benchmarks\n\n- sources: %s\n- runs: median of %d (emulated: 1 run)\n- machine: %d CPUs (%s), toolchain %s\n- emulated toolchains: %v\n\n",
		b.sources, n, runtime.NumCPU(), native, b.toolchain, emulated)
	fmt.Printf("| request | target | native (%s) cold | cross cold | cross/native | emulated cold | emulated/cross |\n", native)
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, s6 := range s6s {
		nat, err := b.platformPlan(s6, native, native, b.toolchain)
		if err != nil {
			return err
		}
		cold := func(p *pipeline.Plan, runs int) (time.Duration, error) {
			var ts []time.Duration
			for i := 0; i < runs; i++ {
				if err := b.coldStart(); err != nil {
					return 0, err
				}
				// The target's own toolchain (riscv64's trixie image) is
				// not the one coldStart pulls: no figure pays for a pull.
				if err := b.pull(p.Request.Toolchain.Image, ""); err != nil {
					return 0, err
				}
				t, _, err := b.build(p, "")
				if err != nil {
					return 0, fmt.Errorf("s6 %s for %s: %w", s6, p.Request.Platform, err)
				}
				ts = append(ts, t)
			}
			return median(ts), nil
		}
		natT, err := cold(nat, b.n)
		if err != nil {
			return err
		}
		for _, t := range targets {
			if t.platform == native {
				continue
			}
			cross, err := b.platformPlan(s6, t.platform, native, t.toolchain)
			if err != nil {
				return err
			}
			crossT, err := cold(cross, b.n)
			if err != nil {
				return err
			}
			emu, emuRatio := "-", "-"
			if ref := emulated[t.platform]; ref != "" {
				p, err := b.platformPlan(s6, t.platform, "", ref)
				if err != nil {
					return err
				}
				if err := b.coldStart(); err != nil {
					return err
				}
				if err := b.pull(ref, t.platform); err != nil {
					return err
				}
				start := time.Now()
				if _, _, err := b.build(p, ""); err != nil {
					return fmt.Errorf("s6 %s for %s under emulation: %w", s6, t.platform, err)
				}
				et := time.Since(start)
				emu, emuRatio = sec(et), fmt.Sprintf("%.1fx", ratio(et, crossT))
			}
			fmt.Printf("| s6 %s (skalibs %s, execline %s) | %s | %s | %s | %.2fx | %s | %s |\n", s6, nat.Request.Skalibs, nat.Request.Execline,
				t.platform, sec(natT), sec(crossT), ratio(crossT, natT), emu, emuRatio)
		}
	}

	// Every target in one invocation, as `--platform a,b,...` builds them.
	s6 := s6s[len(s6s)-1]
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
	coldAll := time.Since(start)
	// Warm: the same invocation again, every stage in the cache; only the
	// export of each dist is left.
	start = time.Now()
	if _, err := bk.BuildMany(b.ctx, b.c, plans, opts, "quiet", nil); err != nil {
		return err
	}
	fmt.Printf("\nEvery target of s6 %s in one invocation (%d targets, on %s): cold %s, warm %s\n\n", s6, len(targets), native, sec(coldAll), sec(time.Since(start)))
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

// crossTarget is a target and the toolchain that cross-compiles it.
type crossTarget struct{ platform, toolchain string }

// crossTargets are the targets a toolchain here covers: the default
// toolchain's, and those of S6BUILDER_TOOLCHAIN_NEXT (riscv64) when set.
func (b *bench) crossTargets() []crossTarget {
	var out []crossTarget
	for _, t := range pipeline.Targets {
		switch {
		case t.InDefaultToolchain:
			out = append(out, crossTarget{t.Platform, b.toolchain})
		case os.Getenv("S6BUILDER_TOOLCHAIN_NEXT") != "":
			out = append(out, crossTarget{t.Platform, os.Getenv("S6BUILDER_TOOLCHAIN_NEXT")})
		}
	}
	return out
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
