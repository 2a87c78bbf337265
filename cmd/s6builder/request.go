package main

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/spf13/pflag"

	bk "github.com/s6builder/s6builder/engine/buildkit"
	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
	"github.com/s6builder/s6builder/pipeline/inputerr"
	relversion "github.com/s6builder/s6builder/pipeline/version"
)

// requestFlags are the flags that describe what to build, shared by build
// and plan. Defaults for toolchain, mirror and catalogue come from the
// environment (S6BUILDER_TOOLCHAIN, S6BUILDER_MIRROR, S6BUILDER_CATALOG), so
// a test environment or CI job sets them once.
type requestFlags struct {
	s6, skalibs, execline string
	platform              string
	dynamic               bool
	toolchain, cc         string
	mirror, catalog, lock string
	jobs                  int
	configure             []string
	with                  []string
	emulate               bool
	multicall             bool
	profile               string
	platformToolchains    []string // PLATFORM=REF
	prefix                string
	// defaultPrefix is --prefix's default: "" (the request's "/"), or an
	// image's /usr/local
	defaultPrefix string
	// fs is where the flags were registered: which were given
	fs *pflag.FlagSet
	// environ reads the environment (os.LookupEnv; tests replace it)
	environ func(string) (string, bool)
	// fetchTimeout bounds one tarball's fetch (bk.FetchTimeout)
	fetchTimeout time.Duration
}

func (f *requestFlags) register(fs *pflag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.s6, "s6", "", "s6 version (default: the newest in the catalogue)")
	fs.StringVar(&f.skalibs, "skalibs", "", "skalibs version (default: the one the s6 release needs)")
	fs.StringVar(&f.execline, "execline", "", "execline version (default: the one the s6 release needs)")
	fs.StringVar(&f.platform, "platform", "", "target platform, or a comma-separated list (one output folder each), in Docker's names or s6-overlay's (s6builder platforms), e.g. linux/arm64,linux/arm/v7 (default: this machine's)")
	fs.BoolVar(&f.dynamic, "dynamic", false, "link against shared libraries (default: fully static against musl)")
	fs.StringVar(&f.toolchain, "toolchain", os.Getenv("S6BUILDER_TOOLCHAIN"), "toolchain image with make and a C compiler; env S6BUILDER_TOOLCHAIN (default: a pinned Debian image plus an install step)")
	fs.StringVar(&f.cc, "cc", "", "C compiler in the toolchain (default: musl-gcc, or gcc with --dynamic)")
	fs.StringVar(&f.mirror, "mirror", os.Getenv("S6BUILDER_MIRROR"), "base URL that replaces "+pipeline.DefaultMirror+"; tarballs are fetched from MIRROR/<pkg>/<tarball>; env S6BUILDER_MIRROR")
	fs.StringVar(&f.catalog, "catalog", os.Getenv("S6BUILDER_CATALOG"), "JSON catalogue file that adds or overrides releases and digests; env S6BUILDER_CATALOG")
	fs.StringVar(&f.lock, "lock", os.Getenv("S6BUILDER_LOCK"), "lock file of digests pinned on first fetch (see build --pin), verified on every run; env S6BUILDER_LOCK")
	prefixUse := "installation prefix compiled into the programs; the output holds them under it, ready to extract at / (default /)"
	if f.defaultPrefix != "" {
		prefixUse = "installation prefix compiled into the programs, where they are in the image (the base's /bin is often a link, so not /)"
	}
	fs.StringVar(&f.prefix, "prefix", f.defaultPrefix, prefixUse)
	fs.IntVar(&f.jobs, "jobs", 0, "parallel make jobs (default: the build container's CPU count)")
	fs.StringSliceVar(&f.with, "with", nil, "add members of the skaware family: PKG (the newest release that works), PKG=VERSION, or all; repeatable or comma-separated, e.g. s6-rc,s6-linux-init")
	fs.BoolVar(&f.multicall, "multicall", false, "one program per package where its release can be built so (execline, s6-portable-utils, s6-linux-utils), the others links to it: the smallest dist (default: one program per command, as make install does without it)")
	fs.StringVar(&f.profile, "profile", "", "keep only the programs one use needs and what they exec: pid1 (s6-svscan, s6-supervise, s6-svscanctl, s6-svc, s6-svok, s6-svstat, s6-svwait) (default: the whole dist)")
	fs.BoolVar(&f.emulate, "emulate", false, "build a foreign platform with its own toolchain under the daemon's emulator, not with a cross compiler (slower; for targets no cross compiler covers)")
	fs.StringSliceVar(&f.platformToolchains, "platform-toolchain", splitEnv("S6BUILDER_PLATFORM_TOOLCHAINS"),
		"toolchain image for one platform, PLATFORM=REF (repeatable or comma-separated), e.g. linux/riscv64=REF for a cross compiler the --toolchain lacks; env S6BUILDER_PLATFORM_TOOLCHAINS")
	fs.DurationVar(&f.fetchTimeout, "fetch-timeout", envDuration("S6BUILDER_FETCH_TIMEOUT", bk.FetchTimeout),
		"how long one source tarball may take to fetch before the build stops, saying which mirror stalled; 0: no bound; env S6BUILDER_FETCH_TIMEOUT")
	fs.StringArrayVar(&f.configure, "configure", nil, "extra configure option for one package, PKG=OPTION (repeatable), e.g. s6=--enable-nsss")
}

// plan validates the flags, loads the catalogue and makes the plan. Every
// refusal happens here, before any connection or build.
func (f *requestFlags) plan() (*pipeline.Plan, error) {
	cat, req, err := f.load()
	if err != nil {
		return nil, err
	}
	p, err := pipeline.New(cat, req)
	if err != nil {
		return nil, usageError{err}
	}
	return p, nil
}

// load validates the flags and reads the catalogue, the --catalog file and
// the lock file.
func (f *requestFlags) load() (*catalog.Catalog, pipeline.Request, error) {
	var req pipeline.Request
	if err := f.fromEnvironment(); err != nil {
		return nil, req, usageError{err}
	}
	if f.fetchTimeout < 0 {
		return nil, req, usageError{inputerr.New("fetch-timeout", f.fetchTimeout.String(), "want a duration of 0 (no bound) or more, e.g. 5m")}
	}
	bk.FetchTimeout = f.fetchTimeout
	var layers []pipeline.Layer
	if f.catalog != "" {
		cf, err := catalog.ReadFile(f.catalog)
		if err != nil {
			return nil, req, usageError{err}
		}
		layers = append(layers, pipeline.Layer{Source: "--catalog " + f.catalog, File: cf})
	}
	if f.lock != "" {
		lock, err := catalog.ReadLock(f.lock)
		if err != nil {
			return nil, req, usageError{err}
		}
		layers = append(layers, pipeline.Layer{Source: f.lock, File: lock, Lock: true})
	}
	cat, err := pipeline.LoadCatalog(layers...)
	if err != nil {
		return nil, req, usageError{err}
	}
	req = pipeline.Request{
		S6: f.s6, Skalibs: f.skalibs, Execline: f.execline,
		Platform: f.platform, Dynamic: f.dynamic, CC: f.cc,
		Mirror: f.mirror, Jobs: f.jobs, With: f.with, Prefix: f.prefix, Multicall: f.multicall, Profile: f.profile,
	}
	if f.toolchain != "" {
		req.Toolchain = pipeline.Toolchain{Image: f.toolchain}
	}
	if req.PlatformToolchains, err = pipeline.ParsePlatformToolchains("platform-toolchain", f.platformToolchains); err != nil {
		return nil, req, usageError{err}
	}
	if !f.emulate {
		// Compilers run natively: a foreign platform is cross-compiled.
		// This machine's platform until the daemon says what it runs on.
		req.BuildPlatform = platforms.DefaultString()
	}
	for _, c := range f.configure {
		pkg, opt, ok := strings.Cut(c, "=")
		if !ok || !catalog.IsPackage(pkg) {
			return nil, req, usageError{fmt.Errorf("--configure %q: want PKG=OPTION with PKG one of %s", c, strings.Join(catalog.Packages, ", "))}
		}
		if req.Configure == nil {
			req.Configure = map[string][]string{}
		}
		req.Configure[pkg] = append(req.Configure[pkg], opt)
	}
	return cat, req, nil
}

// plannable expands req into its matrix (pipeline.Matrix) and plans each,
// so that anything the plan refuses is refused before any work.
func plannable(cat *catalog.Catalog, req pipeline.Request) ([]pipeline.Request, error) {
	reqs, err := pipeline.Matrix(req)
	if err != nil {
		return nil, usageError{err}
	}
	for _, r := range reqs {
		if _, err := pipeline.New(cat, r); err != nil {
			return nil, usageError{err}
		}
	}
	return reqs, nil
}

// catalogWith is the embedded catalogue with the --catalog file path (if
// any) applied; a bad file is bad input.
func catalogWith(path string) (*catalog.Catalog, error) {
	var layers []pipeline.Layer
	if path != "" {
		cf, err := catalog.ReadFile(path)
		if err != nil {
			return nil, usageError{err}
		}
		layers = append(layers, pipeline.Layer{Source: "--catalog " + path, File: cf})
	}
	cat, err := pipeline.LoadCatalog(layers...)
	if err != nil {
		return nil, usageError{err}
	}
	return cat, nil
}

// toolchainRefs are the toolchain images the request may use: --toolchain
// (or the default one) and those of --platform-toolchain.
func (f *requestFlags) toolchainRefs() []string {
	refs := []string{pipeline.DefaultToolchain().Image}
	if f.toolchain != "" {
		refs[0] = f.toolchain
	}
	for _, pt := range f.platformToolchains {
		if _, ref, ok := strings.Cut(pt, "="); ok {
			refs = append(refs, ref)
		}
	}
	return refs
}

// splitEnv is a comma-separated environment variable's values.
func splitEnv(name string) []string {
	var out []string
	for _, v := range strings.Split(os.Getenv(name), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// loopbackRegistry returns the registry host of ref when it is on this
// machine (a test registry, served over plain HTTP), or "".
func loopbackRegistry(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ""
	}
	host := reference.Domain(named)
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if h == "localhost" {
		return host
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return host
	}
	return ""
}

// refuseEmpty refuses string flags given with an empty value: "--s6 ”"
// would otherwise mean the default (the newest release), which is not what
// anybody typing it meant.
func refuseEmpty(fs *pflag.FlagSet) error {
	var err error
	fs.Visit(func(fl *pflag.Flag) {
		if err == nil && fl.Value.Type() == "string" && fl.Value.String() == "" {
			err = inputerr.New(fl.Name, "", "an empty value; give one, or leave the flag out for its default")
		}
	})
	return err
}

// VersionVariable is the environment variable that sets pkg's version, as
// docker-s6builder (SKALIBS_VERSION, EXECLINE_VERSION, S6_VERSION) and
// s6-overlay's conf/versions (S6_RC_VERSION, S6_LINUX_INIT_VERSION, ...)
// name them.
func VersionVariable(pkg string) string {
	return strings.ToUpper(strings.ReplaceAll(pkg, "-", "_")) + "_VERSION"
}

// fromEnvironment takes the packages' versions from their variables
// (VersionVariable) where no flag gives them: S6_VERSION for --s6,
// S6_RC_VERSION for --with s6-rc=VERSION, and so on. A flag wins over a
// variable; when both are given and differ, that is said. A value may
// carry conf/versions' "v" (v2.15.1.0); anything but a version is refused,
// naming the variable.
func (f *requestFlags) fromEnvironment() error {
	lookup := f.environ
	if lookup == nil {
		lookup = os.LookupEnv
	}
	given := func(flag string) bool { return f.fs != nil && f.fs.Changed(flag) }
	for _, pkg := range catalog.Packages {
		name := VersionVariable(pkg)
		v, ok := lookup(name)
		if !ok || v == "" {
			continue
		}
		if len(v) > 1 && v[0] == 'v' && v[1] >= '0' && v[1] <= '9' {
			v = v[1:]
		}
		if _, err := relversion.Parse(v); err != nil {
			return fmt.Errorf("%s=%q: not a version: want four numbers, e.g. 2.1.6.0", name, v)
		}
		switch pkg {
		case "s6", "skalibs", "execline":
			field := map[string]*string{"s6": &f.s6, "skalibs": &f.skalibs, "execline": &f.execline}[pkg]
			if !given(pkg) {
				*field = v
			} else if *field != v {
				fmt.Fprintf(os.Stderr, "s6builder: --%s %s wins over %s=%s from the environment\n", pkg, *field, name, v)
			}
		default:
			f.with = withVersion(f.with, pkg, v, name)
		}
	}
	return nil
}

// withVersion is --with's entries with pkg pinned at v from variable
// name: added when --with does not name pkg, pinned when it names it
// without a version; a different version given to --with wins, and that
// is said.
func withVersion(with []string, pkg, v, name string) []string {
	for i, w := range with {
		p, pin, pinned := strings.Cut(w, "=")
		if p != pkg {
			continue
		}
		if !pinned {
			with = slices.Clone(with)
			with[i] = pkg + "=" + v
		} else if pin != v {
			fmt.Fprintf(os.Stderr, "s6builder: --with %s wins over %s=%s from the environment\n", w, name, v)
		}
		return with
	}
	return append(slices.Clone(with), pkg+"="+v)
}

// envDuration is the duration in the environment variable name, or def
// when it is unset or not a duration (then the flag's own parse refuses
// what is given on the command line).
func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}
