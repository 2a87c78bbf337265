// Package recipe says how to build one skarnet package at one version: the
// configure, make, strip and install command lines. Every package and every
// release uses the same shape (s6-overlay's skaware.mk does the same); what
// differs between releases is data in data/facts.tsv: which configure options
// a release accepts, where it installs its static libraries, which GNU make it
// needs. skarnet's configure treats an unknown option as the target triple or
// ignores it, so the recipe only ever passes options the release knows.
package recipe

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/s6builder/s6builder/pipeline/catalog"
	"github.com/s6builder/s6builder/pipeline/version"
)

// DefaultPrefix is the installation prefix when none is asked for: the
// dist tree is then bin, sbin, libexec, lib and include at its root.
const DefaultPrefix = "/"

// Dep is an installed dependency, mounted read-only at Root.
type Dep struct {
	Package string
	Version version.Version
	Root    string
}

// Options are the inputs of a recipe besides the package and version.
type Options struct {
	Static  bool     // fully static binaries (--enable-static-libc, no shared libs)
	Deps    []Dep    // installed dependencies, in build order
	Extra   []string // extra configure options, validated by CheckExtra
	Jobs    int      // make -jN; 0 means the build container's CPU count
	DestDir string   // where `make install` writes
	// Prefix is compiled into the programs (s6 runs PREFIX/libexec/
	// s6-ftrigrd, PREFIX/bin/execlineb) and is where they are installed
	// under DestDir and under each Dep's Root; "" = DefaultPrefix.
	Prefix string
	// Target is the GNU triple of the cross compiler ("" for a native
	// build): configure gets --target, skalibs the sysdeps it cannot
	// detect without running target programs.
	Target string
	// Multicall builds one program per package where the release can
	// (--enable-multicall: execline from 2.9.2.0, s6-portable-utils from
	// 2.3.0.0, s6-linux-utils from 2.6.1.0), the others as links to it.
	Multicall bool
}

// Recipe is the argv of each build step, run in the unpacked source tree.
type Recipe struct {
	Package   string
	Version   version.Version
	SourceDir string // top directory of the tarball, "<pkg>-<version>"
	Configure []string
	Make      []string
	Strip     []string
	Install   []string
	MakeMin   string // minimum GNU make, for the record
	// RunsTargetPrograms: the cross build's configure runs test programs
	// built for the target (skalibs before 2.9 has no way to be told their
	// results), so the build container needs an emulator for the target.
	RunsTargetPrograms bool
}

// The configure options the recipe wants, in argv order, each passed only to
// releases that accept it. Static: what s6-overlay ships. Dynamic: shared
// libraries, and binaries that link against them.
var (
	always  = []string{"--enable-force-devr"} // skip /dev/random probing (skalibs < 2.4)
	static  = []string{"--enable-static-libc", "--disable-shared"}
	dynamic = []string{"--enable-shared", "--disable-allstatic"}
	// multicall is taken by the releases whose configure accepts it
	// (facts.tsv), and left out of the others'.
	multicall = "--enable-multicall"
)

// ownedOptions are set by the recipe itself; extra options may not repeat them.
var ownedOptions = []string{"--prefix", "--with-sysdeps", "--with-include", "--with-lib", "--with-dynlib",
	"--enable-static-libc", "--disable-shared", "--enable-shared", "--disable-allstatic", "--enable-allstatic",
	"--target", "--host", "--enable-cross", "--enable-slashpackage", "--exec-prefix", "--bindir", "--libdir",
	"--includedir", "--libexecdir", "--dynlibdir", "--sysdepdir", "--sbindir"}

// For returns the recipe for pkg at v.
func For(pkg string, v version.Version, o Options) (Recipe, error) {
	if !catalog.IsPackage(pkg) {
		return Recipe{}, fmt.Errorf("no recipe for package %q", pkg)
	}
	if o.DestDir == "" || !strings.HasPrefix(o.DestDir, "/") {
		return Recipe{}, fmt.Errorf("recipe %s %s: DestDir must be an absolute path", pkg, v)
	}
	for _, r := range append([]Dep{{Package: pkg, Version: v}}, o.Deps...) {
		if oldest, ok := facts.oldest(r.Package); !ok || r.Version.Less(oldest) {
			return Recipe{}, fmt.Errorf("no recipe for %s %s: s6builder knows releases from %s on", r.Package, r.Version, oldest)
		}
	}
	if err := CheckExtra(pkg, v, o.Extra); err != nil {
		return Recipe{}, err
	}
	r := Recipe{
		Package:   pkg,
		Version:   v,
		SourceDir: pkg + "-" + v.String(),
		MakeMin:   facts.value("gnu_make_min", pkg, v),
		Strip:     []string{"make", "strip"},
	}
	prefix := o.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !path.IsAbs(prefix) || path.Clean(prefix) != prefix {
		return Recipe{}, fmt.Errorf("recipe %s %s: Prefix must be a clean absolute path", pkg, v)
	}
	args := []string{"./configure", "--prefix=" + prefix}
	want := append([]string{}, always...)
	if o.Static {
		want = append(want, static...)
	} else {
		want = append(want, dynamic...)
	}
	if o.Multicall {
		want = append(want, multicall)
	}
	for _, opt := range want {
		if facts.accepts(pkg, v, opt) {
			args = append(args, opt)
		}
	}
	if o.Target != "" {
		if !facts.accepts(pkg, v, "--target") {
			return Recipe{}, fmt.Errorf("no recipe for %s %s: its configure takes no --target", pkg, v)
		}
		args = append(args, "--target="+o.Target)
		for _, f := range facts {
			if f.kind == "cross_sysdep" && f.covers(pkg, v) {
				args = append(args, "--with-sysdep-"+f.value)
			}
		}
	}
	for _, d := range o.Deps {
		// A package that installs sysdeps (skalibs: what its configure
		// found out about the target) hands them to those built on it.
		if dir, ok := facts.lookup("sysdepdir", d.Package, d.Version); ok {
			args = append(args, "--with-sysdeps="+path.Join(d.Root, prefix, dir))
		}
	}
	for _, d := range o.Deps {
		args = append(args, "--with-include="+path.Join(d.Root, prefix, "include"), "--with-lib="+path.Join(d.Root, prefix, LibDir(d.Package, d.Version)))
		if !o.Static {
			args = append(args, "--with-dynlib="+path.Join(d.Root, prefix, "lib"))
		}
	}
	r.Configure = append(args, o.Extra...)
	r.RunsTargetPrograms = o.Target != "" && facts.has("cross_runs_tests", pkg, v)
	var vars []string // make variables a cross build needs (facts: cross_make)
	if o.Target != "" {
		for _, f := range facts {
			if f.kind == "cross_make" && f.covers(pkg, v) {
				vars = append(vars, f.value)
			}
		}
	}
	r.Make = MakeArgv(o.Jobs, vars...)
	r.Strip = append(r.Strip, vars...)
	// make -j for install too: skarnet's install rules are one independent
	// target per file (tools/install.sh writes a temporary name of its own
	// and renames it; mkdir -p), in every release, and hundreds of small
	// installs in sequence cost a second or more of a cold build.
	r.Install = MakeArgv(o.Jobs, append([]string{"install", "DESTDIR=" + o.DestDir}, vars...)...)
	return r, nil
}

// NeedsKernelHeaders reports whether pkg's sources at v include Linux
// kernel headers (<linux/...>), which a musl compiler does not find by
// itself: the plan hands them over (see pipeline's kernel-headers stage).
func NeedsKernelHeaders(pkg string, v version.Version) bool {
	for _, f := range facts {
		if f.kind == "kernel_headers" && f.covers(pkg, v) && f.value == "yes" {
			return true
		}
	}
	return false
}

// LibDir is where pkg at v installs its static libraries, relative to the prefix.
func LibDir(pkg string, v version.Version) string { return facts.value("libdir", pkg, v) }

// MakeArgv runs make with jobs jobs. With jobs 0 it asks the build container
// for its CPU count; the command line is then the same on every client, so
// the cache key does not depend on the machine that plans the build. The
// shell string is a constant: nothing from the request reaches it.
func MakeArgv(jobs int, vars ...string) []string {
	if jobs > 0 {
		return append([]string{"make", "-j" + strconv.Itoa(jobs)}, vars...)
	}
	if len(vars) > 0 {
		// The variables as sh's positional parameters, never parsed by it.
		return append([]string{"sh", "-c", `exec make -j"$(nproc)" "$@"`, "make"}, vars...)
	}
	return []string{"sh", "-c", `exec make -j"$(nproc)"`}
}

// extraOption is the shape of an extra configure option: a flag name and a
// value of characters that are inert in sh and make (configure writes values
// into Makefiles, where $ would expand).
var extraOption = regexp.MustCompile(`^(--[a-z][a-z0-9-]*)(=[A-Za-z0-9._/+:,@%-]*)?$`)

// CheckExtra validates extra configure options for pkg at v: well formed,
// accepted by that release, and not one the recipe sets itself.
func CheckExtra(pkg string, v version.Version, extra []string) error {
	for _, e := range extra {
		m := extraOption.FindStringSubmatch(e)
		if m == nil {
			return fmt.Errorf("configure option %q for %s: want --name or --name=value (value of letters, digits and ._/+:,@%%-)", e, pkg)
		}
		for _, o := range ownedOptions {
			if m[1] == o {
				return fmt.Errorf("configure option %q for %s: s6builder sets %s itself", e, pkg, o)
			}
		}
		if !facts.accepts(pkg, v, m[1]) {
			return fmt.Errorf("configure option %q: %s %s does not accept %s", e, pkg, v, m[1])
		}
	}
	return nil
}
