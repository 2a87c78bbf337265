package main_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/platforms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/s6builder/s6builder/internal/fixtures"
	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
	"github.com/s6builder/s6builder/pipeline/release"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "s6builder-cli-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "s6builder")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs the CLI with env replacing the S6BUILDER_* and BUILDKIT_HOST
// variables of the test process.
func run(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "S6BUILDER_") && !strings.HasPrefix(kv, "BUILDKIT_HOST=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	require.NoError(t, err)
	return string(out), 0
}

// engineEnv returns the daemon address and toolchain of the test
// environment, or skips (fails under S6BUILDER_REQUIRE_ENGINE).
func engineEnv(t *testing.T) (addr, toolchain string) {
	t.Helper()
	addr, toolchain = os.Getenv("BUILDKIT_HOST"), os.Getenv("S6BUILDER_TOOLCHAIN")
	if addr == "" || toolchain == "" {
		if os.Getenv("S6BUILDER_REQUIRE_ENGINE") != "" {
			t.Fatal("BUILDKIT_HOST and S6BUILDER_TOOLCHAIN are required (S6BUILDER_REQUIRE_ENGINE is set)")
		}
		t.Skip("SKIPPED: no BuildKit test environment (run scripts/testenv up; eval \"$(scripts/testenv env)\")")
	}
	return addr, toolchain
}

// fixtureMirror serves the 2015-versioned fixtures (s6 at s6Version) and
// writes a catalogue of their digests, leaving out the packages in unlisted.
func fixtureMirror(t *testing.T, nonce, s6Version string, unlisted ...string) (*fixtures.Mirror, string, catalog.File) {
	t.Helper()
	m := fixtures.NewMirror()
	t.Cleanup(m.Close)
	for pkg, ver := range map[string]string{"skalibs": "2.3.5.1", "execline": "2.1.2.2", "s6": s6Version} {
		_, err := m.AddFixture(pkg, ver, nonce)
		require.NoError(t, err)
	}
	all := m.Catalog()
	var cf catalog.File
	for _, r := range all.Releases {
		if !slices.Contains(unlisted, r.Package) {
			cf.Releases = append(cf.Releases, r)
		}
	}
	path := filepath.Join(t.TempDir(), "catalog.json")
	b, err := json.Marshal(cf)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return m, path, all
}

func TestHelpForEachCommand(t *testing.T) {
	for cmd, flags := range map[string][]string{
		"build":    {"--s6", "--skalibs", "--execline", "--sources", "--mirror", "--catalog", "--toolchain", "--jobs", "--addr", "--progress", "--output"},
		"plan":     {"--s6", "--json"},
		"versions": {"--json", "--catalog"},
		"image":    {"--services", "--base", "--output", "--push", "--dist", "--prefix", "--dist-image", "--source-date-epoch", "--services-dir", "--init", "--s6-overlay", "--root"},
		"test":     {"--s6", "--addr", "--progress"},
		"overlay":  {"--s6-overlay", "--platform", "--output", "--mirror", "--catalog", "--toolchain", "--source-date-epoch"},
		"seed":     {"--s6", "--addr", "--force", "--with"},
	} {
		out, code := run(t, nil, cmd, "--help")
		assert.Equal(t, 0, code, out)
		for _, f := range flags {
			assert.Contains(t, out, f, "%s --help", cmd)
		}
	}
}

func TestBadInputExitsTwoBeforeAnyWork(t *testing.T) {
	// An address nobody listens on: a refusal must come before any dial.
	env := []string{"BUILDKIT_HOST=unix:///nonexistent/buildkitd.sock"}
	home := t.TempDir() // a user's directory, and a file that is not an image
	thesis := filepath.Join(home, "docs", "thesis.txt")
	require.NoError(t, os.MkdirAll(filepath.Dir(thesis), 0o755))
	require.NoError(t, os.WriteFile(thesis, []byte("precious\n"), 0o644))
	notes := filepath.Join(home, "notes.txt")
	require.NoError(t, os.WriteFile(notes, []byte("notes\n"), 0o644))
	// Trees for / of an s6-overlay image: a cont-init script that is not
	// executable, a FIFO.
	roots := t.TempDir()
	rootNoExec := filepath.Join(roots, "root-noexec")
	require.NoError(t, os.MkdirAll(filepath.Join(rootNoExec, "etc", "cont-init.d"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(rootNoExec, "etc", "cont-init.d", "10-setup"), []byte("#!/bin/sh\n"), 0o644))
	rootFifo := filepath.Join(roots, "root-fifo")
	require.NoError(t, os.MkdirAll(filepath.Join(rootFifo, "etc"), 0o755))
	require.NoError(t, syscall.Mkfifo(filepath.Join(rootFifo, "etc", "pipe"), 0o644))
	// s6-rc trees (the example's, and an s6-overlay root) with a cycle and
	// with a dependency on a name they do not define.
	withFile := func(example, name, file string) string {
		dir := filepath.Join(t.TempDir(), name)
		require.NoError(t, os.CopyFS(dir, os.DirFS(example)))
		require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(file)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), nil, 0o644))
		return dir
	}
	// A seed data folder whose s6dist is the user's own.
	seedData := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.MkdirAll(filepath.Join(seedData, "s6dist"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(seedData, "s6dist", "mine.txt"), []byte("mine\n"), 0o644))
	rcCycle := withFile("../../examples/s6-rc/rc", "rc-cycle", "prepare/dependencies.d/app")
	rcUnknown := withFile("../../examples/s6-rc/rc", "rc-unknown", "worker/dependencies.d/db")
	rootCycle := withFile("../../examples/s6-overlay/root", "root-cycle", "etc/s6-overlay/s6-rc.d/prepare/dependencies.d/app")
	services := filepath.Join(home, "services")
	require.NoError(t, os.MkdirAll(filepath.Join(services, "svc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(services, "svc", "run"), []byte("#!/bin/sh\n"), 0o755))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"build", "--s6", "2.1.6.0;reboot", "-o", "x"}, `version "2.1.6.0;reboot"`},
		{[]string{"build", "--s6", "2.1.7.0", "-o", "x"}, "nearest known: 2.1.6.0, 2.2.0.0"},
		{[]string{"build", "--s6", "2.1.6.0", "--mirror", "ftp://x", "-o", "x"}, "--mirror"},
		{[]string{"build", "--s6", "2.1.6.0", "--configure", "s6=--prefix=/usr", "-o", "x"}, "sets --prefix itself"},
		{[]string{"build", "--s6", "2.1.6.0", "--progress", "fancy", "-o", "x"}, `invalid argument "fancy" for "--progress" flag: want auto, tty, plain, quiet, rawjson`},
		{[]string{"test", "--s6", "2.1.6.0", "--progress", "fancy"}, `invalid argument "fancy" for "--progress" flag`},
		{[]string{"image", "--s6", "2.1.6.0", "--progress", "fancy"}, `invalid argument "fancy" for "--progress" flag`},
		{[]string{"build", "--s6", "2.1.6.0"}, "nothing to export"},
		{[]string{"build", "--s6", "2.1.6.0", "--catalog", "/nonexistent.json", "-o", "x"}, "/nonexistent.json"},
		{[]string{"plan", "--s6", "2.2.2.1"}, "no digest is known"},
		{[]string{"build", "--s6", "2.1.6.0", "-o", home}, "is not an s6builder output (it has no .s6builder.json): refusing to replace it (choose a new or empty directory, or give --force"},
		{[]string{"build", "--s6", "2.1.6.0", "-o", notes}, "exists and is not a directory"},
		{[]string{"build", "--s6", "2.1.6.0", "-o", "/"}, "refusing to replace /"},
		{[]string{"build", "--s6", "2.1.6.0", "--force", "-o", "."}, "working directory"},
		{[]string{"build", "--s6", "2.1.6.0", "--sources", "y", "-o", "y"}, `--sources "y": overlaps --output "y"`},
		{[]string{"build", "--s6", "2.1.6.0", "--sources", "y/src", "-o", "y"}, `overlaps --output "y"`},
		{[]string{"image", "--s6", "2.1.6.0", "--services", services, "--base", "debian:bookworm-slim", "-o", notes}, "is not an OCI archive"},
		{[]string{"image", "--s6", "2.1.6.0", "--services", services, "--base", "debian:bookworm-slim", "--push", "Bad Name;id"}, `--push "Bad Name;id": not an image name`},
		{[]string{"build", "--s6", "2.1.6.0", "--platform-toolchain", "linux/riscv64", "-o", "x"}, `--platform-toolchain "linux/riscv64": want PLATFORM=IMAGE`},
		{[]string{"build", "--s6", "2.1.6.0", "--platform-toolchain", "linux/riscv64=Bad Ref", "-o", "x"}, "not an image reference"},
		{[]string{"build", "--s6", "2.1.6.0", "--platform-toolchain", "linux/arm64,linux/arm/v7=r.example/t", "-o", "x"}, `"linux/arm64": want PLATFORM=IMAGE`},
		{[]string{"build", "--s6", "2.1.6.0", "--cache-to", "registry.example/cache", "-o", "x"}, `invalid argument "registry.example/cache" for "--cache-to" flag: want BuildKit's syntax`},
		{[]string{"build", "--s6", "2.1.6.0", "--cache-from", "type=registry,ref", "-o", "x"}, `invalid argument "type=registry,ref" for "--cache-from" flag`},
		{[]string{"test", "--s6", "2.1.6.0", "--cache-to", "mode=max"}, `for "--cache-to" flag: want BuildKit's syntax`},
		{[]string{"build", "--s6", "2.1.6.0", "--cache-from", "type=registry,ref=x;id", "-o", "x"}, `"--cache-from" flag: ref=x;id: not an image reference`},
		{[]string{"build", "--s6", "2.1.6.0", "--cache-from", "type=registry", "-o", "x"}, "a type=registry cache needs ref=..."},
		{[]string{"build", "--s6", "2.1.6.0", "--cache-from", "type=local,dest=d", "-o", "x"}, "a type=local cache needs src=..."},
		{[]string{"release", "--s6", "2.1.6.0", "--cache-to", "type=local,src=d", "-o", "x"}, "a type=local cache needs dest=..."},
		{[]string{"image", "--s6", "2.1.6.0", "--cache-to", "type=registry,ref=r.example/c,mode=all"}, "mode=all: want min or max"},
		{[]string{"build", "--s6", "2.1.6.0", "--cache-from", "type=registry,reff=r.example/c", "-o", "x"}, "reff: not an attribute of a type=registry cache import"},
		{[]string{"build", "--s6", "2.1.6.0", "--cache-from", "type=registry,ref=r.example/c,mode=max", "-o", "x"}, "mode: an attribute of a cache export (--cache-to), not of an import"},
		{[]string{"test", "--s6", "2.1.6.0", "--cache-from", "type=ftp,ref=r.example/c"}, "type=ftp: unknown cache type; want one of azblob, gha, local, registry, s3"},
		{[]string{"build", "--s6", "2.1.6.0", "--fetch-timeout", "-1s", "-o", "x"}, `--fetch-timeout "-1s": want a duration of 0 (no bound) or more`},
		{[]string{"overlay", "-o", "x"}, "--s6-overlay: give the s6-overlay release, e.g. --s6-overlay 3.2.3.2"},
		{[]string{"overlay", "--s6-overlay", "9.9.9.9", "-o", "x"}, "unknown s6-overlay release 9.9.9.9 (nearest known: 3.2.3.2; `s6builder versions` lists all)"},
		{[]string{"overlay", "--s6-overlay", "3.2;id", "-o", "x"}, `--s6-overlay "3.2;id": version "3.2;id"`},
		{[]string{"overlay", "--s6-overlay", "3.2.3.2", "-o", "x"}, "no digest is known for s6-overlay-3.2.3.2.tar.gz: nobody publishes one for a GitHub tag archive"},
		{[]string{"overlay", "--s6-overlay", "3.2.3.2", "--mirror", "ftp://x", "-o", "x"}, "--mirror"},
		{[]string{"overlay", "--s6-overlay", "3.2.3.2"}, "give --output DIR"},
		{[]string{"overlay", "--s6-overlay", "3.2.3.2", "--platform", "linux/amd64,powerpc64", "-o", "x"}, "no Debian release has musl for big-endian POWER"},
		{[]string{"image", "--init", "s6-overlay", "--s6-overlay", "3.2.3.2", "--s6", "2.15.1.0", "--base", "debian:bookworm-slim", "--push", "r.example/x"}, "an s6-overlay image holds what the s6-overlay release is made of (--with PKG=VERSION changes one), and the tree --root: leave --s6 out"},
		{[]string{"image", "--init", "s6-overlay", "--s6-overlay", "3.2.3.2", "--services", services, "--base", "debian:bookworm-slim", "--push", "r.example/x"}, "leave --services out"},
		{[]string{"image", "--s6-overlay", "3.2.3.2", "--services", services, "--base", "debian:bookworm-slim", "--push", "r.example/x"}, "--s6-overlay and --root make an s6-overlay image: give --init s6-overlay"},
		{[]string{"image", "--init", "s6-overlay", "--s6-overlay", "3.2.3.2", "--root", rootNoExec, "--base", "debian:bookworm-slim", "--push", "r.example/x"}, "etc/cont-init.d/10-setup: not an executable file: s6-overlay runs it"},
		{[]string{"image", "--init", "s6-overlay", "--s6-overlay", "3.2.3.2", "--root", rootFifo, "--base", "debian:bookworm-slim", "--push", "r.example/x"}, "etc/pipe: a fifo; the tree for / holds regular files, directories and symlinks only"},
		{[]string{"image", "--init", "s6-overlay", "--s6-overlay", "3.2.3.2", "--root", notes, "--base", "debian:bookworm-slim", "--push", "r.example/x"}, "--root " + `"` + notes + `": not a directory`},
		{[]string{"image", "--init", "s6-overlay", "--s6-overlay", "3.2.3.2", "--base", "debian:bookworm-slim", "--push", "r.example/x"}, "no digest is known for s6-overlay-3.2.3.2.tar.gz"},
		{[]string{"overlay", "--s6-overlay", "3.2.3.2", "--with", "skalibs=2.3.5.1", "-o", "x"}, "s6 2.15.1.0 needs skalibs 2.15.1.0 or later (its package/deps-build), and the set has skalibs 2.3.5.1: give --with skalibs=VERSION of a later release"},
		{[]string{"overlay", "--s6-overlay", "3.2.3.2", "--with", "s6-rc", "-o", "x"}, `--with "s6-rc": want PACKAGE=VERSION`},
		{[]string{"image", "--init", "s6-overlay", "--s6-overlay", "3.2.3.2", "--with", "nsss=1.0.0.0", "--base", "debian:bookworm-slim", "--push", "r.example/x"}, "nsss is not one of them"},
		{[]string{"seed", "a", "b"}, "accepts at most 1 arg"},
		{[]string{"seed", seedData}, `DATA/s6dist "` + filepath.Join(seedData, "s6dist") + `": exists, is not empty and is not an s6builder output`},
		{[]string{"seed", notes}, "is not a folder"},
		{[]string{"build", "--s6", "2.1.6.0", "--fetch-timeout", "soon", "-o", "x"}, `invalid argument "soon" for "--fetch-timeout" flag`},
		{[]string{"image", "--s6", "2.1.6.0,2.1.5.0", "--services", services, "--base", "debian:bookworm-slim", "--push", "r.example/x"}, `--s6 "2.1.6.0,2.1.5.0": an image holds one s6 release`},
		{[]string{"image", "--s6", "2.1.6.0", "--platform", "linux/amd64,i486", "--services", services, "--base", "debian:bookworm-slim", "--push", "r.example/x"}, "i686 and up"},
		{[]string{"image", "--s6", "2.15.1.0", "--init", "s6-rc", "--rc", "../../examples/s6-rc/rc", "--base", "debian:bookworm-slim", "--push", "r.example/x"}, "an s6-rc image needs s6-rc and s6-linux-init: add --with s6-rc,s6-linux-init"},
		{[]string{"image", "--s6", "2.15.1.0", "--with", "s6-rc,s6-linux-init", "--init", "s6-rc", "--rc", "../../examples/s6-rc/rc", "--bundle", "nope", "--base", "debian:bookworm-slim", "--push", "r.example/x"}, `--bundle "nope": the s6-rc source tree defines no nope`},
		{[]string{"image", "--s6", "2.15.1.0", "--with", "s6-rc,s6-linux-init", "--init", "s6-rc", "--rc", "../../examples/s6-rc/rc", "--user", "app", "--base", "debian:bookworm-slim", "--push", "r.example/x"}, `--user "app": want a numeric UID or UID:GID`},
		{[]string{"image", "--s6", "2.15.1.0", "--with", "s6-rc,s6-linux-init", "--init", "s6-rc", "--rc", home, "--base", "debian:bookworm-slim", "--push", "r.example/x"}, "docs has no type file (oneshot, longrun or bundle)"},
		{[]string{"image", "--s6", "2.15.1.0", "--with", "s6-rc,s6-linux-init", "--init", "s6-rc", "--rc", rcCycle, "--base", "debian:bookworm-slim", "--push", "r.example/x"}, "--rc " + rcCycle + ": a dependency cycle in the tree: app -> prepare -> app (s6-rc cannot order it)"},
		{[]string{"image", "--s6", "2.15.1.0", "--with", "s6-rc,s6-linux-init", "--init", "s6-rc", "--rc", rcUnknown, "--base", "debian:bookworm-slim", "--push", "r.example/x"}, "--rc " + rcUnknown + ": worker: refers to db, which is not defined (no db with a type file)"},
		{[]string{"image", "--init", "s6-overlay", "--s6-overlay", "3.2.3.2", "--root", rootCycle, "--base", "debian:bookworm-slim", "--push", "r.example/x"}, "a dependency cycle in etc/s6-overlay/s6-rc.d: app -> prepare -> app"},
		{[]string{"image", "--s6", "2.15.1.0", "--with", "s6-rc,s6-linux-init", "--init", "s6-rc", "--rc", "../../examples/s6-rc/rc", "--services", services, "--base", "debian:bookworm-slim", "--push", "r.example/x"}, "leave --services out"},
		{[]string{"image", "--s6", "2.1.6.0", "--rc", "../../examples/s6-rc/rc", "--services", services, "--base", "debian:bookworm-slim", "--push", "r.example/x"}, "--rc: it is for an s6-rc image: give --init s6-rc"},
		{[]string{"image", "--s6", "2.1.6.0", "--init", "systemd", "--services", services, "--base", "debian:bookworm-slim", "--push", "r.example/x"}, `--init "systemd": want s6-svscan`},
		{[]string{"image", "--s6", "2.1.6.0", "--dist-image", "--base", "debian:bookworm-slim", "--push", "r.example/x"}, "--base: a --dist-image is the dist alone, FROM scratch: leave --base out"},
		{[]string{"image", "--s6", "2.1.6.0", "--dist-image", "--services", services, "--push", "r.example/x"}, "leave --services out"},
		{[]string{"image", "--s6", "2.1.6.0", "--dist-image", "--prefix", "usr", "--push", "r.example/x"}, `--prefix "usr": want a clean absolute path`},
		{[]string{"build", "--s6", "2.1.6.0", "--prefix", "/usr/$(id)", "-o", home + "/new"}, `--prefix "/usr/$(id)": want letters, digits and /._- only`},
		{[]string{"image", "--dist", home, "--platform", "linux/amd64,linux/arm64", "--services", services, "--base", "debian:bookworm-slim", "--push", "r.example/x"}, "a --dist directory is one platform's"},
		{[]string{"build", "--s6", "2.1.6.0", "--jobs", "abc", "-o", "x"}, `invalid argument "abc" for "--jobs"`},
		{[]string{"build", "--s6", "2.1.6.0", "--profile", "tiny", "-o", "x"}, `--profile "tiny": no such profile: want one of pid1`},
		{[]string{"build", "--s6", "2.1.6.0", "--platform", "linux/amd64,linux/arm64", "--node", "bogus://x", "-o", "x"}, `--node "bogus://x": want a BuildKit address`},
		{[]string{"image", "--s6", "2.15.1.0", "--with", "s6-rc,s6-linux-init", "--init", "s6-rc", "--rc", "../../examples/s6-rc/rc", "--profile", "pid1", "--base", "debian:bookworm-slim", "--push", "r.example/x"}, `--profile "pid1": an s6-rc image runs s6-linux-init and s6-rc from the whole dist: leave --profile out`},
		{[]string{"build", "--s6", "2.1.6.0", "--no-such-flag", "-o", "x"}, "unknown flag: --no-such-flag"},
		{[]string{"build", "stray", "-o", "x"}, `unknown command "stray"`},
		{[]string{"build", "--s6", "2.1.6.0", "--addr", "bogus://x", "-o", "x"}, `--addr "bogus://x": want a BuildKit address`},
		{[]string{"build", "--s6", "", "-o", "x"}, "--s6: an empty value"},
		{[]string{"build", "--s6", "2.1.6.0", "--skalibs", "", "-o", "x"}, "--skalibs: an empty value"},
		{[]string{"build", "--s6", "2.1.6.0", "--platform", "", "-o", "x"}, "--platform: an empty value"},
		{[]string{"build", "--s6", "2.1.6.0", "--mirror", "", "-o", "x"}, "--mirror: an empty value"},
		{[]string{"build", "--s6", "2.1.6.0", "-o", ""}, "--output: an empty value"},
		{[]string{"plan", "--s6", "2.1.6.0", "--mirror", "http://u:s3cret@m.example.org"}, "credentials in the URL are refused"},
	} {
		out, code := run(t, env, tc.args...)
		assert.Equal(t, 2, code, "%v: %s", tc.args, out)
		assert.Contains(t, out, tc.want, "%v", tc.args)
		assert.NotContains(t, out, "nonexistent/buildkitd.sock", "%v must not reach the daemon", tc.args)
	}
	assert.NoDirExists(t, "x")
	assert.NoDirExists(t, "y")
	assert.FileExists(t, filepath.Join(seedData, "s6dist", "mine.txt"))
	b, err := os.ReadFile(thesis)
	require.NoError(t, err)
	assert.Equal(t, "precious\n", string(b))
	b, err = os.ReadFile(notes)
	require.NoError(t, err)
	assert.Equal(t, "notes\n", string(b))
}

// The seed's interface: docker-s6builder's SKALIBS_VERSION, EXECLINE_VERSION
// and S6_VERSION, and the family's variables as s6-overlay's conf/versions
// names them (with its "v"), set what the flags leave unset; a flag wins,
// and a conflict is said; a value that is not a version is refused naming
// the variable, exit 2.
func TestVersionVariablesAreTheSeedsInterface(t *testing.T) {
	plan := func(env []string, args ...string) (string, int) {
		return run(t, env, append([]string{"plan", "--json", "--platform", "linux/amd64"}, args...)...)
	}
	releases := func(out string) map[string]string {
		t.Helper()
		var p struct {
			Stages []struct{ Kind, Package, Version string }
		}
		require.NoError(t, json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &p), out)
		got := map[string]string{}
		for _, s := range p.Stages {
			if s.Kind == "fetch" {
				got[s.Package] = s.Version
			}
		}
		return got
	}
	out, code := plan([]string{"SKALIBS_VERSION=2.3.5.1", "EXECLINE_VERSION=2.1.2.2", "S6_VERSION=2.1.6.0"})
	require.Equal(t, 0, code, out)
	assert.Equal(t, map[string]string{"skalibs": "2.3.5.1", "execline": "2.1.2.2", "s6": "2.1.6.0"}, releases(out))

	out, code = plan([]string{"S6_VERSION=v2.15.1.0", "S6_RC_VERSION=v0.7.0.0", "S6_DNS_VERSION=2.4.1.3"}, "--with", "s6-rc")
	require.Equal(t, 0, code, out)
	got := releases(out)
	assert.Equal(t, "2.15.1.0", got["s6"])
	assert.Equal(t, "0.7.0.0", got["s6-rc"])
	assert.Equal(t, "2.4.1.3", got["s6-dns"])

	out, code = plan([]string{"S6_VERSION=2.1.5.0", "S6_RC_VERSION=0.7.0.0"}, "--s6", "2.15.1.0", "--with", "s6-rc=0.6.1.1")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "s6builder: --s6 2.15.1.0 wins over S6_VERSION=2.1.5.0 from the environment")
	assert.Contains(t, out, "s6builder: --with s6-rc=0.6.1.1 wins over S6_RC_VERSION=0.7.0.0 from the environment")
	got = releases(out)
	assert.Equal(t, "2.15.1.0", got["s6"])
	assert.Equal(t, "0.6.1.1", got["s6-rc"])

	out, code = run(t, []string{"BUILDKIT_HOST=unix:///nonexistent/buildkitd.sock", "S6_VERSION=2.1.6.0;id"}, "build", "-o", filepath.Join(t.TempDir(), "d"))
	assert.Equal(t, 2, code, out)
	assert.Contains(t, out, `S6_VERSION="2.1.6.0;id": not a version`)
	assert.NotContains(t, out, "nonexistent")
}

func TestNoDaemonSaysHowToGetOne(t *testing.T) {
	out, code := run(t, []string{"PATH=/nonexistent"}, "build", "--s6", "2.1.6.0", "-o", filepath.Join(t.TempDir(), "d"))
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "BUILDKIT_HOST")
	assert.Contains(t, out, "scripts/testenv up")
}

func TestPlanJSONShowsWhatAnS6BumpInvalidates(t *testing.T) {
	cat := filepath.Join(t.TempDir(), "catalog.json")
	require.NoError(t, os.WriteFile(cat, []byte(`{"releases":[{"package":"s6","version":"2.1.5.0","digest":"sha256:`+strings.Repeat("1", 64)+`"}]}`), 0o644))
	keys := func(s6 string) map[string]string {
		out, code := run(t, nil, "plan", "--json", "--platform", "linux/amd64", "--catalog", cat, "--s6", s6)
		require.Equal(t, 0, code, out)
		var p pipeline.Plan
		require.NoError(t, json.Unmarshal([]byte(out), &p))
		return p.Keys()
	}
	a, b := keys("2.1.5.0"), keys("2.1.6.0")
	for _, id := range []string{"toolchain", "fetch/skalibs", "build/skalibs", "build/execline"} {
		assert.Equal(t, a[id], b[id], id)
	}
	for _, id := range []string{"fetch/s6", "build/s6", "dist"} {
		assert.NotEqual(t, a[id], b[id], id)
	}
}

func TestBuildThroughTheDaemon(t *testing.T) {
	addr, tc := engineEnv(t)
	m, cat, _ := fixtureMirror(t, fixtures.Nonce(), "2.1.6.0")
	out := filepath.Join(t.TempDir(), "s6dist")
	env := []string{"BUILDKIT_HOST=" + addr, "S6BUILDER_TOOLCHAIN=" + tc, "S6BUILDER_MIRROR=" + m.URL, "S6BUILDER_CATALOG=" + cat}

	log, code := run(t, env, "build", "--s6", "2.1.6.0", "--output", out, "--progress", "plain")
	require.Equal(t, 0, code, log)
	assert.Contains(t, log, "[build/s6] unpack, configure, make, strip, install", "BuildKit's plain progress shows the stage's container")
	assert.Contains(t, log, "s6builder step configure: ./configure", "and each step as it starts")
	assert.FileExists(t, filepath.Join(out, "bin", "fixture-s6"))
	// Every build step ran (its s6 is new); what the summary calls cached
	// is what the progress marks CACHED (the toolchain image pull).
	summary := regexp.MustCompile(`: [1-9][0-9]* steps executed, ([0-9]+) cached`).FindStringSubmatch(log)
	require.NotNil(t, summary, log)
	assert.Equal(t, summary[1], strconv.Itoa(strings.Count(log, " CACHED\n")), log)

	log, code = run(t, env, "build", "--s6", "2.1.6.0", "--output", out, "--progress", "quiet")
	require.Equal(t, 0, code, log)
	assert.Regexp(t, `: 0 steps executed, [1-9][0-9]* cached`, log)
	assert.NotContains(t, log, "warning")

	// A cache the daemon cannot import does not fail the build (BuildKit
	// goes on without it), but the run says so at its end, not only in
	// the progress stream.
	reg := fixtures.TestEnv(t, "S6BUILDER_REGISTRY")
	missing := reg + "/s6builder-cache-never-exported:" + fixtures.Nonce()
	log, code = run(t, env, "build", "--s6", "2.1.6.0", "--output", out, "--progress", "quiet", "--cache-from", "type=registry,ref="+missing)
	require.Equal(t, 0, code, log)
	assert.Regexp(t, `s6builder: warning: --cache-from `+regexp.QuoteMeta(missing)+`[^\n]*: [^\n]+ \(built without that cache\)\n`, log)
}

// privateDaemonEnv is the environment of a run with no BUILDKIT_HOST, whose
// private daemon keeps its state in cache/s6builder/buildkitd, or skips
// (fails under S6BUILDER_REQUIRE_ENGINE) without buildkitd, a toolchain and root.
func privateDaemonEnv(t *testing.T, cache string) []string {
	t.Helper()
	tc := os.Getenv("S6BUILDER_TOOLCHAIN")
	bkd, err := exec.LookPath("buildkitd")
	if tc == "" || err != nil || os.Geteuid() != 0 {
		if os.Getenv("S6BUILDER_REQUIRE_ENGINE") != "" {
			t.Fatal("needs S6BUILDER_TOOLCHAIN, buildkitd on PATH and root (S6BUILDER_REQUIRE_ENGINE is set)")
		}
		t.Skip("SKIPPED: needs the test environment (buildkitd on PATH, a toolchain image) and root")
	}
	m, cat, _ := fixtureMirror(t, "", "2.1.6.0")
	return []string{"PATH=" + filepath.Dir(bkd) + ":/usr/sbin:/usr/bin:/sbin:/bin", "XDG_CACHE_HOME=" + cache,
		"S6BUILDER_TOOLCHAIN=" + tc, "S6BUILDER_MIRROR=" + m.URL, "S6BUILDER_CATALOG=" + cat}
}

func TestPrivateDaemonWhenNoneIsConfigured(t *testing.T) {
	cache := t.TempDir() // the private daemon's state goes to $XDG_CACHE_HOME/s6builder/buildkitd
	env := privateDaemonEnv(t, cache)
	out := filepath.Join(t.TempDir(), "s6dist")

	log, code := run(t, env, "build", "--s6", "2.1.6.0", "--output", out, "--progress", "quiet")
	require.Equal(t, 0, code, log)
	assert.FileExists(t, filepath.Join(out, "bin", "fixture-s6"))
	assert.DirExists(t, filepath.Join(cache, "s6builder", "buildkitd"), "the private daemon keeps its cache")
	// The daemon was stopped: no buildkitd is left running with that root.
	ps, _ := exec.Command("pgrep", "-f", "buildkitd --root "+filepath.Join(cache, "s6builder", "buildkitd")).Output()
	assert.Empty(t, strings.TrimSpace(string(ps)), "private buildkitd stopped after the run")
}

func TestPinOnFirstFetchWritesALockThatLaterRunsVerify(t *testing.T) {
	addr, tc := engineEnv(t)
	// The catalogue knows skalibs and execline; s6 2.1.5.0 has no published digest.
	m, cat, all := fixtureMirror(t, fixtures.Nonce(), "2.1.5.0", "s6")
	var s6Digest string
	for _, r := range all.Releases {
		if r.Package == "s6" {
			s6Digest = r.Digest
		}
	}
	dir := t.TempDir()
	lock := filepath.Join(dir, "s6builder.lock")
	env := []string{"BUILDKIT_HOST=" + addr, "S6BUILDER_TOOLCHAIN=" + tc, "S6BUILDER_MIRROR=" + m.URL, "S6BUILDER_CATALOG=" + cat}
	out := filepath.Join(dir, "s6dist")

	log, code := run(t, env, "build", "--s6", "2.1.5.0", "-o", out, "--progress", "quiet")
	assert.Equal(t, 2, code, log)
	assert.Contains(t, log, "no digest is known for s6-2.1.5.0.tar.gz")
	log, code = run(t, env, "build", "--s6", "2.1.5.0", "-o", out, "--pin", "--progress", "quiet")
	assert.Equal(t, 2, code, log)
	assert.Contains(t, log, "--pin needs --lock")

	log, code = run(t, env, "build", "--s6", "2.1.5.0", "-o", out, "--pin", "--lock", lock, "--progress", "quiet")
	require.Equal(t, 0, code, log)
	assert.Contains(t, log, "pinned s6-2.1.5.0.tar.gz at "+s6Digest)
	body, err := os.ReadFile(lock)
	require.NoError(t, err)
	assert.Contains(t, string(body), s6Digest, "the lock records the digest of what was served")
	assert.NotContains(t, string(body), "skalibs", "only the unpinned release is locked")

	// Later runs read the lock: no --pin needed, nothing rebuilt.
	log, code = run(t, env, "build", "--s6", "2.1.5.0", "-o", out, "--lock", lock, "--progress", "quiet")
	require.Equal(t, 0, code, log)
	assert.Regexp(t, `: 0 steps executed`, log)

	// A lock that does not match the tarball fails the download, naming both digests.
	wrong := "sha256:" + strings.Repeat("e", 64)
	require.NoError(t, os.WriteFile(lock, []byte(strings.ReplaceAll(string(body), s6Digest, wrong)), 0o644))
	log, code = run(t, env, "build", "--s6", "2.1.5.0", "-o", out, "--lock", lock, "--progress", "quiet")
	assert.Equal(t, 1, code, log)
	assert.Contains(t, log, wrong)
	assert.Contains(t, log, s6Digest)
}

func TestSmokeTestFailsLoudlyWithoutS6(t *testing.T) {
	addr, tc := engineEnv(t)
	// The fixtures build no s6-svscan: the smoke test must fail and say why.
	m, cat, _ := fixtureMirror(t, "", "2.1.6.0")
	env := []string{"BUILDKIT_HOST=" + addr, "S6BUILDER_TOOLCHAIN=" + tc, "S6BUILDER_MIRROR=" + m.URL, "S6BUILDER_CATALOG=" + cat}
	log, code := run(t, env, "test", "--s6", "2.1.6.0", "--progress", "quiet")
	assert.Equal(t, 1, code, log)
	assert.Contains(t, log, "stage smoke failed")
	assert.Contains(t, log, "FAIL: s6-svscan is missing from /dist/bin")
}

func TestMatrixBuildInOneInvocation(t *testing.T) {
	addr, tc := engineEnv(t)
	m, cat, _ := fixtureMirror(t, fixtures.Nonce(), "2.1.6.0")
	_, err := m.AddFixture("s6", "2.1.5.0", "matrix")
	require.NoError(t, err)
	b, err := json.Marshal(m.Catalog())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cat, b, 0o644))
	out := filepath.Join(t.TempDir(), "dists")
	env := []string{"BUILDKIT_HOST=" + addr, "S6BUILDER_TOOLCHAIN=" + tc, "S6BUILDER_MIRROR=" + m.URL, "S6BUILDER_CATALOG=" + cat}
	log, code := run(t, env, "build", "--s6", "2.1.5.0,2.1.6.0", "-o", out, "--progress", "plain")
	require.Equal(t, 0, code, log)
	// Both solves wait on the shared skalibs and execline; their logs are
	// printed once, not once per solve.
	steps := regexp.MustCompile(`(?m)^#\d+ [0-9.]+ s6builder step .*$`).FindAllString(log, -1)
	require.NotEmpty(t, steps, log)
	seen := map[string]bool{}
	for _, l := range steps {
		assert.False(t, seen[l], "printed twice: %s", l)
		seen[l] = true
	}
	for _, v := range []string{"2.1.5.0", "2.1.6.0"} {
		got, err := exec.Command(filepath.Join(out, "s6-"+v, "bin", "fixture-s6")).CombinedOutput()
		require.NoError(t, err, string(got))
		assert.Equal(t, "s6 "+v+" execline 2.1.2.2 skalibs 2.3.5.1", strings.TrimSpace(string(got)))
	}
	assert.Equal(t, 1, m.Hits("skalibs", "2.3.5.1"), "the shared skalibs is fetched once")
}

func TestServiceTreesThatWouldNotCopyIntoAnImageAreRefused(t *testing.T) {
	env := []string{"BUILDKIT_HOST=unix:///nonexistent/buildkitd.sock"}
	tree := func(t *testing.T, setup func(dir string)) string {
		dir := filepath.Join(t.TempDir(), "s6")
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "ok"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "ok", "run"), []byte("#!/bin/sh\n"), 0o755))
		setup(dir)
		return dir
	}
	for name, tc := range map[string]struct {
		setup func(dir string)
		want  string
	}{
		"run is a directory": {func(d string) { require.NoError(t, os.MkdirAll(filepath.Join(d, "svc", "run"), 0o755)) },
			`service "svc" has no executable run file`},
		"run links outside": {func(d string) {
			require.NoError(t, os.MkdirAll(filepath.Join(d, "svc"), 0o755))
			require.NoError(t, os.Symlink("/bin/true", filepath.Join(d, "svc", "run")))
		}, "svc/run: a symlink to /bin/true, outside the tree"},
		"newline in a name": {func(d string) {
			require.NoError(t, os.MkdirAll(filepath.Join(d, "sv\nc"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(d, "sv\nc", "run"), []byte("#!/bin/sh\n"), 0o755))
		}, "a name with a control character"},
		"a fifo": {func(d string) { require.NoError(t, syscall.Mkfifo(filepath.Join(d, "ok", "fifo"), 0o644)) },
			"ok/fifo: a fifo"},
		"a device node": {func(d string) {
			require.NoError(t, syscall.Mknod(filepath.Join(d, "ok", "null"), syscall.S_IFCHR|0o600, 1<<8|3))
		}, "ok/null: a character device"},
		"run not executable": {func(d string) {
			require.NoError(t, os.MkdirAll(filepath.Join(d, "svc"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(d, "svc", "run"), []byte("#!/bin/sh\n"), 0o644))
		}, `service "svc" has no executable run file`},
		"a link to a folder outside, then a file through it": {func(d string) {
			require.NoError(t, os.Symlink("/etc", filepath.Join(d, "ok", "etc")))
		}, "ok/etc: a symlink to /etc, outside the tree"},
		"a relative link that climbs out": {func(d string) {
			require.NoError(t, os.Symlink("../../../../etc/passwd", filepath.Join(d, "ok", "passwd")))
		}, "outside the tree"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := tree(t, tc.setup)
			out, code := run(t, env, "image", "--s6", "2.1.6.0", "--services", dir, "--base", "debian:bookworm-slim", "-o", filepath.Join(t.TempDir(), "i.tar"))
			assert.Equal(t, 2, code, out)
			assert.Contains(t, out, tc.want)
			assert.NotContains(t, out, "nonexistent/buildkitd.sock")
		})
	}
	// A link inside the tree, and a name with spaces, are fine: the
	// refusal comes later, from the daemon.
	dir := tree(t, func(d string) {
		require.NoError(t, os.MkdirAll(filepath.Join(d, "svc"), 0o755))
		require.NoError(t, os.Symlink("../ok/run", filepath.Join(d, "svc", "run")))
		require.NoError(t, os.MkdirAll(filepath.Join(d, "my service"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, "my service", "run"), []byte("#!/bin/sh\n"), 0o755))
	})
	out, code := run(t, env, "image", "--s6", "2.1.6.0", "--services", dir, "--base", "debian:bookworm-slim", "-o", filepath.Join(t.TempDir(), "i.tar"))
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "nonexistent/buildkitd.sock", "the tree passed and the daemon was dialled")
}

func TestTwoRunsWithAPrivateDaemonAtOnceBothSucceed(t *testing.T) {
	env := privateDaemonEnv(t, t.TempDir()) // one state directory for both runs
	outs := []string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")}
	logs := make([]string, 2)
	codes := make([]int, 2)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			logs[i], codes[i] = run(t, env, "build", "--s6", "2.1.6.0", "--output", outs[i], "--progress", "quiet")
		}()
	}
	wg.Wait()
	for i := range outs {
		require.Equal(t, 0, codes[i], logs[i])
		assert.FileExists(t, filepath.Join(outs[i], "bin", "fixture-s6"))
		assert.NotContains(t, logs[i], "goroutine", "no stack trace")
	}
	assert.Contains(t, logs[0]+logs[1], "waiting for another s6builder run (pid ", "one run waited for the other")
}

// TestReleaseThenVerify: `release` writes the tarball (sorted entries,
// owner 0:0, every time SOURCE_DATE_EPOCH), manifest.json with the source
// digests and the toolchain's inventory, an SPDX SBOM and SHA256SUMS over
// them; `verify` rebuilds it identical; a tarball changed afterwards is
// reported as differing, naming the first differing entry, exit status 1.
func TestReleaseThenVerify(t *testing.T) {
	addr, tc := engineEnv(t)
	m, cat, all := fixtureMirror(t, fixtures.Nonce(), "2.1.6.0")
	env := []string{"BUILDKIT_HOST=" + addr, "S6BUILDER_TOOLCHAIN=" + tc, "S6BUILDER_MIRROR=" + m.URL, "S6BUILDER_CATALOG=" + cat}
	dir := filepath.Join(t.TempDir(), "release")
	log, code := run(t, env, "release", "--s6", "2.1.6.0", "-o", dir, "--source-date-epoch", "1700000000", "--progress", "quiet")
	require.Equal(t, 0, code, log)

	tarball := "s6-2.1.6.0-" + strings.ReplaceAll(platforms.DefaultString(), "/", "_") + ".tar.gz"
	sums, err := release.ReadSums(filepath.Join(dir, release.SumsFile))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{tarball, release.ManifestFile, release.SBOMFile}, slices.Collect(maps.Keys(sums)))
	for name, sum := range sums {
		got, err := release.Sha256File(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, sum, got, name)
	}
	assert.Contains(t, log, sums[tarball]+"  "+tarball)

	// The tarball: the dist, sorted, normalized.
	f, err := os.Open(filepath.Join(dir, tarball))
	require.NoError(t, err)
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	assert.Equal(t, "", zr.Header.Name)
	assert.True(t, zr.Header.ModTime.IsZero() || zr.Header.ModTime.Unix() == 0, "no time in the gzip header")
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		names = append(names, h.Name)
		assert.Equal(t, int64(1700000000), h.ModTime.Unix(), h.Name)
		assert.Equal(t, 0, h.Uid, h.Name)
		assert.Equal(t, "", h.Uname, h.Name)
	}
	f.Close()
	assert.True(t, slices.IsSorted(names), "entries sorted: %v", names)
	assert.Contains(t, names, "bin/fixture-s6")
	assert.NotContains(t, names, ".s6builder.json")

	man, err := release.ReadManifest(dir)
	require.NoError(t, err)
	assert.Equal(t, int64(1700000000), man.SourceDateEpoch)
	require.Len(t, man.Artifacts, 1)
	a := man.Artifacts[0]
	assert.Equal(t, sums[tarball], a.SHA256)
	for _, r := range all.Releases {
		assert.True(t, slices.ContainsFunc(a.Sources, func(s release.Source) bool {
			return s.Package == r.Package && s.Version == r.Version && s.Digest == r.Digest
		}), "%s %s with its digest in the manifest", r.Package, r.Version)
	}
	require.Len(t, man.Toolchains, 1)
	assert.Equal(t, tc, man.Toolchains[0].Image)
	assert.True(t, slices.ContainsFunc(man.Toolchains[0].Packages, func(l string) bool { return strings.HasPrefix(l, "musl-tools ") }),
		"the toolchain's packages: %v", man.Toolchains[0].Packages)
	assert.Contains(t, man.Toolchains[0].Compilers["musl-gcc"], "gcc")
	sbom, err := os.ReadFile(filepath.Join(dir, release.SBOMFile))
	require.NoError(t, err)
	assert.Contains(t, string(sbom), `"spdxVersion": "SPDX-2.3"`)
	assert.Contains(t, string(sbom), strings.TrimPrefix(all.Releases[0].Digest, "sha256:"))

	prov, err := os.ReadFile(filepath.Join(dir, tarball+".provenance.json"))
	require.NoError(t, err, "BuildKit's provenance attestation, beside the tarball")
	assert.Contains(t, string(prov), `"predicateType": "https://slsa.dev/provenance/`)
	assert.Contains(t, string(prov), `"name": "bin/fixture-s6"`, "its subjects are the dist's files")

	log, code = run(t, env, "verify", dir, "--progress", "quiet")
	require.Equal(t, 0, code, log)
	for name := range sums {
		assert.Contains(t, log, "identical  "+sums[name]+"  "+name)
	}

	// A tarball changed after the release: verify names it and its first
	// differing entry.
	changeEntry(t, filepath.Join(dir, tarball), "bin/fixture-s6")
	sum, err := release.Sha256File(filepath.Join(dir, tarball))
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, release.SumsFile))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, release.SumsFile), []byte(strings.ReplaceAll(string(b), sums[tarball], sum)), 0o644))
	log, code = run(t, env, "verify", dir, "--progress", "quiet")
	assert.Equal(t, 1, code, log)
	assert.Contains(t, log, "DIFFERS    "+sum+"  "+tarball+" (rebuilt as "+sums[tarball]+"; first differing entry: bin/fixture-s6)")
	assert.Contains(t, log, "identical  "+sums[release.ManifestFile])
	require.NoError(t, os.WriteFile(filepath.Join(dir, release.SumsFile), b, 0o644))

	// The files in the folder against its own SHA256SUMS, left as it was:
	// one byte flipped in the middle of the tarball, a file added, a file
	// removed. Each is named; exit status 1.
	body, err := os.ReadFile(filepath.Join(dir, tarball))
	require.NoError(t, err)
	flipped := slices.Clone(body)
	flipped[len(flipped)/2] ^= 0xff
	flippedSum := fmt.Sprintf("%x", sha256.Sum256(flipped))
	require.NoError(t, os.WriteFile(filepath.Join(dir, tarball), flipped, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("not ours\n"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(dir, release.SBOMFile)))
	log, code = run(t, env, "verify", dir, "--progress", "quiet")
	assert.Equal(t, 1, code, log)
	assert.Contains(t, log, "TAMPERED   "+tarball+" (its sha256 is "+flippedSum+", SHA256SUMS says "+sums[tarball]+")")
	assert.Contains(t, log, "TAMPERED   extra.txt (not written by s6builder: SHA256SUMS does not name it)")
	assert.Contains(t, log, "TAMPERED   "+release.SBOMFile+" (missing: SHA256SUMS names it)")
	assert.Contains(t, log, "3 files of "+dir+" are not what its SHA256SUMS says")

	// The provenance, outside SHA256SUMS, against the rebuild's: one digest
	// of its subjects edited.
	provPath := filepath.Join(dir, tarball+".provenance.json")
	require.NoError(t, os.WriteFile(provPath, []byte(strings.Replace(string(prov), `"sha256": "`, `"sha256": "0`, 1)), 0o644))
	log, code = run(t, env, "verify", dir, "--progress", "quiet")
	assert.Equal(t, 1, code, log)
	assert.Regexp(t, `DIFFERS    provenance  `+regexp.QuoteMeta(tarball)+`\.provenance\.json \(first difference at \.subject\[[0-9]+\]\.digest\.sha256\)`, log)
	assert.Contains(t, log, "1 provenance files differ from the rebuild's")

	// A tarball whose entries escape (../, an absolute path, a file through
	// a symlink that leaves): verify reads tarballs, it never extracts
	// them, so nothing appears outside the folder.
	outside := t.TempDir()
	escape := filepath.Join(outside, "escaped")
	var esc bytes.Buffer
	zw := gzip.NewWriter(&esc)
	tw := tar.NewWriter(zw)
	for _, h := range []*tar.Header{
		{Name: "../../../../../../" + escape[1:], Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
		{Name: escape + "-abs", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
		{Name: "bin", Typeflag: tar.TypeSymlink, Linkname: outside},
		{Name: "bin/through-link", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
	} {
		require.NoError(t, tw.WriteHeader(h))
		if h.Size > 0 {
			_, err := tw.Write([]byte("x"))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, tarball), esc.Bytes(), 0o644))
	log, code = run(t, env, "verify", dir, "--progress", "quiet")
	assert.Equal(t, 1, code, log)
	assert.Contains(t, log, "TAMPERED   "+tarball+" (its sha256 is ")
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing written outside the release folder")
	assert.NoFileExists(t, escape+"-abs")
}

// changeEntry rewrites a gzip'd tarball with one more byte in entry name.
func changeEntry(t *testing.T, path, name string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	tr := tar.NewReader(zr)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(tr)
		require.NoError(t, err)
		if h.Name == name {
			body = append(body, 0)
			h.Size = int64(len(body))
		}
		require.NoError(t, tw.WriteHeader(h))
		_, err = tw.Write(body)
		require.NoError(t, err)
	}
	f.Close()
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

// TestConcurrentReleasesAndImages is the load trial: 8 runs at once, each a
// release or an image into a folder of its own, then 4 releases into one
// folder. Every run succeeds; every release folder is whole (verify finds
// every file as its SHA256SUMS says and rebuilds them identical); the
// shared folder holds one whole release and no leftovers.
func TestConcurrentReleasesAndImages(t *testing.T) {
	env, base, services := imageEnv(t)

	type result struct {
		log  string
		code int
	}
	runAll := func(args [][]string) []result {
		out := make([]result, len(args))
		var wg sync.WaitGroup
		for i, a := range args {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out[i].log, out[i].code = run(t, env, a...)
			}()
		}
		wg.Wait()
		return out
	}
	root := t.TempDir()
	var args [][]string
	for i := range 8 {
		dir := filepath.Join(root, strconv.Itoa(i))
		if i%2 == 0 {
			args = append(args, []string{"release", "--s6", "2.1.6.0", "-o", dir, "--progress", "quiet"})
		} else {
			args = append(args, []string{"image", "--s6", "2.1.6.0", "--services", services, "--base", base, "-o", dir + ".tar", "--progress", "quiet"})
		}
	}
	for i, r := range runAll(args) {
		require.Equal(t, 0, r.code, "%v: %s", args[i], r.log)
		if i%2 == 0 {
			log, code := run(t, env, "verify", filepath.Join(root, strconv.Itoa(i)), "--progress", "quiet")
			assert.Equal(t, 0, code, log)
		} else {
			assert.FileExists(t, filepath.Join(root, strconv.Itoa(i)+".tar"))
		}
	}

	shared := filepath.Join(root, "shared")
	args = nil
	for range 4 {
		args = append(args, []string{"release", "--s6", "2.1.6.0", "-o", shared, "--progress", "quiet"})
	}
	for i, r := range runAll(args) {
		assert.Equal(t, 0, r.code, "%v: %s", args[i], r.log)
	}
	log, code := run(t, env, "verify", shared, "--progress", "quiet")
	assert.Equal(t, 0, code, "one whole release in the shared folder: %s", log)
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), "."), "a leftover beside the outputs: %s", e.Name())
	}
}

// TestAReleaseKilledMidwayLeavesNothingThatLooksWhole: SIGKILL of the CLI
// while a release is made leaves no release folder (only a hidden staging
// folder beside it), and the next run removes that and makes a whole one.
func TestAReleaseKilledMidwayLeavesNothingThatLooksWhole(t *testing.T) {
	addr, tc := engineEnv(t)
	m, cat, _ := fixtureMirror(t, fixtures.Nonce(), "2.1.6.0") // a new nonce: a cold build, seconds long
	env := []string{"BUILDKIT_HOST=" + addr, "S6BUILDER_TOOLCHAIN=" + tc, "S6BUILDER_MIRROR=" + m.URL, "S6BUILDER_CATALOG=" + cat}
	root := t.TempDir()
	dir := filepath.Join(root, "release")
	cmd := exec.Command(bin, "release", "--s6", "2.1.6.0", "-o", dir, "--progress", "quiet")
	cmd.Env = append(os.Environ(), env...)
	require.NoError(t, cmd.Start())
	staging := func() []string {
		entries, _ := os.ReadDir(root)
		var names []string
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".release.s6builder-") {
				names = append(names, e.Name())
			}
		}
		return names
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(staging()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	require.NotEmpty(t, staging(), "the release was staged")
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	assert.NoDirExists(t, dir, "no release folder after the kill")
	assert.NotEmpty(t, staging(), "the killed run's staging folder is left")

	log, code := run(t, env, "release", "--s6", "2.1.6.0", "-o", dir, "--progress", "quiet")
	require.Equal(t, 0, code, log)
	assert.Empty(t, staging(), "the next run removed the dead run's staging folder")
	log, code = run(t, env, "verify", dir, "--progress", "quiet")
	assert.Equal(t, 0, code, log)
}

// TestAPushToARegistryThatIsDownFailsNamingIt: --push to a registry that
// does not answer fails with exit status 1, naming the registry.
func TestAPushToARegistryThatIsDownFailsNamingIt(t *testing.T) {
	env, base, services := imageEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0") // a port nobody serves once closed
	require.NoError(t, err)
	down := l.Addr().String()
	require.NoError(t, l.Close())
	log, code := run(t, env, "image", "--s6", "2.1.6.0", "--services", services, "--base", base,
		"--push", down+"/s6builder/app:test", "--progress", "quiet")
	assert.Equal(t, 1, code, log)
	assert.Contains(t, log, "failed to push "+down+"/s6builder/app:test")
	assert.Contains(t, log, "connection refused")
}

// imageEnv is the environment of an image run on fixtures (the test
// daemon, a fresh fixture mirror), a Debian base and a one-service tree.
func imageEnv(t *testing.T) (env []string, base, services string) {
	t.Helper()
	addr, tc := engineEnv(t)
	base = fixtures.TestEnv(t, "S6BUILDER_SSHD_BASE")
	m, cat, _ := fixtureMirror(t, fixtures.Nonce(), "2.1.6.0")
	env = []string{"BUILDKIT_HOST=" + addr, "S6BUILDER_TOOLCHAIN=" + tc, "S6BUILDER_MIRROR=" + m.URL, "S6BUILDER_CATALOG=" + cat}
	services = filepath.Join(t.TempDir(), "services")
	require.NoError(t, os.MkdirAll(filepath.Join(services, "svc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(services, "svc", "run"), []byte("#!/bin/sh\nexec sleep 1000\n"), 0o755))
	return env, base, services
}

// A file of the tree its user cannot read is refused before any work,
// naming it, for every kind of tree; run as UID 65534 (the tests run as
// root, who reads everything).
func TestUnreadableFilesOfATreeAreRefusedBeforeAnyWork(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: needs root, to run the CLI as another user")
	}
	shared, err := os.MkdirTemp("", "s6builder-unreadable-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(shared) })
	require.NoError(t, os.Chmod(shared, 0o755))
	cli := filepath.Join(shared, "s6builder")
	b, err := os.ReadFile(bin)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cli, b, 0o755))
	tree := func(name string, files map[string]os.FileMode) string {
		dir := filepath.Join(shared, name)
		for f, mode := range files {
			require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("#!/bin/sh\n"), mode))
			require.NoError(t, os.Chmod(filepath.Join(dir, f), mode))
		}
		return dir
	}
	services := tree("services", map[string]os.FileMode{"svc/run": 0o755, "svc/secret": 0o600})
	root := tree("root", map[string]os.FileMode{"etc/cont-init.d/10-x": 0o755, "etc/app.key": 0o600})
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"services": {[]string{"image", "--s6", "2.1.6.0", "--services", services, "--base", "debian:bookworm-slim", "--push", "r.example/x"},
			"svc/secret: not readable (permission denied): it could not be copied into the image"},
		"s6-overlay root": {[]string{"image", "--init", "s6-overlay", "--s6-overlay", "3.2.3.2", "--root", root, "--base", "debian:bookworm-slim", "--push", "r.example/x"},
			"etc/app.key: not readable (permission denied)"},
	} {
		cmd := exec.Command(cli, tc.args...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/", "BUILDKIT_HOST=unix:///nonexistent/buildkitd.sock"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "%s: %s", name, out)
		assert.Equal(t, 2, ee.ExitCode(), "%s: %s", name, out)
		assert.Contains(t, string(out), tc.want, name)
		assert.NotContains(t, string(out), "nonexistent/buildkitd.sock", name)
	}
}

// A 1 GB sparse file in a service tree goes into the image as it is: the
// layer holds it at its place with its size (BuildKit sends and stores
// the zeros; the OCI archive is small because they compress).
func TestASparseGigabyteFileOfATreeGoesIntoTheImage(t *testing.T) {
	env, base, services := imageEnv(t)
	const size = 1 << 30
	f, err := os.Create(filepath.Join(services, "svc", "big"))
	require.NoError(t, err)
	require.NoError(t, f.Truncate(size))
	require.NoError(t, f.Close())
	archive := filepath.Join(t.TempDir(), "image.tar")
	log, code := run(t, env, "image", "--s6", "2.1.6.0", "--services", services, "--base", base, "-o", archive, "--progress", "quiet")
	require.Equal(t, 0, code, log)
	got, found := layerFiles(t, archive)["etc/s6/svc/big"]
	require.True(t, found, "no layer of the image holds etc/s6/svc/big")
	assert.Equal(t, int64(size), got)
}

// layerFiles reads an OCI archive (one image, gzip layers) and returns
// the size of each file its layers hold, by path (the last layer's).
func layerFiles(t *testing.T, archive string) map[string]int64 {
	t.Helper()
	blob := func(digest string) io.ReadCloser {
		f, err := os.Open(archive)
		require.NoError(t, err)
		tr := tar.NewReader(f)
		want := "blobs/sha256/" + strings.TrimPrefix(digest, "sha256:")
		for {
			h, err := tr.Next()
			require.NoError(t, err, "%s not in %s", want, archive)
			if h.Name == want || h.Name == "index.json" && digest == "index.json" {
				return struct {
					io.Reader
					io.Closer
				}{tr, f}
			}
		}
	}
	var index, manifest struct {
		Manifests []struct{ Digest string } `json:"manifests"`
		Layers    []struct{ Digest string } `json:"layers"`
	}
	read := func(digest string, v any) {
		r := blob(digest)
		defer r.Close()
		require.NoError(t, json.NewDecoder(r).Decode(v))
	}
	read("index.json", &index)
	require.Len(t, index.Manifests, 1)
	read(index.Manifests[0].Digest, &manifest)
	files := map[string]int64{}
	for _, l := range manifest.Layers {
		r := blob(l.Digest)
		zr, err := gzip.NewReader(r)
		require.NoError(t, err)
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			files[strings.TrimPrefix(h.Name, "./")] = h.Size
		}
		r.Close()
	}
	return files
}
