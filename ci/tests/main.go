// Checks of the s6builder module on a real Dagger engine
//
// Every function of the module is called as a user calls it, and what it
// returns is checked by running it: the dist's binaries run in an empty
// container (so they are static and complete), the smoke test's checks pass,
// the image starts s6-svscan, and bad arguments are refused with the
// module's own messages. `dagger -m ci/tests call all` runs them all; on a
// machine without the internet, give the mirror, catalogue and images:
//
//	dagger -m ci/tests call --mirror URL --catalog FILE --toolchain REF --base REF all
package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"dagger/tests/internal/dagger"
)

// Tests holds what every check passes to the module.
type Tests struct {
	S6        string
	Mirror    string
	Catalog   *dagger.File
	Toolchain string
	Base      string
	// CrossToolchain: the toolchain of the cross-compiling check
	CrossToolchain string
	// RcS6: the s6 release of the s6-rc image check (its s6-rc and
	// s6-linux-init come with it)
	RcS6 string
}

func New(
	// s6 release the checks build (its skalibs and execline come with it)
	// +default="2.1.6.0"
	s6 string,
	// Passed to the module as --mirror (default: skarnet.org)
	// +optional
	mirror string,
	// Passed to the module as --catalog
	// +optional
	catalog *dagger.File,
	// Passed to the module as --toolchain (default: the module's own)
	// +optional
	toolchain string,
	// Base image of the image check
	// +default="debian:bookworm-slim"
	base string,
	// Passed to the module as --toolchain by the cross-compiling check: an
	// image with the arm64 and armhf cross compilers and musl (default:
	// toolchain, or the module's own, which installs them)
	// +optional
	crossToolchain string,
	// s6 release of the s6-rc image check: one whose family has an
	// s6-linux-init with container mode (1.0.7.2 on)
	// +default="2.15.1.0"
	rcS6 string,
) *Tests {
	if crossToolchain == "" {
		crossToolchain = toolchain
	}
	return &Tests{S6: s6, Mirror: mirror, Catalog: catalog, Toolchain: toolchain, Base: base, CrossToolchain: crossToolchain, RcS6: rcS6}
}

// Run every check, concurrently; the call fails with every failure
func (m *Tests) All(ctx context.Context) error {
	checks := []func(context.Context) error{m.Versions, m.Build, m.Profile, m.Sources, m.Test, m.Image, m.RcImage, m.Release, m.Refusals, m.Cross}
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, check := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = check(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// module is the module with the checks' configuration, given once to its
// constructor: `dagger call --mirror URL --catalog FILE --toolchain REF ...`.
func (m *Tests) module() *dagger.S6Builder {
	return dag.S6Builder(dagger.S6BuilderOpts{Mirror: m.Mirror, Catalog: m.Catalog, Toolchain: m.Toolchain})
}

// suite is `... suite --s6 S6` of the module.
func (m *Tests) suite() *dagger.S6BuilderSuite { return m.module().Suite(m.S6) }

// versions lists the requested s6 release with the skalibs it needs
//
// +check
func (m *Tests) Versions(ctx context.Context) error {
	out, err := m.module().Versions(ctx)
	if err != nil {
		return fmt.Errorf("versions: %w", err)
	}
	// PACKAGE VERSION RELEASED NEEDS DIGEST PUBLISHED BY; the requested s6
	// names the skalibs and execline it needs, and its digest is known.
	line := regexp.MustCompile(`(?m)^s6\s+` + regexp.QuoteMeta(m.S6) + `\s+\S+\s+skalibs [0-9.]+, execline [0-9.]+\s+sha256:`)
	if !line.MatchString(out) {
		return fmt.Errorf("versions: no line for s6 %s with its skalibs, execline and digest in:\n%s", m.S6, out)
	}
	for _, pkg := range []string{"skalibs", "execline", "s6"} {
		if !regexp.MustCompile(`(?m)^` + pkg + `\s`).MatchString(out) {
			return fmt.Errorf("versions: no %s release listed in:\n%s", pkg, out)
		}
	}
	return nil
}

// build returns the dist; its binaries run in an empty container, so they
// are static, for the engine's platform, and s6 and execline work
//
// +check
func (m *Tests) Build(ctx context.Context) error {
	dist := m.module().Build(m.S6)
	for _, dir := range []string{"bin", "lib", "include"} {
		entries, err := dist.Entries(ctx, dagger.DirectoryEntriesOpts{Path: dir})
		if err != nil {
			return fmt.Errorf("build: %s: %w", dir, err)
		}
		if len(entries) == 0 {
			return fmt.Errorf("build: %s is empty", dir)
		}
	}
	bins, err := dist.Entries(ctx, dagger.DirectoryEntriesOpts{Path: "bin"})
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	for _, want := range []string{"s6-svscan", "s6-supervise", "s6-svc", "execlineb", "exit"} {
		if !slices.Contains(bins, want) {
			return fmt.Errorf("build: bin/%s is missing (bin has %s)", want, strings.Join(bins, " "))
		}
	}
	// Nothing but the dist: a dynamic binary would find no loader or libc.
	empty := dag.Container().WithDirectory("/", dist).WithEnvVariable("PATH", "/bin")
	if err := expectExit(ctx, empty, []string{"/bin/s6-svscan", "-h"}, 100); err != nil {
		return fmt.Errorf("build: s6-svscan -h in an empty container: %w", err)
	}
	if err := expectExit(ctx, empty, []string{"/bin/execlineb", "-Pc", "exit 7"}, 7); err != nil {
		return fmt.Errorf("build: execlineb in an empty container: %w", err)
	}
	return nil
}

// profile builds with the constructor's profile pid1: bin holds
// s6-svscan and its tools (and what they exec), not execline's programs,
// and there are no static libraries or headers; s6-svscan runs in an
// empty container
//
// +check
func (m *Tests) Profile(ctx context.Context) error {
	dist := dag.S6Builder(dagger.S6BuilderOpts{Mirror: m.Mirror, Catalog: m.Catalog, Toolchain: m.Toolchain, Profile: "pid1"}).Build(m.S6)
	top, err := dist.Entries(ctx)
	if err != nil {
		return fmt.Errorf("pid1 profile: %w", err)
	}
	for _, gone := range []string{"lib/", "include/"} {
		if slices.Contains(top, gone) {
			return fmt.Errorf("pid1 profile: the dist has %s (it has %s)", gone, strings.Join(top, " "))
		}
	}
	bins, err := dist.Entries(ctx, dagger.DirectoryEntriesOpts{Path: "bin"})
	if err != nil {
		return fmt.Errorf("pid1 profile: %w", err)
	}
	for _, want := range []string{"s6-svscan", "s6-supervise", "s6-svscanctl", "s6-svc", "s6-svok", "s6-svstat", "s6-svwait"} {
		if !slices.Contains(bins, want) {
			return fmt.Errorf("pid1 profile: bin/%s is missing (bin has %s)", want, strings.Join(bins, " "))
		}
	}
	if slices.Contains(bins, "execlineb") {
		return fmt.Errorf("pid1 profile: bin has execlineb, which no program of the profile runs (bin has %s)", strings.Join(bins, " "))
	}
	empty := dag.Container().WithDirectory("/", dist).WithEnvVariable("PATH", "/bin")
	if err := expectExit(ctx, empty, []string{"/bin/s6-svscan", "-h"}, 100); err != nil {
		return fmt.Errorf("pid1 profile: s6-svscan -h in an empty container: %w", err)
	}
	return nil
}

// crossTargets are the platforms the cross check builds, with the ELF
// machine (e_machine) their binaries must carry.
var crossTargets = []struct {
	platform, dir string
	machine       string // e_machine, little-endian bytes as od -tx1 prints them
}{
	{"linux/arm64", "linux_arm64", "b7 00"},   // EM_AARCH64
	{"linux/arm/v7", "linux_arm_v7", "28 00"}, // EM_ARM
}

// cross builds two foreign platforms in one call (cross-compiled on the
// engine's platform): one tree per platform, whose s6-svscan is an ELF for
// that machine and runs, static, in an empty container of that platform
// (under the engine host's emulator)
//
// +check
func (m *Tests) Cross(ctx context.Context) error {
	plats := make([]string, len(crossTargets))
	for i, t := range crossTargets {
		plats[i] = t.platform
	}
	cross := dag.S6Builder(dagger.S6BuilderOpts{Mirror: m.Mirror, Catalog: m.Catalog, Toolchain: m.CrossToolchain})
	all := cross.Build(m.S6, dagger.S6BuilderBuildOpts{Platforms: plats})
	entries, err := all.Entries(ctx)
	if err != nil {
		return fmt.Errorf("cross: %w", err)
	}
	for _, t := range crossTargets {
		if !slices.Contains(entries, t.dir+"/") && !slices.Contains(entries, t.dir) {
			return fmt.Errorf("cross: no %s/ in the result (%s)", t.dir, strings.Join(entries, " "))
		}
		dist := all.Directory(t.dir)
		// e_machine is at offset 18 of the ELF header.
		got, err := dag.Container().From(m.Base).WithMountedDirectory("/dist", dist).
			WithExec([]string{"od", "-An", "-tx1", "-j18", "-N2", "/dist/bin/s6-svscan"}).Stdout(ctx)
		if err != nil {
			return fmt.Errorf("cross: %s: %w", t.platform, err)
		}
		if strings.TrimSpace(got) != t.machine {
			return fmt.Errorf("cross: %s: bin/s6-svscan has ELF machine %q, want %q", t.platform, strings.TrimSpace(got), t.machine)
		}
		empty := dag.Container(dagger.ContainerOpts{Platform: dagger.Platform(t.platform)}).
			WithDirectory("/", dist).WithEnvVariable("PATH", "/bin")
		if err := expectExit(ctx, empty, []string{"/bin/s6-svscan", "-h"}, 100); err != nil {
			return fmt.Errorf("cross: %s: s6-svscan -h in an empty %s container: %w", t.platform, t.platform, err)
		}
	}
	return nil
}

// sources returns one unpacked tree per package, at the planned versions
//
// +check
func (m *Tests) Sources(ctx context.Context) error {
	src := m.suite().Sources()
	entries, err := src.Entries(ctx)
	if err != nil {
		return fmt.Errorf("sources: %w", err)
	}
	if !slices.Contains(entries, "s6-"+m.S6+"/") && !slices.Contains(entries, "s6-"+m.S6) {
		return fmt.Errorf("sources: no s6-%s/ in %s", m.S6, strings.Join(entries, " "))
	}
	for _, pkg := range []string{"skalibs-", "execline-"} {
		if !slices.ContainsFunc(entries, func(e string) bool { return strings.HasPrefix(e, pkg) }) {
			return fmt.Errorf("sources: no %s* in %s", pkg, strings.Join(entries, " "))
		}
	}
	info, err := src.File("s6-" + m.S6 + "/package/info").Contents(ctx)
	if err != nil {
		return fmt.Errorf("sources: s6-%s/package/info: %w", m.S6, err)
	}
	if !strings.Contains(info, "version="+m.S6) {
		return fmt.Errorf("sources: s6-%s/package/info does not say version=%s:\n%s", m.S6, m.S6, info)
	}
	return nil
}

// test runs the supervision smoke test; every check prints an ok line
//
// +check
func (m *Tests) Test(ctx context.Context) error {
	out, err := m.suite().Test(ctx)
	if err != nil {
		return fmt.Errorf("test: %w", err)
	}
	oks := regexp.MustCompile(`(?m)^ok\s`).FindAllString(out, -1)
	if len(oks) < 4 || strings.Contains(out, "not ok") {
		return fmt.Errorf("test: want at least 4 ok lines and no failure, got:\n%s", out)
	}
	return nil
}

// rc-image: an s6-rc image (init s6-rc) for UID 1000: s6-linux-init's
// init as the entrypoint, the user, /run owned by it, and the database
// compiled from the tree (s6-rc-db lists its services)
//
// +check
func (m *Tests) RcImage(ctx context.Context) error {
	exe := dagger.DirectoryWithNewFileOpts{Permissions: 0o755}
	tree := dag.Directory().
		WithNewFile("prepare/type", "oneshot\n").
		WithNewFile("prepare/up", "mkdir -p /run/app\n").
		WithNewFile("app/type", "longrun\n").
		WithNewFile("app/run", "#!/bin/sh\nexec sleep 100000\n", exe).
		WithNewFile("app/dependencies.d/prepare", "").
		WithNewFile("default/type", "bundle\n").
		WithNewFile("default/contents.d/app", "")
	suite := m.module().Suite(m.RcS6, dagger.S6BuilderSuiteOpts{With: []string{"s6-rc", "s6-linux-init"}})
	ctr := suite.Image(dag.Container().From(m.Base), dagger.S6BuilderSuiteImageOpts{Init: "s6-rc", Rc: tree, User: "1000:1000"})
	ep, err := ctr.Entrypoint(ctx)
	if err != nil {
		return fmt.Errorf("rc-image: %w", err)
	}
	if strings.Join(ep, " ") != "/etc/s6-linux-init/current/bin/init" {
		return fmt.Errorf("rc-image: entrypoint %q, want [/etc/s6-linux-init/current/bin/init]", ep)
	}
	if user, err := ctr.User(ctx); err != nil || user != "1000:1000" {
		return fmt.Errorf("rc-image: user %q (%v), want 1000:1000", user, err)
	}
	out, err := ctr.WithExec([]string{"sh", "-c", "id -u; stat -c %u /run; test -x /etc/s6-linux-init/current/bin/init && " +
		"s6-rc-db -c /etc/s6-rc/compiled list all"}).Stdout(ctx)
	if err != nil {
		return fmt.Errorf("rc-image: %w", err)
	}
	lines := strings.Fields(out)
	for _, want := range []string{"app", "prepare", "default"} {
		if !slices.Contains(lines, want) {
			return fmt.Errorf("rc-image: the compiled database has no %s: %q", want, out)
		}
	}
	if len(lines) < 2 || lines[0] != "1000" || lines[1] != "1000" {
		return fmt.Errorf("rc-image: want the container's user 1000 and /run owned by 1000, got %q", out)
	}
	return nil
}

// image is the base with s6-svscan as its entrypoint over the service tree
//
// +check
func (m *Tests) Image(ctx context.Context) error {
	services := dag.Directory().
		WithNewFile("hello/run", "#!/bin/sh\nexec sleep 3600\n", dagger.DirectoryWithNewFileOpts{Permissions: 0o755})
	ctr := m.suite().Image(dag.Container().From(m.Base), dagger.S6BuilderSuiteImageOpts{Services: services})
	ep, err := ctr.Entrypoint(ctx)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if strings.Join(ep, " ") != "/usr/local/bin/s6-svscan /etc/s6" {
		return fmt.Errorf("image: entrypoint %q, want [/usr/local/bin/s6-svscan /etc/s6]", ep)
	}
	if err := expectExit(ctx, ctr, []string{"test", "-x", "/etc/s6/hello/run", "-a", "-x", "/etc/s6/.s6-svscan/finish"}, 0); err != nil {
		return fmt.Errorf("image: the service tree: %w", err)
	}
	if err := expectExit(ctx, ctr, []string{"s6-svscan", "-h"}, 100); err != nil {
		return fmt.Errorf("image: s6-svscan on PATH: %w", err)
	}
	return nil
}

// bad arguments are refused before any work, with the module's words
//
// +check
func (m *Tests) Refusals(ctx context.Context) error {
	for _, tc := range []struct{ s6, want string }{
		{"2.1.6.0;id", `--s6 "2.1.6.0;id"`},
		{"2.1.6.0;id", "not a plain decimal number"},
		{"9.9.9.9", "unknown s6 release 9.9.9.9"},
		{"9.9.9.9", "`dagger call versions` lists all"},
	} {
		_, err := m.module().Build(tc.s6).Entries(ctx)
		if err == nil {
			return fmt.Errorf("refusals: build --s6 %q was accepted", tc.s6)
		}
		if !strings.Contains(err.Error(), tc.want) {
			return fmt.Errorf("refusals: build --s6 %q: want %q in the error, got: %v", tc.s6, tc.want, err)
		}
	}
	return nil
}

// release writes the tarball, manifest, SBOM and SHA256SUMS, whose sums
// are those of the files beside it, and the constructor's sourceDateEpoch
// is the manifest's
//
// +check
func (m *Tests) Release(ctx context.Context) error {
	mod := dag.S6Builder(dagger.S6BuilderOpts{Mirror: m.Mirror, Catalog: m.Catalog, Toolchain: m.Toolchain, SourceDateEpoch: 1700000000})
	rel := mod.Suite(m.S6).Release()
	entries, err := rel.Entries(ctx)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	for _, want := range []string{"SHA256SUMS", "manifest.json", "sbom.spdx.json"} {
		if !slices.Contains(entries, want) {
			return fmt.Errorf("release: no %s in %s", want, strings.Join(entries, " "))
		}
	}
	out, err := dag.Container().From(m.Base).WithMountedDirectory("/release", rel).WithWorkdir("/release").
		WithExec([]string{"sh", "-c", "sha256sum -c SHA256SUMS && grep -c '\"source_date_epoch\": 1700000000' manifest.json"}).Stdout(ctx)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if !strings.Contains(out, ".tar.gz: OK") {
		return fmt.Errorf("release: sha256sum -c SHA256SUMS checked no tarball:\n%s", out)
	}
	return nil
}

// expectExit runs argv in ctr and fails unless it exits with code.
func expectExit(ctx context.Context, ctr *dagger.Container, argv []string, code int) error {
	run := ctr.WithExec(argv, dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	got, err := run.ExitCode(ctx)
	if err != nil {
		return err
	}
	if got != code {
		stdout, _ := run.Stdout(ctx)
		stderr, _ := run.Stderr(ctx)
		return fmt.Errorf("%s exited %d, want %d:\n%s%s", strings.Join(argv, " "), got, code, stdout, stderr)
	}
	return nil
}
