package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/internal/ocirun"
	"github.com/s6builder/s6builder/pipeline"
)

// bootImage is one kind of image the boot figures compare: how it is
// made and the log line of its first service up.
type bootImage struct {
	name  string
	ready string
	env   []string                         // the container's environment besides the image's
	build func(dir string) (string, error) // the OCI archive's path
}

// runBoot measures, for each kind of image s6builder makes (s6-svscan over
// a service tree, s6-linux-init with an s6-rc bundle, s6-overlay's /init),
// over the same Debian base (S6BUILDER_SSHD_BASE) under runc, the time
// from the container's start to its first service's "started" line, and
// from SIGTERM to the container's exit: medians of n runs (20 by default).
func runBoot(n int, prune bool) error {
	b, err := newBench(n, prune)
	if err != nil {
		return err
	}
	defer b.close()
	if !b.real {
		return fmt.Errorf("the boot figures need real sources: set S6BUILDER_REAL_SOURCES")
	}
	base := os.Getenv("S6BUILDER_SSHD_BASE")
	if base == "" {
		return fmt.Errorf("needs S6BUILDER_SSHD_BASE (a Debian base): scripts/testenv up tests && eval \"$(scripts/testenv env)\"")
	}
	native, err := bk.NativePlatform(b.ctx, b.c)
	if err != nil {
		return err
	}
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Dir(filepath.Dir(file))
	image := func(dir string, in bk.ImageInput) (string, error) {
		archive := filepath.Join(dir, "image.tar")
		_, err := bk.BuildImage(b.ctx, b.c, in, bk.ImageOptions{OCIArchive: archive, Progress: "quiet"})
		return archive, err
	}
	family := func(with ...string) (*pipeline.Plan, error) {
		return pipeline.New(b.cat, pipeline.Request{S6: "2.15.1.0", With: with, BuildPlatform: native, Mirror: b.mirror.URL,
			Toolchain: pipeline.Toolchain{Image: b.toolchain}, Prefix: pipeline.DefaultImagePrefix})
	}
	images := []bootImage{
		{name: "s6-svscan over a service tree (`image`)", ready: "app: started", build: func(dir string) (string, error) {
			p, err := family()
			if err != nil {
				return "", err
			}
			services := filepath.Join(dir, "services")
			if err := os.MkdirAll(filepath.Join(services, "app"), 0o755); err != nil {
				return "", err
			}
			run := "#!/bin/sh\necho \"app: started, pid $$\"\nexec sleep 100000\n"
			if err := os.WriteFile(filepath.Join(services, "app", "run"), []byte(run), 0o755); err != nil {
				return "", err
			}
			spec, err := pipeline.NewImage(pipeline.ImageRequest{Base: base})
			if err != nil {
				return "", err
			}
			return image(dir, bk.ImageInput{Spec: spec, Plans: []*pipeline.Plan{p}, Services: services})
		}},
	}
	// The s6-rc image with a grace time, and the s6-overlay image with an
	// environment: each as given.
	rcImage := func(what string, graceMS int) bootImage {
		return bootImage{name: "s6-linux-init and an s6-rc bundle (`image --init s6-rc" + what + "`, examples/s6-rc)", ready: "app: started",
			build: func(dir string) (string, error) {
				p, err := family("s6-rc=0.7.0.0", "s6-linux-init=1.2.0.2")
				if err != nil {
					return "", err
				}
				spec, err := pipeline.AddRcImage(p, pipeline.RcImage{Base: base, GraceMS: graceMS})
				if err != nil {
					return "", err
				}
				return image(dir, bk.ImageInput{Spec: spec, Plans: []*pipeline.Plan{p}, Locals: map[string]string{pipeline.LocalRc: filepath.Join(repo, "examples/s6-rc/rc")}})
			}}
	}
	overlayImage := func(what string, env []string) bootImage {
		return bootImage{name: "s6-overlay's /init (`image --init s6-overlay`, examples/s6-overlay" + what + ")", ready: "app: started", env: env,
			build: func(dir string) (string, error) {
				p, err := pipeline.NewOverlay(b.cat, pipeline.OverlayRequest{Version: "3.2.3.2", BuildPlatform: native, Mirror: b.mirror.URL,
					Toolchain: pipeline.Toolchain{Image: b.toolchain}})
				if err != nil {
					return "", err
				}
				spec, err := pipeline.AddOverlayImage(p, pipeline.OverlayImage{Base: base, Root: true})
				if err != nil {
					return "", err
				}
				return image(dir, bk.ImageInput{Spec: spec, Plans: []*pipeline.Plan{p}, Services: filepath.Join(repo, "examples/s6-overlay/root")})
			}}
	}
	images = append(images, rcImage("", 0), rcImage(" --grace-time 100", 100),
		overlayImage("", nil), overlayImage(", S6_KILL_GRACETIME=100", []string{"S6_KILL_GRACETIME=100"}))
	fmt.Printf("# Boot and stop times of s6builder's images\n\n- base %s, under runc (internal/ocirun), %s\n- runs: median of %d (min-max)\n- machine: %d CPUs\n\n",
		base, native, n, runtime.NumCPU())
	fmt.Println("| image | start → first service started | SIGTERM → exit | exit status |")
	fmt.Println("|---|---|---|---|")
	for _, im := range images {
		dir, err := os.MkdirTemp("", "bench-boot-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		archive, err := im.build(dir)
		if err != nil {
			return fmt.Errorf("%s: %w", im.name, err)
		}
		bundle, err := ocirun.Unpack(archive, filepath.Join(dir, "bundle"))
		if err != nil {
			return err
		}
		var up, down []time.Duration
		codes := map[int]int{}
		for i := 0; i < n; i++ {
			u, d, code, err := bootOnce(bundle, im.ready, im.env)
			if err != nil {
				return fmt.Errorf("%s, run %d: %w", im.name, i+1, err)
			}
			up, down = append(up, u), append(down, d)
			codes[code]++
		}
		fmt.Printf("| %s | %s | %s | %v |\n", im.name, spread(up), spread(down), codes)
	}
	return nil
}

// bootOnce starts the bundle, waits for ready in its log (timed by the
// log's writer, when the line arrives), sends SIGTERM and waits for the
// exit.
func bootOnce(b *ocirun.Bundle, ready string, env []string) (up, down time.Duration, code int, err error) {
	log := &lockedLog{want: ready}
	start := time.Now()
	c, err := ocirun.Start(b, fmt.Sprintf("s6builder-bench-%d", time.Now().UnixNano()), log,
		ocirun.Tmpfs("/run", "exec", "mode=0755"), ocirun.Env(env...))
	if err != nil {
		return 0, 0, 0, err
	}
	defer c.Remove()
	for log.readyAt().IsZero() {
		if time.Since(start) > 30*time.Second {
			return 0, 0, 0, fmt.Errorf("no %q after 30 s:\n%s", ready, log.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	up = log.readyAt().Sub(start)
	stop := time.Now()
	if err := c.Signal("TERM"); err != nil {
		return 0, 0, 0, err
	}
	if code, err = c.Wait(60 * time.Second); err != nil {
		return 0, 0, 0, err
	}
	return up, time.Since(stop), code, nil
}

// lockedLog is a container's log, written by runc's output and read by
// the poller.
type lockedLog struct {
	mu    sync.Mutex
	b     strings.Builder
	want  string    // the line readyAt waits for
	ready time.Time // when want arrived
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.b.Write(p)
	if l.ready.IsZero() && strings.Contains(l.b.String(), l.want) {
		l.ready = time.Now()
	}
	return n, err
}

func (l *lockedLog) readyAt() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ready
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// spread is "median (min-max)" of ds.
func spread(ds []time.Duration) string {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return fmt.Sprintf("%s (%s-%s)", ms(median(s)), ms(s[0]), ms(s[len(s)-1]))
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }
