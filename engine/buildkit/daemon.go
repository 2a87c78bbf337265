package buildkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/buildkit/client"
)

// Connect dials a BuildKit daemon at addr (unix://, tcp://, docker-container://
// ... as buildctl accepts) and checks that it answers.
func Connect(ctx context.Context, addr string) (*client.Client, error) {
	c, err := client.New(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("BuildKit at %s: %w", addr, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := c.ListWorkers(pctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("BuildKit at %s does not answer: %w", addr, err)
	}
	return c, nil
}

// NoDaemonHelp says how to get a daemon when none is configured or startable.
const NoDaemonHelp = `no BuildKit daemon: set BUILDKIT_HOST (or --addr) to a running buildkitd,
e.g. after "scripts/testenv up": eval "$(scripts/testenv env)";
or put buildkitd and runc on PATH and run as root, and s6builder starts a private daemon for the run`

// Daemon is a private buildkitd started for one run.
type Daemon struct {
	Addr   string
	cmd    *exec.Cmd
	exited chan error
	run    string // socket and log directory, removed on Stop
	log    string
	lock   *os.File // held while the daemon runs

	stopOnce sync.Once
}

// runDirPrefix names the socket directories of private daemons; the pid of
// the s6builder run follows, so a later run can remove a killed run's.
const runDirPrefix = "s6builder-buildkitd-"

// lockRoot takes the lock of a private daemon's state directory, waiting
// (and saying so once, through waiting) while another run holds it.
func lockRoot(ctx context.Context, root string, waiting func(pid string)) (*os.File, error) {
	path := filepath.Join(root, "s6builder.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !told && waiting != nil {
			b, _ := os.ReadFile(path)
			waiting(strings.TrimSpace(string(b)))
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// PrivateOptions configure a private daemon.
type PrivateOptions struct {
	Root           string   // state directory, kept between runs so the cache is too
	HTTPRegistries []string // registries to reach over plain HTTP (loopback test registries)
	// Waiting is told, once, that another run (pid) holds the state
	// directory and this one waits for it.
	Waiting func(pid string)
}

// StartPrivate starts buildkitd (with runc) and waits until it answers.
func StartPrivate(ctx context.Context, o PrivateOptions) (*Daemon, error) {
	bin, err := exec.LookPath("buildkitd")
	if err != nil {
		return nil, errors.New(NoDaemonHelp)
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return nil, errors.New(NoDaemonHelp + " (buildkitd is on PATH, runc is not)")
	}
	if os.Geteuid() != 0 {
		return nil, errors.New(NoDaemonHelp + " (a private buildkitd needs root here)")
	}
	if o.Root == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return nil, err
		}
		o.Root = filepath.Join(cache, "s6builder", "buildkitd")
	}
	if err := os.MkdirAll(o.Root, 0o700); err != nil {
		return nil, err
	}
	// One private daemon per state directory at a time (buildkitd locks it
	// too, but fails where this waits): a second run waits for the first.
	lock, err := lockRoot(ctx, o.Root, o.Waiting)
	if err != nil {
		return nil, err
	}
	removeStale(os.TempDir(), runDirPrefix) // socket dirs of killed runs
	run, err := os.MkdirTemp("", runDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		lock.Close()
		return nil, err
	}
	d := &Daemon{Addr: "unix://" + filepath.Join(run, "buildkitd.sock"), run: run, log: filepath.Join(run, "buildkitd.log"), lock: lock}
	started := false
	defer func() {
		if !started {
			lock.Close()
		}
	}()
	var cfg strings.Builder
	for _, r := range o.HTTPRegistries {
		fmt.Fprintf(&cfg, "[registry.%q]\n  http = true\n  insecure = true\n", r)
	}
	cfgPath := filepath.Join(run, "buildkitd.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		os.RemoveAll(run)
		return nil, err
	}
	logf, err := os.Create(d.log)
	if err != nil {
		os.RemoveAll(run)
		return nil, err
	}
	defer logf.Close()
	d.cmd = exec.Command(bin, "--root", o.Root, "--addr", d.Addr, "--config", cfgPath)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := d.cmd.Start(); err != nil {
		os.RemoveAll(run)
		return nil, fmt.Errorf("starting buildkitd: %w", err)
	}
	exited := make(chan error, 1)
	d.exited = exited
	go func() { exited <- d.cmd.Wait() }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			msg := d.logTail()
			os.RemoveAll(run)
			return nil, fmt.Errorf("private buildkitd exited (%v) before answering; its log ends:\n%s", err, msg)
		case <-ctx.Done():
			d.stop(exited)
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if conn, err := net.DialTimeout("unix", strings.TrimPrefix(d.Addr, "unix://"), time.Second); err == nil {
			conn.Close()
			if c, err := Connect(ctx, d.Addr); err == nil {
				c.Close()
				started = true
				return d, nil
			}
		}
		if time.Now().After(deadline) {
			msg := d.logTail()
			d.stop(exited)
			return nil, fmt.Errorf("private buildkitd did not answer within 60s; its log ends:\n%s", msg)
		}
	}
}

// Stop ends the daemon and removes its socket directory (not its cache).
// Calling it again does nothing.
func (d *Daemon) Stop() { d.stopOnce.Do(func() { d.stop(d.exited) }) }

// stop sends SIGTERM, gives the daemon 10 s to shut down cleanly, then kills it.
func (d *Daemon) stop(exited chan error) {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-exited
	}
	os.RemoveAll(d.run)
	if d.lock != nil {
		d.lock.Close()
	}
}

func (d *Daemon) logTail() string {
	b, _ := os.ReadFile(d.log)
	return tail(bytes.NewBuffer(b), 15)
}
