package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/s6builder/s6builder/pipeline/catalog"
	"github.com/s6builder/s6builder/pipeline/inputerr"
	"github.com/s6builder/s6builder/pipeline/recipe"
)

// Kind is what a stage does.
type Kind string

const (
	KindToolchain Kind = "toolchain" // pull an image (and run its setup)
	KindFetch     Kind = "fetch"     // download one tarball, verified by digest
	KindUnpack    Kind = "unpack"    // extract a tarball into /src
	KindBuild     Kind = "build"     // configure, make, strip, install into /out
	KindHeaders   Kind = "headers"   // the toolchain's Linux kernel headers, set apart for a musl compiler
	KindMerge     Kind = "merge"     // overlay the outputs of other stages
	KindTest      Kind = "test"      // run checks against another stage's output
	KindExport    Kind = "export"    // hand a stage's output to the front end
	KindLocal     Kind = "local"     // a directory of the user's, handed over by the front end
	KindPrepare   Kind = "prepare"   // make files for an image with the dist's programs (an s6-rc database)
)

// Stage IDs; per-package stages are "<kind>/<package>".
const (
	IDToolchain = "toolchain"
	IDDist      = "dist"    // merged install trees: bin, sbin, libexec, lib, include
	IDSources   = "sources" // merged unpacked source trees: <pkg>-<version>/
	IDExport    = "export"  // the dist, as handed to the front end
	IDSmoke     = "smoke"   // the supervision smoke test, run on the dist
	// IDKernelHeaders is the toolchain's Linux kernel headers, alone in a
	// directory that packages including <linux/...> get on their include
	// path: a musl compiler does not look where Debian puts them.
	IDKernelHeaders = "kernel-headers"
)

// Paths inside build containers.
const (
	InDir   = "/in"   // fetched tarball, read-only
	SrcDir  = "/src"  // unpacked sources
	OutDir  = "/out"  // DESTDIR of make install
	DepsDir = "/deps" // dependencies' install trees, read-only, /deps/<pkg>
	TmpDir  = "/tmp"  // tmpfs scratch

	KernelHeadersDir = "/kernel-headers" // the kernel-headers stage, read-only
)

// kernelHeadersScript links the toolchain's kernel headers (linux/, asm/
// for its machine, asm-generic/) into the stage's output. A constant:
// nothing from the request reaches it.
const kernelHeadersScript = `set -e; ln -s /usr/include/linux /usr/include/asm-generic ` + OutDir + `/; ` +
	`ln -s "/usr/include/$(gcc -dumpmachine)/asm" ` + OutDir + `/asm`

// emulates is the platform a stage runs programs of, when it does.
func emulates(does bool, platform string) string {
	if does {
		return platform
	}
	return ""
}

// crossKernelHeadersScript is kernelHeadersScript for a cross build: asm/
// of the target, from its linux-libc-dev (Debian multiarch).
func crossKernelHeadersScript(multiarch string) string {
	return `set -e; ln -s /usr/include/linux /usr/include/asm-generic ` + OutDir + `/; ` +
		`ln -s /usr/include/` + multiarch + `/asm ` + OutDir + `/asm`
}

// DefaultPath is the PATH of every step, whatever the image's config says.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Stage is one node of the plan.
type Stage struct {
	ID      string   `json:"id"`
	Kind    Kind     `json:"kind"`
	Package string   `json:"package,omitempty"`
	Version string   `json:"version,omitempty"`
	Deps    []string `json:"deps,omitempty"` // stage IDs this stage reads, in order
	Key     string   `json:"key"`            // sha256 of the inputs below and the deps' keys

	Image *Image `json:"image,omitempty"` // toolchain
	Fetch *Fetch `json:"fetch,omitempty"` // fetch
	Exec  *Exec  `json:"exec,omitempty"`  // unpack, build, prepare
	Local *Local `json:"local,omitempty"` // local
}

// Image is the toolchain: an image and the steps that prepare it.
type Image struct {
	Ref      string `json:"ref"`
	Platform string `json:"platform"`
	Setup    []Step `json:"setup,omitempty"`
}

// Fetch downloads URL to Filename and checks Digest. The URL is not part of
// the key: the content is pinned by the digest, so a mirror serving the same
// bytes reuses the cache (BuildKit keys HTTP sources the same way).
type Fetch struct {
	URL      string `json:"-"`
	Filename string `json:"filename"`
	Digest   string `json:"digest"`
}

// Exec runs Steps in sequence in one container of the toolchain image
// (Argv), with Mounts, a read-only root filesystem (unless WritableRoot), a
// tmpfs at TmpDir and no network; its result is Output.
type Exec struct {
	Env    []string `json:"env"`
	Mounts []Mount  `json:"mounts"`
	Steps  []Step   `json:"steps"`
	Output string   `json:"output"` // the directory whose content is the stage's result
	// AlwaysRun: a test reruns on every request, cached results or not.
	AlwaysRun bool `json:"always_run,omitempty"`
	// Emulates: the steps run programs built for this platform, not the
	// toolchain's: the daemon's host needs an emulator for it (binfmt_misc).
	Emulates string `json:"emulates,omitempty"`
	// WritableRoot: the steps may change the toolchain's root filesystem
	// (a test that installs the dist at /); the changes are not kept.
	WritableRoot bool `json:"writable_root,omitempty"`
	// Toolchain is the toolchain stage the steps run in, one of the
	// stage's deps; "" = IDToolchain.
	Toolchain string `json:"toolchain,omitempty"`
}

// ToolchainID is the toolchain stage e's steps run in.
func (e *Exec) ToolchainID() string {
	if e.Toolchain != "" {
		return e.Toolchain
	}
	return IDToolchain
}

// Mount places the output of stage From at Target, or an empty tmpfs
// (Tmpfs, no From): scratch space that is never part of a result.
type Mount struct {
	Target   string `json:"target"`
	From     string `json:"from,omitempty"`
	Tmpfs    bool   `json:"tmpfs,omitempty"`
	Readonly bool   `json:"readonly,omitempty"`
}

// Step is one command: argv, run in Dir.
type Step struct {
	Name    string   `json:"name"`
	Dir     string   `json:"dir"`
	Args    []string `json:"args"`
	Network bool     `json:"network,omitempty"` // only toolchain setup; an Exec's steps have none
}

// Plan is the DAG for one request, stages in dependency order.
type Plan struct {
	Request   Request           `json:"request"`
	Selection catalog.Selection `json:"-"`
	// SourceDateEpoch is the time of every file of the tarballs an
	// s6-overlay plan makes (0 in a plan of the family's).
	SourceDateEpoch int64    `json:"source_date_epoch,omitempty"`
	Stages          []*Stage `json:"stages"`
}

// Stage returns the stage with the given ID, or nil.
func (p *Plan) Stage(id string) *Stage {
	for _, s := range p.Stages {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// Keys maps stage IDs to keys.
func (p *Plan) Keys() map[string]string {
	m := make(map[string]string, len(p.Stages))
	for _, s := range p.Stages {
		m[s.ID] = s.Key
	}
	return m
}

func fetchID(pkg string) string  { return "fetch/" + pkg }
func unpackID(pkg string) string { return "unpack/" + pkg }
func buildID(pkg string) string  { return "build/" + pkg }

// New plans req against the catalogue cat. It validates everything first and
// does no I/O: a refusal comes before any work.
func New(cat *catalog.Catalog, req Request) (*Plan, error) {
	req, sel, err := resolve(cat, req)
	if err != nil {
		return nil, err
	}
	for _, pkg := range sel.Packages() {
		if rel, _ := sel.Release(pkg); rel.Digest == "" {
			return nil, missingDigest(rel)
		}
	}

	p := &Plan{Request: req, Selection: sel}
	// The toolchain runs on the build platform: the target's, or, for a
	// cross build, the one the cross compiler runs on.
	p.add(toolchainStage(req))

	be := newBuildEnv(req)
	env, cross, isCross := be.env, be.cross, be.isCross
	var builds, unpacks []string
	for _, pkg := range sel.Packages() {
		rel, _ := sel.Release(pkg)
		ver := rel.Version.String()
		p.add(&Stage{ID: fetchID(pkg), Kind: KindFetch, Package: pkg, Version: ver,
			Fetch: &Fetch{URL: TarballURL(req.Mirror, rel), Filename: rel.Tarball, Digest: rel.Digest.String()}})

		unpack := Step{Name: "unpack", Dir: SrcDir,
			Args: []string{"tar", "-xzf", InDir + "/" + rel.Tarball, "-C", SrcDir, "--no-same-owner"}}
		tarball := Mount{Target: InDir, From: fetchID(pkg), Readonly: true}
		// The unpacked tree as a result of its own, for the sources output
		// only: the build unpacks again, in memory.
		p.add(&Stage{ID: unpackID(pkg), Kind: KindUnpack, Package: pkg, Version: ver,
			Deps: []string{IDToolchain, fetchID(pkg)},
			Exec: &Exec{Env: env, Mounts: []Mount{tarball}, Steps: []Step{unpack}, Output: SrcDir}})

		// A build is one container: unpack into a tmpfs, configure, make,
		// strip, install. Its steps have nothing to gain from caches of
		// their own (a change to one reruns all that follow), and every
		// container start and snapshot costs time on the critical path.
		opts := recipe.Options{Static: !req.Dynamic, Extra: req.Configure[pkg], Jobs: req.Jobs, DestDir: OutDir, Prefix: req.Prefix, Target: cross.GNUTriple, Multicall: req.Multicall}
		mounts := []Mount{tarball, {Target: SrcDir, Tmpfs: true}}
		deps := []string{IDToolchain, fetchID(pkg)}
		for _, d := range rel.Links() {
			root := DepsDir + "/" + d
			dep, _ := sel.Release(d)
			opts.Deps = append(opts.Deps, recipe.Dep{Package: d, Version: dep.Version, Root: root})
			mounts = append(mounts, Mount{Target: root, From: buildID(d), Readonly: true})
			deps = append(deps, buildID(d))
		}
		buildEnv := env
		if recipe.NeedsKernelHeaders(pkg, rel.Version) {
			mounts, deps, buildEnv = p.withKernelHeaders(be, mounts, deps)
		}
		r, err := recipe.For(pkg, rel.Version, opts)
		if err != nil {
			return nil, err
		}
		p.add(&Stage{ID: buildID(pkg), Kind: KindBuild, Package: pkg, Version: ver, Deps: deps,
			Exec: buildExec(buildEnv, mounts, unpack, r, req.Platform)})
		builds = append(builds, buildID(pkg))
		unpacks = append(unpacks, unpackID(pkg))
	}
	if req.Profile == "" {
		p.add(&Stage{ID: IDDist, Kind: KindMerge, Deps: builds})
	} else {
		p.add(&Stage{ID: IDDistAll, Kind: KindMerge, Deps: builds})
		st, err := profileStage(sel, req)
		if err != nil {
			return nil, err
		}
		p.add(st)
	}
	p.add(&Stage{ID: IDSources, Kind: KindMerge, Deps: unpacks})
	p.add(&Stage{ID: IDExport, Kind: KindExport, Deps: []string{IDDist}})
	smoke := smokeStage(env, req.Prefix)
	if isCross {
		smoke.Exec.Emulates = req.Platform // the dist's programs run in it
	}
	p.add(smoke)
	return p, nil
}

// buildExec is a package's build, one container: unpack into a tmpfs,
// then the recipe's configure, make, strip and install in the unpacked
// tree; its result is the install tree.
func buildExec(env []string, mounts []Mount, unpack Step, r recipe.Recipe, platform string) *Exec {
	dir := SrcDir + "/" + r.SourceDir
	return &Exec{
		Env:    env,
		Mounts: mounts,
		Steps: []Step{
			unpack,
			{Name: "configure", Dir: dir, Args: r.Configure},
			{Name: "make", Dir: dir, Args: r.Make},
			{Name: "strip", Dir: dir, Args: r.Strip},
			{Name: "install", Dir: dir, Args: r.Install},
		},
		Output:   OutDir,
		Emulates: emulates(r.RunsTargetPrograms, platform),
	}
}

// buildEnv is a normalized request's build environment: CC, PATH and,
// for a cross build, the cross tools' prefix; and how its kernel-headers
// stage finds them.
type buildEnv struct {
	env           []string
	headersScript string
	cross         Target
	isCross       bool
}

func newBuildEnv(req Request) buildEnv {
	b := buildEnv{env: []string{"CC=" + req.CC, "PATH=" + DefaultPath}, headersScript: kernelHeadersScript}
	b.cross, b.isCross = req.CrossTarget()
	if b.isCross {
		// Older configure scripts take the cross tools' prefix from the
		// environment only.
		b.env = append(b.env, "CROSS_COMPILE="+b.cross.GNUTriple+"-")
		b.headersScript = crossKernelHeadersScript(b.cross.Multiarch)
	}
	return b
}

// withKernelHeaders adds the kernel-headers stage (once) and returns a
// build's mounts, deps and environment with it: for a package that
// includes <linux/...>.
func (p *Plan) withKernelHeaders(b buildEnv, mounts []Mount, deps []string) ([]Mount, []string, []string) {
	if p.Stage(IDKernelHeaders) == nil {
		p.add(&Stage{ID: IDKernelHeaders, Kind: KindHeaders, Deps: []string{IDToolchain},
			Exec: &Exec{Env: b.env, Steps: []Step{{Name: "link", Dir: "/", Args: []string{"sh", "-c", b.headersScript}}}, Output: OutDir}})
	}
	return append(mounts, Mount{Target: KernelHeadersDir, From: IDKernelHeaders, Readonly: true}),
		append(deps, IDKernelHeaders),
		append(append([]string{}, b.env...), "CPPFLAGS=-isystem "+KernelHeadersDir)
}

// toolchainStage is the toolchain of a normalized request: its image on
// the build platform, and its setup steps (the only steps with network).
func toolchainStage(req Request) *Stage {
	tc := &Stage{ID: IDToolchain, Kind: KindToolchain, Image: &Image{Ref: req.Toolchain.Image, Platform: req.BuildPlatform}}
	for i, argv := range req.Toolchain.Setup {
		tc.Image.Setup = append(tc.Image.Setup, Step{Name: fmt.Sprintf("setup-%d", i+1), Dir: "/", Args: argv, Network: true})
	}
	return tc
}

// add computes s's key from its content and its deps' keys, then appends it.
// Deps must already be in the plan, which keeps Stages in dependency order.
func (p *Plan) add(s *Stage) {
	parents := make([]string, len(s.Deps))
	for i, id := range s.Deps {
		d := p.Stage(id)
		if d == nil {
			panic("pipeline: stage " + s.ID + " depends on unknown stage " + id)
		}
		parents[i] = id + "=" + d.Key
	}
	s.Key = "" // the key covers everything but itself
	b, err := json.Marshal(struct {
		Stage   *Stage   `json:"stage"`
		Parents []string `json:"parents"`
	}{s, parents})
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	s.Key = hex.EncodeToString(sum[:])
	p.Stages = append(p.Stages, s)
}

func missingDigest(rel catalog.Release) error {
	who := "skarnet publishes none"
	if rel.Package == catalog.Overlay || rel.Package == catalog.OverlayHelpers {
		who = "nobody publishes one for a GitHub tag archive"
	}
	return inputerr.New("", "", "no digest is known for %s: %s and the catalogue has no packager's digest for it.\n"+
		"Supply one with {arg:catalog} FILE, a JSON file such as\n"+
		"  {\"releases\": [{\"package\": %q, \"version\": %q, \"digest\": \"sha256:<hex of %s>\"}]}\n"+
		"(sha256sum %s prints it for a copy you trust)", rel.Tarball, who, rel.Package, rel.Version.String(), rel.Tarball, rel.Tarball)
}
