// Package ocirun runs an image from an OCI archive as a real container with
// runc, the way a container engine would, for tests: the layers are unpacked
// into a bundle, the image config becomes the runtime config, and the
// entrypoint is PID 1. No build step and no Docker are involved.
package ocirun

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// runcRoot keeps these containers apart from any other runc user.
const runcRoot = "/run/s6builder-ocirun"

// Bundle is an unpacked image: rootfs/ and config.json in Dir.
type Bundle struct {
	Dir    string
	Config v1.Config // the image config (entrypoint, env, stop signal)
}

// Unpack extracts the single image of an OCI archive into a runc bundle.
func Unpack(archive, dir string) (*Bundle, error) {
	oci := filepath.Join(dir, "oci")
	if err := untarFile(archive, oci); err != nil {
		return nil, fmt.Errorf("unpack %s: %w", archive, err)
	}
	idx, err := layout.ImageIndexFromPath(oci)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(im.Manifests) != 1 {
		return nil, fmt.Errorf("%s: %d images, want 1", archive, len(im.Manifests))
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	rootfs := filepath.Join(dir, "rootfs")
	flat := mutate.Extract(img) // layers applied, whiteouts honoured
	defer flat.Close()
	if err := untar(flat, rootfs); err != nil {
		return nil, fmt.Errorf("extract rootfs: %w", err)
	}
	os.RemoveAll(oci)
	return &Bundle{Dir: dir, Config: cf.Config}, nil
}

func untarFile(path, dest string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return untar(f, dest)
}

// untar extracts a tar stream under dest, refusing paths that leave it.
func untar(r io.Reader, dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean("/" + h.Name)
		if name == "/" {
			continue
		}
		// Resolve the parent inside dest: an absolute symlink in the image
		// must not lead outside it.
		parent, err := securejoin.SecureJoin(dest, filepath.Dir(name))
		if err != nil {
			return err
		}
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return err
		}
		target := filepath.Join(parent, filepath.Base(name))
		// FileInfo's mode: the tar header's setuid (04000) is not os.ModeSetuid.
		mode := h.FileInfo().Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, mode); err != nil {
				return err
			}
			os.Chmod(target, mode)
		case tar.TypeReg:
			os.Remove(target)
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return err
			}
			os.Chmod(target, mode) // past the umask, setuid bits included
		case tar.TypeSymlink:
			os.Remove(target)
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		case tar.TypeLink:
			os.Remove(target)
			src, err := securejoin.SecureJoin(dest, h.Linkname)
			if err != nil {
				return err
			}
			if err := os.Link(src, target); err != nil {
				return err
			}
		case tar.TypeFifo: // s6-linux-init's run image has fifos
			os.Remove(target)
			if err := syscall.Mkfifo(target, uint32(mode.Perm())); err != nil {
				return err
			}
			os.Chmod(target, mode)
		default:
			continue // devices: the runtime provides /dev
		}
		_ = os.Lchown(target, h.Uid, h.Gid)
		if h.Typeflag != tar.TypeSymlink && h.Typeflag != tar.TypeLink {
			// Again: a chown clears the setuid and setgid bits.
			os.Chmod(target, mode)
		}
	}
}

// dockerCaps is Docker's default capability set, so a container here can do
// what it could under `docker run` (sshd needs setuid, setgid and chroot).
var dockerCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}

// Container is a running container.
type Container struct {
	ID     string
	bundle *Bundle
	cmd    *exec.Cmd
	done   chan struct{}
	err    error
}

// Option changes how a container runs, as `docker run` flags do.
type Option func(cfg map[string]any)

// ReadOnlyRoot is `docker run --read-only`.
func ReadOnlyRoot() Option {
	return func(cfg map[string]any) { cfg["root"].(map[string]any)["readonly"] = true }
}

// Tmpfs is `docker run --tmpfs PATH:OPTIONS`: a tmpfs at path with mount
// options (e.g. "mode=0755", "uid=1000", "exec").
func Tmpfs(path string, options ...string) Option {
	return func(cfg map[string]any) {
		mounts, _ := cfg["mounts"].([]any)
		cfg["mounts"] = append(mounts, map[string]any{"destination": path, "type": "tmpfs", "source": "tmpfs",
			"options": append([]string{"nosuid", "nodev"}, options...)})
	}
}

// Privileged is `docker run --privileged`: every capability this process
// has (its bounding set, as Docker gives its own), every device, no masked or read-only paths, /sys and the cgroup file system
// writable (what a container engine inside the container needs).
func Privileged() Option {
	return func(cfg map[string]any) {
		proc := cfg["process"].(map[string]any)
		caps := proc["capabilities"].(map[string]any)
		for _, k := range []string{"bounding", "effective", "permitted"} {
			caps[k] = boundingCaps()
		}
		linux := cfg["linux"].(map[string]any)
		linux["maskedPaths"], linux["readonlyPaths"] = []any{}, []any{}
		delete(linux, "seccomp")
		linux["resources"] = map[string]any{"devices": []any{map[string]any{"allow": true, "access": "rwm"}}}
		mounts, _ := cfg["mounts"].([]any)
		for _, m := range mounts {
			mm := m.(map[string]any)
			if d := mm["destination"]; d == "/sys" || d == "/sys/fs/cgroup" {
				opts, _ := mm["options"].([]any)
				var keep []any
				for _, o := range opts {
					if o != "ro" {
						keep = append(keep, o)
					}
				}
				mm["options"] = append(keep, "rw")
			}
		}
	}
}

// capNames are the capabilities by number (linux/capability.h).
var capNames = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"}

// boundingCaps are the capabilities of this process's bounding set
// (/proc/self/status CapBnd): what a container it starts can be given.
func boundingCaps() []string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return dockerCaps
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			bits, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return dockerCaps
			}
			var out []string
			for i, name := range capNames {
				if bits>>i&1 == 1 {
					out = append(out, name)
				}
			}
			return out
		}
	}
	return dockerCaps
}

// Bind is `docker run -v SRC:DEST`: the host path src (a folder or a
// file, such as a daemon's socket) at dest.
func Bind(src, dest string) Option {
	return func(cfg map[string]any) {
		mounts, _ := cfg["mounts"].([]any)
		cfg["mounts"] = append(mounts, map[string]any{"destination": dest, "type": "bind", "source": src,
			"options": []string{"rbind", "rw"}})
	}
}

// Env is `docker run -e KEY=VALUE`.
func Env(kv ...string) Option {
	return func(cfg map[string]any) {
		proc := cfg["process"].(map[string]any)
		env, _ := proc["env"].([]string)
		proc["env"] = append(append([]string{}, env...), kv...)
	}
}

// Args is `docker run IMAGE ARGS...` with the entrypoint given too: the
// whole argv of PID 1 (the entrypoint, then the CMD).
func Args(argv ...string) Option {
	return func(cfg map[string]any) { cfg["process"].(map[string]any)["args"] = argv }
}

// User is `docker run --user UID:GID`: the container's processes run as
// uid:gid, with no capabilities but the bounding set when uid is not 0.
func User(uid, gid int) Option {
	return func(cfg map[string]any) { setUser(cfg["process"].(map[string]any), uid, gid) }
}

// setUser makes the process run as uid:gid, as Docker does: with no
// capabilities but the bounding set, and HOME /, for any user but root.
func setUser(proc map[string]any, uid, gid int) {
	proc["user"] = map[string]any{"uid": uid, "gid": gid}
	if uid == 0 {
		return
	}
	env, _ := proc["env"].([]string)
	env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return kv == "HOME=/root" })
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "HOME=") }) {
		env = append(env, "HOME=/")
	}
	proc["env"] = env
	caps := proc["capabilities"].(map[string]any)
	for _, k := range []string{"effective", "permitted", "inheritable", "ambient"} {
		caps[k] = []string{}
	}
}

// HostNetwork is `docker run --network host`: the host's network, its
// loopback (a registry or mirror on 127.0.0.1) included.
func HostNetwork() Option {
	return func(cfg map[string]any) {
		linux := cfg["linux"].(map[string]any)
		nss, _ := linux["namespaces"].([]any)
		var keep []any
		for _, ns := range nss {
			if ns.(map[string]any)["type"] != "network" {
				keep = append(keep, ns)
			}
		}
		linux["namespaces"] = keep
	}
}

// Start writes config.json from runc's default spec and the image config
// (entrypoint, env, working directory, a numeric UID[:GID] user: with no
// capabilities but the bounding set when it is not 0, as Docker runs it),
// then runs the container in the foreground of a child runc process, with
// its stdout and stderr going to log.
func Start(b *Bundle, id string, log io.Writer, opts ...Option) (*Container, error) {
	// A bundle runs again with a config of this run's (runc spec makes
	// none where one is).
	if err := os.Remove(filepath.Join(b.Dir, "config.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	spec, err := exec.Command("runc", "spec", "--bundle", b.Dir).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("runc spec: %v: %s", err, spec)
	}
	path := filepath.Join(b.Dir, "config.json")
	var cfg map[string]any
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, err
	}
	args := append(append([]string{}, b.Config.Entrypoint...), b.Config.Cmd...)
	if len(args) == 0 {
		return nil, fmt.Errorf("image has no entrypoint or cmd")
	}
	cwd := b.Config.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	proc := cfg["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = args
	env := slices.Clone(b.Config.Env)
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "HOME=") }) {
		// As Docker does: the user's home, / for any but root.
		home := "/"
		if u, _, _ := strings.Cut(b.Config.User, ":"); u == "" || u == "0" {
			home = "/root"
		}
		env = append(env, "HOME="+home)
	}
	proc["env"] = env
	proc["cwd"] = cwd
	caps := proc["capabilities"].(map[string]any)
	for _, k := range []string{"bounding", "effective", "permitted"} {
		caps[k] = dockerCaps
	}
	if b.Config.User != "" {
		u, g, ok := strings.Cut(b.Config.User, ":")
		uid, err := strconv.Atoi(u)
		if err != nil {
			return nil, fmt.Errorf("image user %q: only a numeric UID[:GID] is supported here", b.Config.User)
		}
		gid := uid
		if ok {
			if gid, err = strconv.Atoi(g); err != nil {
				return nil, fmt.Errorf("image user %q: only a numeric UID[:GID] is supported here", b.Config.User)
			}
		}
		setUser(proc, uid, gid)
	}
	cfg["root"] = map[string]any{"path": "rootfs", "readonly": false}
	cfg["hostname"] = id
	for _, o := range opts {
		o(cfg)
	}
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return nil, err
	}
	c := &Container{ID: id, bundle: b, done: make(chan struct{})}
	c.cmd = exec.Command("runc", "--root", runcRoot, "run", "--bundle", b.Dir, id)
	c.cmd.Stdout, c.cmd.Stderr = log, log
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if pid, err := c.Pid(); err == nil && pid > 0 {
			return c, nil
		}
		select {
		case <-c.done:
			// It ran and exited already (a short command): Wait has its
			// status; runc's own failure to run it is in the log.
			return c, nil
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.Remove()
			return nil, fmt.Errorf("container %s did not start", id)
		}
	}
}

// Pid is the host PID of the container's PID 1.
func (c *Container) Pid() (int, error) {
	out, err := exec.Command("runc", "--root", runcRoot, "state", c.ID).Output()
	if err != nil {
		return 0, err
	}
	var st struct {
		Pid    int    `json:"pid"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return 0, err
	}
	if st.Status != "running" {
		return 0, fmt.Errorf("container %s is %s", c.ID, st.Status)
	}
	return st.Pid, nil
}

// Exec runs a command inside the container and returns its output.
func (c *Container) Exec(args ...string) (string, error) {
	full := append([]string{"--root", runcRoot, "exec"}, envArgs(c.bundle.Config.Env)...)
	full = append(append(full, c.ID), args...)
	out, err := exec.Command("runc", full...).CombinedOutput()
	return string(out), err
}

func envArgs(env []string) []string {
	var a []string
	for _, kv := range env {
		a = append(a, "--env", kv)
	}
	return a
}

// Signal sends sig (e.g. "TERM") to the container's PID 1.
func (c *Container) Signal(sig string) error {
	out, err := exec.Command("runc", "--root", runcRoot, "kill", c.ID, sig).CombinedOutput()
	if err != nil {
		return fmt.Errorf("runc kill %s: %v: %s", sig, err, out)
	}
	return nil
}

// Wait waits up to timeout for the container to exit and returns the exit
// status of its PID 1.
func (c *Container) Wait(timeout time.Duration) (int, error) {
	select {
	case <-c.done:
	case <-time.After(timeout):
		return -1, fmt.Errorf("container %s still running after %s", c.ID, timeout)
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, c.err
}

// Remove kills and deletes the container.
func (c *Container) Remove() {
	_ = exec.Command("runc", "--root", runcRoot, "kill", c.ID, "KILL").Run()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
	}
	_ = exec.Command("runc", "--root", runcRoot, "delete", "--force", c.ID).Run()
}

// Proc is a process seen in the host's /proc.
type Proc struct {
	PID, PPID int
	State     string // R, S, Z...
	Comm      string
}

// Children lists the processes whose parent is pid, from /proc.
func Children(pid int) ([]Proc, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []Proc
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		if ppid != pid {
			continue
		}
		comm := string(b[bytes.IndexByte(b, '(')+1 : i])
		out = append(out, Proc{PID: n, PPID: ppid, State: f[0], Comm: comm})
	}
	return out, nil
}

// Alive reports whether a host process exists.
func Alive(pid int) bool { return syscall.Kill(pid, 0) == nil }
