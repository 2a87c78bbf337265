// Package smoke is the supervision smoke test: with a directory of built s6
// binaries it runs s6-svscan over a service directory that has run and
// finish scripts, and checks what a user relies on: the service comes up
// (s6-svok, s6-svstat), a killed service runs finish and is restarted, and
// s6-svscanctl -t ends the scan through .s6-svscan/finish.
package smoke

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Check is one verified behaviour.
type Check struct {
	Name string
	Took time.Duration
}

// Timeout bounds each wait.
const Timeout = 15 * time.Second

// Run runs the scenario with the binaries in binDir, on this machine, in a
// fresh temporary directory. It returns the checks that passed; the error
// names the first that did not, with the service log.
func Run(ctx context.Context, binDir string) ([]Check, error) {
	for _, b := range []string{"s6-svscan", "s6-supervise", "s6-svok", "s6-svstat", "s6-svscanctl"} {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			return nil, fmt.Errorf("smoke: %s missing from %s", b, binDir)
		}
	}
	dir, err := os.MkdirTemp("", "s6builder-smoke-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	scan := filepath.Join(dir, "scan")
	svc := filepath.Join(scan, "svc")
	log := filepath.Join(dir, "log")
	files := map[string]string{
		filepath.Join(svc, "run"):                   "#!/bin/sh\necho \"run $$\" >> " + log + "\nexec sleep 3600\n",
		filepath.Join(svc, "finish"):                "#!/bin/sh\necho \"finish $*\" >> " + log + "\n",
		filepath.Join(scan, ".s6-svscan", "finish"): "#!/bin/sh\necho scan-finish >> " + log + "\n",
	}
	for p, body := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			return nil, err
		}
	}
	env := append(os.Environ(), "PATH="+binDir+":/usr/bin:/bin")
	bin := func(name string) string { return filepath.Join(binDir, name) }

	svscan := exec.Command(bin("s6-svscan"), scan)
	svscan.Env, svscan.Dir = env, dir
	svscan.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := svscan.Start(); err != nil {
		return nil, fmt.Errorf("smoke: start s6-svscan: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- svscan.Wait() }()
	defer func() {
		_ = syscall.Kill(-svscan.Process.Pid, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
	}()

	var checks []Check
	fail := func(what string, err error) ([]Check, error) {
		b, _ := os.ReadFile(log)
		return checks, fmt.Errorf("smoke: %s: %v\nservice log:\n%s", what, err, b)
	}
	step := func(name string, f func() error) error {
		start := time.Now()
		if err := f(); err != nil {
			return err
		}
		checks = append(checks, Check{Name: name, Took: time.Since(start)})
		return nil
	}
	run := func(name string, args ...string) (string, error) {
		c := exec.CommandContext(ctx, bin(name), args...)
		c.Env = env
		out, err := c.CombinedOutput()
		return string(out), err
	}
	upPID := regexp.MustCompile(`^up \(pid ([0-9]+)[ )]`) // 2.1: "up (pid N)", 2.15: "up (pid N pgid N)"
	pid := func() (int, error) {
		out, err := run("s6-svstat", svc)
		if err != nil {
			return 0, fmt.Errorf("s6-svstat: %v: %s", err, out)
		}
		m := upPID.FindStringSubmatch(out)
		if m == nil {
			return 0, fmt.Errorf("s6-svstat says %q", strings.TrimSpace(out))
		}
		return strconv.Atoi(m[1])
	}

	var first int
	if err := step("service up (s6-svok, s6-svstat)", func() error {
		return poll(ctx, func() error {
			if out, err := run("s6-svok", svc); err != nil {
				return fmt.Errorf("s6-svok: %v %s", err, out)
			}
			p, err := pid()
			first = p
			return err
		})
	}); err != nil {
		return fail("service did not come up", err)
	}
	if err := step("killed service runs finish and restarts", func() error {
		if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
			return err
		}
		return poll(ctx, func() error {
			b, _ := os.ReadFile(log)
			if !strings.Contains(string(b), "finish") {
				return fmt.Errorf("finish has not run")
			}
			p, err := pid()
			if err != nil {
				return err
			}
			if p == first {
				return fmt.Errorf("still pid %d", p)
			}
			return nil
		})
	}); err != nil {
		return fail("no restart after kill", err)
	}
	if err := step("s6-svscanctl -t ends the scan via .s6-svscan/finish", func() error {
		if out, err := run("s6-svscanctl", "-t", scan); err != nil {
			return fmt.Errorf("s6-svscanctl -t: %v: %s", err, out)
		}
		select {
		case err := <-exited:
			exited <- err // for the deferred cleanup
			if err != nil {
				return fmt.Errorf("s6-svscan exited with %v", err)
			}
		case <-time.After(Timeout):
			return fmt.Errorf("s6-svscan still running %s after -t", Timeout)
		}
		b, _ := os.ReadFile(log)
		if !strings.Contains(string(b), "scan-finish") {
			return fmt.Errorf(".s6-svscan/finish did not run")
		}
		return nil
	}); err != nil {
		return fail("scan did not end", err)
	}
	return checks, nil
}

// poll retries f every 100 ms until it succeeds or Timeout passes.
func poll(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(Timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", Timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
