// Package pipeline turns a build request into a plan: an engine-neutral DAG
// of stages (toolchain, fetch, unpack, build, merge, export) in which every
// stage has a key derived from its own inputs and its parents' keys. The
// BuildKit adapter (engine/buildkit) and the Dagger module (ci/) translate
// the same plan, so the stages, recipes and digests have one source of truth.
//
// Data flows one way: catalog (releases, digests) -> recipe (argv per
// release) -> plan (this package) -> engine adapter -> front end.
package pipeline

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/containerd/platforms"
	"github.com/distribution/reference"

	"github.com/s6builder/s6builder/pipeline/catalog"
	"github.com/s6builder/s6builder/pipeline/inputerr"
	"github.com/s6builder/s6builder/pipeline/recipe"
)

// DefaultMirror is where skarnet publishes its tarballs.
const DefaultMirror = "https://skarnet.org/software"

// MaxJobs bounds --jobs.
const MaxJobs = 256

// Request is what a user asks for. The zero value of each field means its
// default; Normalize fills them in.
type Request struct {
	S6       string `json:"s6,omitempty"`       // s6 version; "" = newest
	Skalibs  string `json:"skalibs,omitempty"`  // "" = what s6 needs
	Execline string `json:"execline,omitempty"` // "" = what s6 needs

	Platform string `json:"platform,omitempty"` // OCI platform, e.g. linux/arm64; "" = this machine's
	// BuildPlatform is where the compilers run. "" or Platform: a native
	// build (emulated, when the daemon's host runs Platform through an
	// emulator). Another one: a cross build, with the cross compiler of
	// platforms.tsv for Platform.
	BuildPlatform string `json:"build_platform,omitempty"`
	Dynamic       bool   `json:"dynamic,omitempty"` // shared libraries; the default is static against musl

	Toolchain Toolchain `json:"toolchain"` // zero = DefaultToolchain()
	// PlatformToolchains replaces Toolchain for the platforms it names (a
	// toolchain with a cross compiler the others lack); Normalize applies
	// the entry of the request's platform and drops the map.
	PlatformToolchains map[string]Toolchain `json:"platform_toolchains,omitempty"`
	CC                 string               `json:"cc,omitempty"`

	// Prefix is the installation prefix compiled into the programs (s6
	// runs PREFIX/libexec/s6-ftrigrd): the dist tree holds them under it,
	// ready to extract at /. "" = "/". An image's base has its own /bin
	// (often a link to usr/bin), so images take /usr/local.
	Prefix string `json:"prefix,omitempty"`

	Mirror string `json:"mirror,omitempty"` // base URL; "" = DefaultMirror
	Jobs   int    `json:"jobs,omitempty"`   // make -jN; 0 = the build container's CPU count
	// Multicall: one program per package where its release can be built so
	// (execline, s6-portable-utils, s6-linux-utils), the smallest dist.
	Multicall bool `json:"multicall,omitempty"`
	// Profile keeps only the programs a use needs and what they exec
	// (recipe.Profiles: "pid1", s6-svscan and its tools); "" = the whole
	// dist.
	Profile string `json:"profile,omitempty"`

	// Configure holds extra configure options per package name.
	Configure map[string][]string `json:"configure,omitempty"`

	// With adds members of the family beside s6: "s6-rc" (the newest
	// release that works with the rest), "s6-rc=0.7.0.0" (that one), or
	// "all". Once resolved, it names every member as "package=version".
	With []string `json:"with,omitempty"`
}

// withAll asks for every package of the family.
const withAll = "all"

// members returns the packages With adds, and the versions it pins.
func (r Request) members() (members []string, pins map[string]string, err error) {
	pins = map[string]string{}
	for _, w := range r.With {
		pkg, ver, pinned := strings.Cut(w, "=")
		switch {
		case pkg == withAll && !pinned:
			members = append(members, catalog.Packages...)
			continue
		case !catalog.IsPackage(pkg):
			return nil, nil, inputerr.New("with", w, "not a package of the family: want %s, or all (PACKAGE=VERSION pins one)", strings.Join(catalog.Packages, ", "))
		case pinned && ver == "":
			return nil, nil, inputerr.New("with", w, "an empty version: give PACKAGE=VERSION, or PACKAGE alone for the newest that works")
		case pinned && r.versionOf(pkg) != nil:
			return nil, nil, inputerr.New("with", w, "%s's version has an argument of its own: give {arg:%s} %s", pkg, pkg, ver)
		case pinned && pins[pkg] != "" && pins[pkg] != ver:
			return nil, nil, inputerr.New("with", w, "%s is pinned twice (%s and %s)", pkg, pins[pkg], ver)
		}
		members = append(members, pkg)
		if pinned {
			pins[pkg] = ver
		}
	}
	return members, pins, nil
}

// Toolchain is the image the build steps run in, and the commands that
// prepare it (package installs; the only steps that get network access).
type Toolchain struct {
	Image string     `json:"image"`
	Setup [][]string `json:"setup,omitempty"`
}

//go:embed toolchain.json
var defaultToolchainJSON []byte

// versionOf is the request field that names pkg's version, or nil: the
// request names s6 and the packages s6 builds against.
func (r *Request) versionOf(pkg string) *string {
	switch pkg {
	case "s6":
		return &r.S6
	case "skalibs":
		return &r.Skalibs
	case "execline":
		return &r.Execline
	}
	return nil
}

// pins are the versions the request gives for the packages s6 builds
// against, by package, with those With pins.
func (r Request) pins(with map[string]string) map[string]string {
	pins := map[string]string{}
	for pkg, v := range with {
		pins[pkg] = v
	}
	for _, pkg := range catalog.Packages {
		if f := r.versionOf(pkg); f != nil && *f != "" && pkg != catalog.S6 {
			pins[pkg] = *f
		}
	}
	return pins
}

// DefaultToolchain is a public Debian image pinned by digest plus a cached
// install of the compilers (see toolchain.json for where the digest was seen).
func DefaultToolchain() Toolchain {
	var t Toolchain
	if err := json.Unmarshal(defaultToolchainJSON, &t); err != nil {
		panic("pipeline/toolchain.json: " + err.Error())
	}
	return t
}

var (
	ccRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+/-]{0,127}$`)
	argRE = regexp.MustCompile(`^[A-Za-z0-9._+=:,@/-]{1,256}$`)
)

// Normalize validates r and fills in defaults; errors name the bad field.
// It does no I/O, so bad input is refused before any work.
func (r Request) Normalize() (Request, error) {
	if r.Platform == "" {
		r.Platform = platforms.DefaultString()
	}
	if strings.Contains(r.Platform, ",") {
		// A plan is for one platform; front ends make one per platform.
		return r, inputerr.New("platform", r.Platform, "one platform per plan")
	}
	var err error
	if r.Platform, err = normalPlatform(r.Platform); err != nil {
		return r, err
	}
	if r.BuildPlatform == "" {
		r.BuildPlatform = r.Platform
	}
	if r.BuildPlatform, err = normalPlatform(r.BuildPlatform); err != nil {
		return r, err
	}
	if len(r.PlatformToolchains) > 0 {
		for p, t := range r.PlatformToolchains {
			np, err := normalPlatform(p)
			if err != nil {
				return r, err
			}
			if np == r.Platform {
				r.Toolchain = t
			}
		}
		r.PlatformToolchains = nil
	}
	var cross Target
	if r.Cross() {
		var ok bool
		if cross, ok = TargetOf(r.Platform); !ok {
			return r, inputerr.New("platform", r.Platform, "no cross compiler is known for it (`{cmd:platforms}` lists those that are); build it under emulation instead ({arg:emulate})")
		}
	}

	if r.Toolchain.Image == "" {
		r.Toolchain = DefaultToolchain()
		if r.Cross() && !cross.InDefaultToolchain {
			return r, inputerr.New("platform", r.Platform, "the default toolchain's Debian has no musl for it: give a {arg:toolchain} with %s-gcc and musl-dev:%s (Debian trixie has both), or build it under emulation ({arg:emulate})", cross.GNUTriple, cross.DebianArch)
		}
		if r.Cross() {
			// The target's cross compiler and musl, from Debian.
			r.Toolchain.Setup = append(r.Toolchain.Setup,
				[]string{"dpkg", "--add-architecture", cross.DebianArch},
				[]string{"apt-get", "update"},
				[]string{"apt-get", "install", "-y", "--no-install-recommends", "gcc-" + cross.GNUTriple, "musl-dev:" + cross.DebianArch, "linux-libc-dev:" + cross.DebianArch})
		}
	}
	ref, err := reference.ParseNormalizedNamed(r.Toolchain.Image)
	if err != nil {
		return r, inputerr.New("toolchain", r.Toolchain.Image, "not an image reference: %v", err)
	}
	r.Toolchain.Image = reference.TagNameOnly(ref).String()
	for _, argv := range r.Toolchain.Setup {
		if err := checkArgv(argv); err != nil {
			return r, fmt.Errorf("toolchain setup: %w", err)
		}
	}

	if r.CC != "" && !ccRE.MatchString(r.CC) {
		return r, inputerr.New("cc", r.CC, "want a compiler command name or path")
	}
	switch {
	case r.CC != "":
	case r.Cross() && r.Dynamic:
		r.CC = cross.GNUTriple + "-gcc"
	case r.Cross():
		// Debian's musl-dev for the target ships the specs that turn its
		// cross gcc into a musl-gcc.
		r.CC = cross.GNUTriple + "-gcc -specs=/usr/lib/" + cross.MuslTriple + "/musl-gcc.specs"
	case r.Dynamic:
		r.CC = "gcc"
	default:
		r.CC = "musl-gcc"
	}

	if r.Prefix == "" {
		r.Prefix = recipe.DefaultPrefix
	}
	if err := checkPath(r.Prefix); err != nil {
		return r, inputerr.New("prefix", r.Prefix, "%v", err)
	}

	if r.Mirror == "" {
		r.Mirror = DefaultMirror
	}
	if r.Mirror, err = normalizeMirror(r.Mirror); err != nil {
		return r, err
	}
	if r.Profile != "" {
		if _, err := recipe.Profile(r.Profile); err != nil {
			return r, inputerr.New("profile", r.Profile, "%v", err)
		}
	}
	if r.Jobs < 0 || r.Jobs > MaxJobs {
		return r, inputerr.New("jobs", strconv.Itoa(r.Jobs), "want 0 (the build container's CPU count) to %d", MaxJobs)
	}
	for pkg := range r.Configure {
		if !catalog.IsPackage(pkg) {
			return r, inputerr.New("configure", pkg, "unknown package: want one of %s", strings.Join(catalog.Packages, ", "))
		}
	}
	return r, nil
}

// Cross reports whether the request is a cross build (a normalized one).
func (r Request) Cross() bool { return r.BuildPlatform != "" && r.BuildPlatform != r.Platform }

// CrossTarget is what platforms.tsv says of a cross build's target.
func (r Request) CrossTarget() (Target, bool) {
	if !r.Cross() {
		return Target{}, false
	}
	return TargetOf(r.Platform)
}

// normalizeMirror accepts an http(s) base URL without query or fragment.
func normalizeMirror(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", inputerr.New("mirror", "", "not a URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", inputerr.New("mirror", s, "want an http:// or https:// base URL")
	}
	if u.User != nil {
		// Never printed (plan --json shows the mirror), never in a cache key.
		return "", inputerr.New("mirror", u.Redacted(), "credentials in the URL are refused: they would be printed and kept with the plan; serve private tarballs from a mirror that needs none (on a trusted network)")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", inputerr.New("mirror", s, "a base URL has no query or fragment")
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// checkArgv refuses empty commands and arguments that carry control bytes.
func checkArgv(argv []string) error {
	if len(argv) == 0 {
		return fmt.Errorf("empty command")
	}
	for _, a := range argv {
		if strings.ContainsAny(a, "\x00\n\r") {
			return fmt.Errorf("argument %q contains a control character", a)
		}
	}
	return nil
}

// TarballURL is where pkg's tarball is fetched from: mirror/<pkg>/<tarball>,
// skarnet's own layout (https://skarnet.org/software/s6/s6-2.1.6.0.tar.gz).
func TarballURL(mirror string, rel catalog.Release) string {
	return mirror + "/" + rel.Package + "/" + url.PathEscape(rel.Tarball)
}

// ParsePlatformToolchains reads PLATFORM=IMAGE entries (the CLI's
// --platform-toolchain, the Dagger module's platformToolchains; field
// names it in refusals) into Request.PlatformToolchains: nil for none.
func ParsePlatformToolchains(field string, entries []string) (map[string]Toolchain, error) {
	var out map[string]Toolchain
	for _, e := range entries {
		p, ref, ok := strings.Cut(e, "=")
		if !ok || p == "" || ref == "" {
			return nil, inputerr.New(field, e, "want PLATFORM=IMAGE, e.g. linux/riscv64=registry.example/toolchain:trixie")
		}
		plats, err := ParsePlatforms(p)
		if err != nil || len(plats) != 1 {
			return nil, inputerr.New(field, e, "%s is not one platform (`{cmd:platforms}` lists them)", p)
		}
		if _, err := reference.ParseNormalizedNamed(ref); err != nil {
			return nil, inputerr.New(field, e, "not an image reference: %v", err)
		}
		if out == nil {
			out = map[string]Toolchain{}
		}
		out[plats[0]] = Toolchain{Image: ref}
	}
	return out, nil
}

// Matrix expands a request whose S6 and Platform are comma-separated
// lists into one request per s6 release and platform, in that order (the
// CLI's --s6 A,B --platform P,Q; the Dagger module's platforms).
func Matrix(req Request) ([]Request, error) {
	plats, err := ParsePlatforms(req.Platform)
	if err != nil {
		return nil, err
	}
	var reqs []Request
	for _, v := range strings.Split(req.S6, ",") {
		for _, p := range plats {
			r := req
			r.S6, r.Platform = v, p
			reqs = append(reqs, r)
		}
	}
	return reqs, nil
}

// OnEngine is the request as an engine whose native platform is native
// runs it: a cross-compiling request (BuildPlatform set) runs its
// compilers there; an emulating one (BuildPlatform "") is left as it is.
func (r Request) OnEngine(native string) Request {
	if r.BuildPlatform != "" {
		r.BuildPlatform = native
	}
	return r
}
