package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/moby/buildkit/client"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/pipeline"
)

// runNodes measures a release of the newest family for plats on the test
// environment's daemon alone, then spread over it and a second daemon (a
// private buildkitd on this machine, as `--node` takes it), both caches
// pruned and the toolchain pulled before every run; and checks that both
// releases are the same bytes.
func runNodes(n int, plats []string, prune bool) error {
	b, err := newBench(n, prune)
	if err != nil {
		return err
	}
	defer b.close()
	root, err := os.MkdirTemp("", "bench-node-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Minute)
	d, err := bk.StartPrivate(ctx, bk.PrivateOptions{Root: root, HTTPRegistries: []string{strings.SplitN(b.toolchain, "/", 2)[0]}})
	cancel()
	if err != nil {
		return err
	}
	defer d.Stop()
	second, err := bk.Connect(b.ctx, d.Addr)
	if err != nil {
		return err
	}
	defer second.Close()
	nodes := []*client.Client{b.c, second}
	var native []string
	for _, c := range nodes {
		p, err := bk.NativePlatform(b.ctx, c)
		if err != nil {
			return err
		}
		native = append(native, p)
	}
	var reqs []pipeline.Request
	for _, p := range plats {
		// Not normalized here: the build platform is the node's
		// (OnEngine), and what it makes cross is decided with it.
		reqs = append(reqs, pipeline.Request{S6: "2.15.1.0", With: []string{"all"}, Platform: p, BuildPlatform: native[0],
			Mirror: b.mirror.URL, Toolchain: pipeline.Toolchain{Image: b.toolchain}})
	}
	release := func(on []int, used []*client.Client) (time.Duration, string, error) {
		plans := make([]*pipeline.Plan, len(reqs))
		for i, r := range reqs {
			p, err := pipeline.New(b.cat, r.OnEngine(native[on[i]]))
			if err != nil {
				return 0, "", err
			}
			plans[i] = p
		}
		for _, c := range used {
			if err := b.coldStartOn(c); err != nil {
				return 0, "", err
			}
		}
		dir, err := os.MkdirTemp("", "bench-nodes-release-")
		if err != nil {
			return 0, "", err
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "r")
		start := time.Now()
		_, _, err = bk.Release(b.ctx, b.c, plans, bk.ReleaseOptions{Dir: out, Progress: "quiet", SourceDateEpoch: 1700000000, Nodes: used, On: on})
		took := time.Since(start)
		if err != nil {
			return 0, "", err
		}
		sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
		return took, string(sums), err
	}
	var one, two []time.Duration
	var sumsOne, sumsTwo string
	spread := bk.Assign(native, plats)
	for i := 0; i < n; i++ {
		t, s, err := release(make([]int, len(plats)), nodes[:1])
		if err != nil {
			return fmt.Errorf("one daemon: %w", err)
		}
		one, sumsOne = append(one, t), s
		if t, s, err = release(spread, nodes); err != nil {
			return fmt.Errorf("two daemons: %w", err)
		}
		two, sumsTwo = append(two, t), s
	}
	fmt.Printf("# s6builder on two daemons\n\n- sources: %s\n- machine: %d CPUs (%s/%s); both daemons on it\n- release of s6 2.15.1.0 --with all for %s, median of %d, caches pruned and the toolchain pulled before each run\n\n",
		b.sources, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, strings.Join(plats, ", "), n)
	fmt.Println("| daemons | release | same SHA256SUMS as one daemon |")
	fmt.Println("|---|---|---|")
	fmt.Printf("| one (%s) | %s | - |\n", native[0], sec(median(one)))
	var where []string
	for i, p := range plats {
		where = append(where, fmt.Sprintf("%s on node %d", p, spread[i]))
	}
	fmt.Printf("| two (%s; %s) | %s | %v |\n", strings.Join(native, ", "), strings.Join(where, ", "), sec(median(two)), sumsOne == sumsTwo)
	fmt.Printf("\n- two/one: %.2fx\n", ratio(median(two), median(one)))
	return nil
}
