package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/s-6-builder/internal/dagger"

	"github.com/s6builder/s6builder/pipeline"
	"github.com/s6builder/s6builder/pipeline/catalog"
)

// These tests run the module's functions against the fake engine
// (fake_test.go) and check the Dagger queries they send against the plan
// that pipeline.New makes for the same request, the plan the CLI runs on
// BuildKit: same stages, same digests, same argv, same mounts.

// testToolchain is a toolchain image pinned by digest, as scripts/testenv
// serves one.
const testToolchain = "127.0.0.1:5055/s6builder/toolchain@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// A digest for s6 2.1.5.0, whose tarball has no published digest.
const s6215Digest = "sha256:5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"

// args are the arguments of build and sources.
type args struct {
	s6, skalibs, execline string
	platform              dagger.Platform
	static                bool
	toolchain, mirror     string
	catalog               *dagger.File
	jobs                  int
	with                  []string
	prefix                string
	platforms             []string
	emulate               bool
	platformToolchains    []string
	epoch                 int
	multicall             bool
	profile               string
}

// defaults are the arguments `dagger call build --s6 2.1.6.0` passes.
func defaults(s6 string) args { return args{s6: s6, static: true} }

// module is the module as `dagger call` constructs it from a's
// configuration (the constructor's arguments).
func (a args) module() (*S6Builder, error) {
	return New(a.mirror, a.catalog, a.toolchain, a.platformToolchains, a.jobs, a.static, a.multicall, a.profile, a.prefix, a.emulate, a.epoch)
}

// suite is `dagger call [configuration] suite [what to build]`.
func (a args) suite() (*Suite, error) {
	m, err := a.module()
	if err != nil {
		return nil, err
	}
	return m.Suite(a.s6, a.skalibs, a.execline, a.with, a.platform, a.platforms), nil
}

func (a args) build(ctx context.Context) (*dagger.Directory, error) {
	m, err := a.module()
	if err != nil {
		return nil, err
	}
	return m.Build(ctx, a.s6, a.skalibs, a.execline, a.with, a.platform, a.platforms)
}

func (a args) sources(ctx context.Context) (*dagger.Directory, error) {
	s, err := a.suite()
	if err != nil {
		return nil, err
	}
	return s.Sources(ctx)
}

// cliPlan is the plan `s6builder build` makes for the same arguments
// (cmd/s6builder/request.go), from catalogue JSON catalogJSON when not "".
func cliPlan(t *testing.T, a args, catalogJSON string) *pipeline.Plan {
	t.Helper()
	var layers []pipeline.Layer
	if catalogJSON != "" {
		cf, err := catalog.ParseFile([]byte(catalogJSON))
		require.NoError(t, err)
		layers = append(layers, pipeline.Layer{Source: "--catalog test", File: cf})
	}
	cat, err := pipeline.LoadCatalog(layers...)
	require.NoError(t, err)
	req := pipeline.Request{S6: a.s6, Skalibs: a.skalibs, Execline: a.execline, Platform: string(a.platform),
		Dynamic: !a.static, Mirror: a.mirror, Jobs: a.jobs, Prefix: a.prefix, With: a.with, Multicall: a.multicall, Profile: a.profile}
	if !a.emulate {
		req.BuildPlatform = fakePlatform // the engine's, as the fake answers it
	}
	if a.toolchain != "" {
		req.Toolchain = pipeline.Toolchain{Image: a.toolchain}
	}
	p, err := pipeline.New(cat, req)
	require.NoError(t, err)
	return p
}

// ---- decoding recorded chains into plan terms --------------------------------

type nodeKind string

const (
	nodeEmpty nodeKind = "empty directory"
	nodeFetch nodeKind = "fetch"
	nodeExec  nodeKind = "exec"
	nodeMerge nodeKind = "merge"
)

// node is a recorded chain, read back as a stage of a plan.
type node struct {
	kind nodeKind
	text string // the chain's canonical text

	url, checksum, filename string // fetch

	toolchain toolchainNode // exec
	env       []string
	tmp       string
	mounts    []mountNode
	steps     []stepNode
	output    string

	inputs []*node // merge
}

type toolchainNode struct {
	Platform, Ref string
	Setup         []stepNode
}

type mountNode struct {
	Target   string
	Tmpfs    bool // withMountedTemp
	ReadOnly bool
	Source   *node
}

type stepNode struct {
	Dir  string
	Args []string
}

// onlyArgs fails unless c has exactly the named arguments.
func onlyArgs(t *testing.T, c call, names ...string) {
	t.Helper()
	got := make([]string, 0, len(c.Args))
	for n := range c.Args {
		got = append(got, n)
	}
	require.ElementsMatch(t, names, got, "arguments of %s", c)
}

func str(t *testing.T, c call, name string) string {
	t.Helper()
	s, ok := c.Args[name].(string)
	require.True(t, ok, "%s: argument %s is not a string", c, name)
	return s
}

func sub(t *testing.T, c call, name string) chain {
	t.Helper()
	s, ok := c.Args[name].(chain)
	require.True(t, ok, "%s: argument %s is not an object the module built", c, name)
	return s
}

func strs(t *testing.T, c call, name string) []string {
	t.Helper()
	l, ok := c.Args[name].([]any)
	require.True(t, ok, "%s: argument %s is not a list", c, name)
	out := make([]string, len(l))
	for i, v := range l {
		out[i], ok = v.(string)
		require.True(t, ok, "%s: %s[%d] is not a string", c, name, i)
	}
	return out
}

// decode reads a chain as one of the shapes the module may send; anything
// else fails the test.
func decode(t *testing.T, c chain) *node {
	t.Helper()
	require.NotEmpty(t, c)
	n := &node{text: c.String()}
	switch {
	case c[0].Field == "directory" && len(c) == 1:
		onlyArgs(t, c[0])
		n.kind = nodeEmpty
	case c[0].Field == "directory" && c[1].Field == "withFile":
		// directory().withFile(path: NAME, source: {http(url, checksum)})
		n.kind = nodeFetch
		onlyArgs(t, c[0])
		require.Len(t, c, 2, "fetch chain %s", n.text)
		onlyArgs(t, c[1], "path", "source")
		n.filename = str(t, c[1], "path")
		h := sub(t, c[1], "source")
		require.Len(t, h, 1, "fetch source %s", h)
		require.Equal(t, "http", h[0].Field)
		onlyArgs(t, h[0], "url", "checksum")
		n.url, n.checksum = str(t, h[0], "url"), str(t, h[0], "checksum")
	case c[0].Field == "directory":
		// directory().withDirectory(path: "/", source: IN)...
		n.kind = nodeMerge
		onlyArgs(t, c[0])
		for _, w := range c[1:] {
			require.Equal(t, "withDirectory", w.Field, "merge chain %s", n.text)
			onlyArgs(t, w, "path", "source")
			require.Equal(t, "/", str(t, w, "path"))
			n.inputs = append(n.inputs, decode(t, sub(t, w, "source")))
		}
	case c[0].Field == "container":
		n.kind = nodeExec
		decodeExec(t, c, n)
	default:
		t.Fatalf("unexpected chain %s", n.text)
	}
	return n
}

// decodeExec reads container(platform).from(address) [withWorkdir.withExec]*
// withEnvVariable* withMountedTemp withMountedDirectory* [withWorkdir.withExec]*
// directory(path).
func decodeExec(t *testing.T, c chain, n *node) {
	t.Helper()
	onlyArgs(t, c[0], "platform")
	n.toolchain.Platform = str(t, c[0], "platform")
	require.GreaterOrEqual(t, len(c), 3, "exec chain %s", n.text)
	require.Equal(t, "from", c[1].Field)
	onlyArgs(t, c[1], "address")
	n.toolchain.Ref = str(t, c[1], "address")
	i := 2
	steps := func() []stepNode {
		var out []stepNode
		for i+1 < len(c) && c[i].Field == "withWorkdir" && c[i+1].Field == "withExec" {
			onlyArgs(t, c[i], "path")
			onlyArgs(t, c[i+1], "args")
			out = append(out, stepNode{Dir: str(t, c[i], "path"), Args: strs(t, c[i+1], "args")})
			i += 2
		}
		return out
	}
	n.toolchain.Setup = steps()
	for ; i < len(c) && c[i].Field == "withEnvVariable"; i++ {
		onlyArgs(t, c[i], "name", "value")
		n.env = append(n.env, str(t, c[i], "name")+"="+str(t, c[i], "value"))
	}
	require.Less(t, i, len(c))
	require.Equal(t, "withMountedTemp", c[i].Field, "exec chain %s", n.text)
	onlyArgs(t, c[i], "path")
	n.tmp = str(t, c[i], "path")
	for i++; i < len(c) && (c[i].Field == "withMountedDirectory" || c[i].Field == "withMountedTemp"); i++ {
		if c[i].Field == "withMountedTemp" {
			onlyArgs(t, c[i], "path")
			n.mounts = append(n.mounts, mountNode{Target: str(t, c[i], "path"), Tmpfs: true})
			continue
		}
		m := mountNode{Target: str(t, c[i], "path"), Source: decode(t, sub(t, c[i], "source"))}
		if _, ok := c[i].Args["readOnly"]; ok {
			onlyArgs(t, c[i], "path", "source", "readOnly")
			m.ReadOnly = c[i].Args["readOnly"] == true
			require.True(t, m.ReadOnly, "readOnly: false is the default and is not sent")
		} else {
			onlyArgs(t, c[i], "path", "source")
		}
		n.mounts = append(n.mounts, m)
	}
	n.steps = steps()
	require.Equal(t, len(c)-1, i, "exec chain %s: unexpected %s", n.text, c[min(i, len(c)-1)])
	require.Equal(t, "directory", c[i].Field)
	onlyArgs(t, c[i], "path")
	n.output = str(t, c[i], "path")
}

// bind maps plan stages onto decoded nodes, following the plan's deps from
// stage id and the node's structure, and fails where they disagree in shape.
// A stage reached twice must be the very same chain (character for
// character).
func bind(t *testing.T, p *pipeline.Plan, id string, n *node, seen map[string]*node) {
	t.Helper()
	s := p.Stage(id)
	require.NotNil(t, s, "stage %s", id)
	if prev, ok := seen[id]; ok {
		require.Equal(t, prev.text, n.text, "stage %s is reached through two different chains", id)
		return
	}
	seen[id] = n
	switch s.Kind {
	case pipeline.KindMerge:
		require.Equal(t, nodeMerge, n.kind, "stage %s: %s", id, n.text)
		require.Len(t, n.inputs, len(s.Deps), "stage %s inputs", id)
		for i, dep := range s.Deps {
			bind(t, p, dep, n.inputs[i], seen)
		}
	case pipeline.KindFetch:
		require.Equal(t, nodeFetch, n.kind, "stage %s: %s", id, n.text)
	case pipeline.KindUnpack, pipeline.KindBuild, pipeline.KindTest, pipeline.KindAssemble:
		require.Equal(t, nodeExec, n.kind, "stage %s: %s", id, n.text)
		// Plan mounts in order, then the output, when no mount is there.
		want := len(s.Exec.Mounts)
		if !mounted(s) {
			want++
		}
		require.Len(t, n.mounts, want, "stage %s mounts", id)
		for i, m := range s.Exec.Mounts {
			require.Equal(t, m.Tmpfs, n.mounts[i].Tmpfs, "stage %s mount %s: tmpfs", id, m.Target)
			if !m.Tmpfs {
				bind(t, p, m.From, n.mounts[i].Source, seen)
			}
		}
		if tc, ok := seen[pipeline.IDToolchain]; ok {
			require.Equal(t, tc.toolchain, n.toolchain, "stage %s runs in another toolchain", id)
		} else {
			seen[pipeline.IDToolchain] = &node{toolchain: n.toolchain}
		}
	default:
		t.Fatalf("stage %s of kind %s has no Dagger chain", id, s.Kind)
	}
}

func mounted(s *pipeline.Stage) bool {
	for _, m := range s.Exec.Mounts {
		if m.Target == s.Exec.Output {
			return true
		}
	}
	return false
}

func steps(ss []pipeline.Step) []stepNode {
	var out []stepNode
	for _, s := range ss {
		out = append(out, stepNode{Dir: s.Dir, Args: s.Args})
	}
	return out
}

// checkStages binds the node of stage root and compares every stage it
// reaches with the plan, stage by stage in the plan's (dependency) order. It
// returns the nodes by stage ID.
func checkStages(t *testing.T, p *pipeline.Plan, root string, n *node) map[string]*node {
	t.Helper()
	seen := map[string]*node{}
	bind(t, p, root, n, seen)
	for _, s := range p.Stages {
		n, ok := seen[s.ID]
		if !ok {
			continue
		}
		t.Run(s.ID, func(t *testing.T) {
			switch s.Kind {
			case pipeline.KindToolchain:
				assert.Equal(t, toolchainNode{Platform: s.Image.Platform, Ref: s.Image.Ref, Setup: steps(s.Image.Setup)}, n.toolchain)
			case pipeline.KindFetch:
				assert.Equal(t, s.Fetch.URL, n.url)
				assert.Equal(t, s.Fetch.Digest, n.checksum)
				assert.Equal(t, s.Fetch.Filename, n.filename)
			case pipeline.KindUnpack, pipeline.KindBuild, pipeline.KindTest:
				assert.Equal(t, s.Exec.Env, n.env)
				assert.Equal(t, pipeline.TmpDir, n.tmp)
				for i, m := range s.Exec.Mounts {
					assert.Equal(t, m.Target, n.mounts[i].Target, "mount %d", i)
					assert.Equal(t, m.Readonly, n.mounts[i].ReadOnly, "mount %s read-only", m.Target)
					assert.Equal(t, m.Tmpfs, n.mounts[i].Tmpfs, "mount %s tmpfs", m.Target)
				}
				if !mounted(s) {
					out := n.mounts[len(n.mounts)-1]
					assert.Equal(t, s.Exec.Output, out.Target)
					assert.False(t, out.ReadOnly)
					assert.Equal(t, nodeEmpty, out.Source.kind, "the output starts empty")
				}
				// One withExec runs the steps in sequence, as one ExecOp does.
				argv, dir := s.Exec.Argv()
				assert.Equal(t, []stepNode{{Dir: dir, Args: argv}}, n.steps)
				assert.Equal(t, s.Exec.Output, n.output)
				assert.True(t, strings.HasSuffix(n.text, `.directory(path: "`+s.Exec.Output+`")`), n.text)
			case pipeline.KindMerge:
				// Inputs were bound in order by bind.
			}
		})
	}
	return seen
}

func ids(m map[string]*node) []string {
	var out []string
	for id := range m {
		out = append(out, id)
	}
	return out
}

// ---- tests -------------------------------------------------------------------

// TestBuildDescribesThePlan: the query behind build's result describes the
// plan's stages, digests and argv, stage by stage.
func TestBuildDescribesThePlan(t *testing.T) {
	arm := defaults("2.1.6.0")
	arm.platform, arm.static, arm.jobs, arm.mirror = "linux/arm64", false, 3, "http://127.0.0.1:8055/"
	for name, a := range map[string]args{
		"toolchain image": {s6: "2.1.6.0", static: true, toolchain: testToolchain},
		"default toolchain, dynamic, arm64, mirror": arm,
		"a family member, multicall":                {s6: "2.15.1.0", static: true, with: []string{"s6-portable-utils"}, multicall: true},
		"the pid1 profile":                          {s6: "2.1.6.0", static: true, toolchain: testToolchain, profile: "pid1"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			fake.reset()
			dist, err := a.build(ctx)
			require.NoError(t, err)
			id, err := dist.ID(ctx)
			require.NoError(t, err)

			p := cliPlan(t, a, "")
			dn := decode(t, fake.chainOf(t, string(id)))
			seen := checkStages(t, p, exported(p), dn)

			// The builds unpack for themselves: no unpack stage behind the dist.
			want := []string{pipeline.IDToolchain, pipeline.IDDist}
			if a.profile != "" {
				want = append(want, pipeline.IDDistAll) // the profile's stage copies from it
			}
			for _, pkg := range p.Selection.Packages() {
				want = append(want, "fetch/"+pkg, "build/"+pkg)
			}
			assert.ElementsMatch(t, want, ids(seen), "stages behind build's result")

			// One http per tarball, with the catalogue's checksum.
			cat, err := pipeline.LoadCatalog()
			require.NoError(t, err)
			for _, pkg := range p.Selection.Packages() {
				picked, _ := p.Selection.Release(pkg)
				rel, err := cat.Lookup(pkg, picked.Version)
				require.NoError(t, err)
				f := seen["fetch/"+pkg]
				assert.Equal(t, rel.Digest.String(), f.checksum, pkg)
				assert.Equal(t, pipeline.TarballURL(p.Request.Mirror, rel), f.url, pkg)
			}
			raw := strings.Join(fake.recorded(), "\n")
			assert.Equal(t, len(p.Selection.Packages()), strings.Count(raw, "http("), "http calls sent: one per tarball")
			for _, pkg := range p.Selection.Packages() {
				assert.Contains(t, raw, `checksum:"`+p.Stage("fetch/"+pkg).Fetch.Digest+`"`)
			}
			assert.Contains(t, raw, `from(address:"`+p.Stage(pipeline.IDToolchain).Image.Ref+`")`)
			for _, pkg := range p.Selection.Packages() {
				assert.True(t, strings.HasSuffix(seen["build/"+pkg].text, `.directory(path: "/out")`))
			}
		})
	}
}

// TestBuildToolchainImage pins the mapping of the toolchain argument: the
// image replaces the default one, with no setup steps; without it, the
// default image and its setup steps, each a withExec.
func TestBuildToolchainImage(t *testing.T) {
	ctx := context.Background()
	a := defaults("2.1.6.0")
	a.toolchain = testToolchain
	dist, err := a.build(ctx)
	require.NoError(t, err)
	id, err := dist.ID(ctx)
	require.NoError(t, err)
	tc := decode(t, fake.chainOf(t, string(id))).inputs[0].toolchain
	assert.Equal(t, testToolchain, tc.Ref)
	assert.Empty(t, tc.Setup)

	dist, err = defaults("2.1.6.0").build(ctx)
	require.NoError(t, err)
	id, err = dist.ID(ctx)
	require.NoError(t, err)
	tc = decode(t, fake.chainOf(t, string(id))).inputs[0].toolchain
	def := pipeline.DefaultToolchain()
	assert.Equal(t, def.Image, tc.Ref)
	require.Len(t, tc.Setup, len(def.Setup))
	for i, argv := range def.Setup {
		assert.Equal(t, stepNode{Dir: "/", Args: argv}, tc.Setup[i])
	}
}

// TestSourcesDescribesThePlan: sources is the plan's "sources" merge of the
// unpacked trees.
func TestSourcesDescribesThePlan(t *testing.T) {
	ctx := context.Background()
	a := defaults("2.1.6.0")
	a.toolchain = testToolchain
	src, err := a.sources(ctx)
	require.NoError(t, err)
	id, err := src.ID(ctx)
	require.NoError(t, err)
	p := cliPlan(t, a, "")
	seen := checkStages(t, p, pipeline.IDSources, decode(t, fake.chainOf(t, string(id))))
	want := []string{pipeline.IDToolchain, pipeline.IDSources}
	for _, pkg := range p.Selection.Packages() {
		want = append(want, "fetch/"+pkg, "unpack/"+pkg)
	}
	assert.ElementsMatch(t, want, ids(seen))
}

// TestS6OnlyChange: building another s6 with the same skalibs and execline
// sends the same skalibs and execline chains, character for character (so
// the engine reuses their cache), and a different s6 chain.
func TestS6OnlyChange(t *testing.T) {
	ctx := context.Background()
	catalogJSON := `{"releases": [{"package": "s6", "version": "2.1.5.0", "digest": "` + s6215Digest + `"}]}`

	old := defaults("2.1.5.0")
	old.toolchain = testToolchain
	old.catalog = dag.File("catalog.json", catalogJSON)
	oldDist, err := old.build(ctx)
	require.NoError(t, err)
	oldID, err := oldDist.ID(ctx)
	require.NoError(t, err)

	cur := defaults("2.1.6.0")
	cur.toolchain = testToolchain
	curDist, err := cur.build(ctx)
	require.NoError(t, err)
	curID, err := curDist.ID(ctx)
	require.NoError(t, err)

	// Both describe their plans; 2.1.5.0's comes from the catalogue file.
	oldNodes := checkStages(t, cliPlan(t, old, catalogJSON), pipeline.IDDist, decode(t, fake.chainOf(t, string(oldID))))
	curNodes := checkStages(t, cliPlan(t, cur, ""), pipeline.IDDist, decode(t, fake.chainOf(t, string(curID))))
	assert.Equal(t, s6215Digest, oldNodes["fetch/s6"].checksum)

	for _, id := range []string{"fetch/skalibs", "build/skalibs", "fetch/execline", "build/execline"} {
		assert.Equal(t, curNodes[id].text, oldNodes[id].text, "%s changed with s6 only", id)
	}
	for _, id := range []string{"fetch/s6", "build/s6", pipeline.IDDist} {
		assert.NotEqual(t, curNodes[id].text, oldNodes[id].text, "%s", id)
	}
	// The s6 chains differ by version only.
	assert.Equal(t, curNodes["build/s6"].text,
		strings.ReplaceAll(strings.ReplaceAll(oldNodes["build/s6"].text, s6215Digest, cliPlan(t, cur, "").Stage("fetch/s6").Fetch.Digest), "2.1.5.0", "2.1.6.0"))
}

// TestBadArgumentsSendNoQuery: what pipeline.New refuses is refused before
// the module sends the engine anything.
func TestBadArgumentsSendNoQuery(t *testing.T) {
	ctx := context.Background()
	mod := func(f func(*args)) args {
		a := defaults("2.1.6.0")
		f(&a)
		return a
	}
	for name, tc := range map[string]struct {
		args args
		want string
	}{
		"malformed version":    {mod(func(a *args) { a.s6 = "2.1.6" }), "2.1.6"},
		"unknown release":      {mod(func(a *args) { a.s6 = "9.9.9.9" }), "unknown s6 release 9.9.9.9"},
		"no digest":            {mod(func(a *args) { a.s6 = "2.1.5.0" }), "no digest is known for s6-2.1.5.0.tar.gz"},
		"incompatible skalibs": {mod(func(a *args) { a.skalibs = "2.14.0.0" }), "does not work with s6 2.1.6.0"},
		"empty s6":             {mod(func(a *args) { a.s6 = "" }), "--s6: an empty value; give the s6 release, e.g. --s6 2.1.6.0 (`dagger call versions` lists them)"},
		"unknown member":       {mod(func(a *args) { a.with = []string{"runit"} }), `--with "runit": not a package of the family`},
		"member too new":       {mod(func(a *args) { a.with = []string{"s6-rc"} }), `--with "s6-rc": no s6-rc release works with skalibs 2.3.5.1, execline 2.1.2.2, s6 2.1.6.0`},
		"mirror scheme":        {mod(func(a *args) { a.mirror = "ftp://mirror.example.org/skarnet" }), "--mirror"},
		"mirror query":         {mod(func(a *args) { a.mirror = "https://mirror.example.org/?x=1" }), "--mirror"},
		"platform os":          {mod(func(a *args) { a.platform = "windows/amd64" }), "--platform"},
		"platform syntax":      {mod(func(a *args) { a.platform = "linux/amd64/v3/x" }), "--platform"},
		"toolchain":            {mod(func(a *args) { a.toolchain = "Not An Image" }), "--toolchain"},
		"jobs":                 {mod(func(a *args) { a.jobs = -1 }), "--jobs"},
		// Refused before the catalogue file is read.
		"platform, with a catalogue": {mod(func(a *args) {
			a.platform = "windows/amd64"
			a.catalog = dag.File("catalog.json", `{"releases": []}`)
		}), "--platform"},
	} {
		t.Run(name, func(t *testing.T) {
			for fn, call := range map[string]func(args, context.Context) (*dagger.Directory, error){
				"build": args.build, "sources": args.sources,
			} {
				fake.reset()
				d, err := call(tc.args, ctx)
				require.Error(t, err, fn)
				assert.Nil(t, d)
				assert.Contains(t, err.Error(), tc.want, fn)
				assert.Empty(t, fake.recorded(), "%s sent queries", fn)
			}
		})
	}
}

// TestCatalogueErrors: a bad catalogue file is refused after its read, the
// only query sent.
func TestCatalogueErrors(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct{ json, want string }{
		"not JSON":      {`releases: []`, "not a catalogue"},
		"unknown field": {`{"releases": [{"package": "s6", "version": "2.1.6.0", "sha": "x"}]}`, "unknown field"},
		"bad digest":    {`{"releases": [{"package": "s6", "version": "2.1.6.0", "digest": "md5:00"}]}`, "digest"},
		// Dagger's http checks sha256 only: refused before any fetch.
		"sha512 digest": {`{"releases": [{"package": "s6", "version": "2.1.6.0", "digest": "sha512:` + strings.Repeat("ab", 64) + `"}]}`,
			"Dagger verifies downloads by sha256 only"},
	} {
		t.Run(name, func(t *testing.T) {
			fake.reset()
			a := defaults("2.1.6.0")
			a.catalog = dag.File("catalog.json", tc.json)
			_, err := a.build(ctx)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			// A catalogue that parses is planned, and a plan asks the
			// engine's platform (newPlan): not a read of anything.
			q := slices.DeleteFunc(fake.recorded(), func(q string) bool { return q == "query Query {defaultPlatform}" })
			require.Len(t, q, 1)
			assert.Contains(t, q[0], "file(")
			assert.Contains(t, q[0], "{contents}")

			fake.reset()
			m, err := a.module()
			require.NoError(t, err)
			_, err = m.Versions(ctx)
			if name == "sha512 digest" {
				assert.NoError(t, err, "the catalogue itself is valid")
			} else {
				assert.Error(t, err)
			}
			assert.Len(t, fake.recorded(), 1)
		})
	}
}

// TestVersions: the table is catalog.WriteTable's, with the catalogue file
// applied when one is given.
func TestVersions(t *testing.T) {
	ctx := context.Background()
	cat, err := pipeline.LoadCatalog()
	require.NoError(t, err)
	var want strings.Builder
	require.NoError(t, cat.WriteTable(&want))

	fake.reset()
	m, err := args{static: true}.module()
	require.NoError(t, err)
	got, err := m.Versions(ctx)
	require.NoError(t, err)
	assert.Equal(t, want.String(), got)
	assert.Empty(t, fake.recorded(), "versions without a catalogue asks the engine nothing")

	catalogJSON := `{"releases": [{"package": "s6", "version": "2.1.5.0", "digest": "` + s6215Digest + `"}]}`
	cf, err := catalog.ParseFile([]byte(catalogJSON))
	require.NoError(t, err)
	cat.Apply(cf, catalogSource)
	want.Reset()
	require.NoError(t, cat.WriteTable(&want))
	m, err = args{static: true, catalog: dag.File("catalog.json", catalogJSON)}.module()
	require.NoError(t, err)
	got, err = m.Versions(ctx)
	require.NoError(t, err)
	assert.Equal(t, want.String(), got)
	assert.Contains(t, got, s6215Digest[:19]+"...")
}

// TestTranslateRefusesBrokenPlans: a plan the translation cannot follow is
// an error, not a half-built graph.
func TestTranslateRefusesBrokenPlans(t *testing.T) {
	p := cliPlan(t, args{s6: "2.1.6.0", static: true, toolchain: testToolchain}, "")
	noToolchain := &pipeline.Plan{Stages: p.Stages[1:]}
	_, err := translate(noToolchain, pipeline.IDDist)
	assert.ErrorContains(t, err, `no stage "toolchain"`)

	unknown := &pipeline.Plan{Stages: []*pipeline.Stage{{ID: "x", Kind: "mystery"}}}
	for _, s := range p.Stages {
		c := *s
		if c.ID == "build/s6" {
			c.Deps = append(append([]string{}, c.Deps...), "x")
		}
		unknown.Stages = append(unknown.Stages, &c)
	}
	_, err = translate(unknown, pipeline.IDDist)
	assert.ErrorContains(t, err, `stage x: kind "mystery" with nothing to translate`)
	_, err = translate(unknown, "unpack/s6")
	assert.NoError(t, err, "only the stages the result needs are translated")

	_, err = translate(p, pipeline.IDExport)
	assert.ErrorContains(t, err, "front end")
}

// TestKnownFields: a plan field the translation does not know is refused
// unless unset.
func TestKnownFields(t *testing.T) {
	type exec struct {
		Env       []string `json:"env"`
		AlwaysRun bool     `json:"always_run,omitempty"`
		Priority  int      `json:"priority"`
	}
	assert.NoError(t, knownFields(exec{Env: []string{"A=1"}}, "env"))
	assert.ErrorContains(t, knownFields(exec{AlwaysRun: true, Priority: 2}, "env"),
		"the plan sets always_run, priority, which the Dagger module does not translate")
}

// TestEveryStageTranslates: every stage of the plan with a result translates,
// or is refused for a plan field the module does not translate (named in the
// error), never dropped silently.
func TestEveryStageTranslates(t *testing.T) {
	p := cliPlan(t, args{s6: "2.1.6.0", static: true}, "")
	fake.reset()
	for _, s := range p.Stages {
		if s.Kind == pipeline.KindExport || s.ID == pipeline.IDToolchain {
			continue
		}
		_, err := translate(p, s.ID)
		if err != nil {
			assert.ErrorContains(t, err, "which the Dagger module does not translate", s.ID)
			t.Logf("%s (kind %s): %v", s.ID, s.Kind, err)
		}
	}
	assert.Empty(t, fake.recorded(), "translating sends nothing")
}

// TestPlatforms: the table is pipeline's, and asks the engine nothing.
func TestPlatforms(t *testing.T) {
	var want strings.Builder
	require.NoError(t, pipeline.WritePlatforms(&want))
	fake.reset()
	got, err := (&S6Builder{}).Platforms()
	require.NoError(t, err)
	assert.Equal(t, want.String(), got)
	assert.Contains(t, got, "linux/arm/v7")
	assert.Empty(t, fake.recorded())
}

// TestBuildPlatforms: a list of platforms gives one directory holding each
// platform's dist at <os>_<arch>[_<variant>]/ (s6-overlay's names taken),
// each the dist the CLI's plan for that platform describes, cross-compiled
// on the engine's platform; emulate builds each on its own platform.
func TestBuildPlatforms(t *testing.T) {
	ctx := context.Background()
	for _, emulate := range []bool{false, true} {
		a := defaults("2.1.6.0")
		a.toolchain, a.platforms, a.emulate = testToolchain, []string{"aarch64", "linux/arm/v7"}, emulate
		fake.reset()
		all, err := a.build(ctx)
		require.NoError(t, err)
		text := chainText(t, ctx, all)
		for _, p := range []string{"linux/arm64", "linux/arm/v7"} {
			one := a
			one.platforms, one.platform = nil, dagger.Platform(p)
			dist, err := one.build(ctx)
			require.NoError(t, err)
			assert.Contains(t, text, `withDirectory(path: "`+pipeline.PlatformDir(p)+`", source: {`+chainText(t, ctx, dist)+`})`, p)

			plan := cliPlan(t, one, "")
			checkStages(t, plan, exported(plan), decode(t, fake.chainOf(t, idOf(t, ctx, dist))))
			assert.Equal(t, !emulate, plan.Request.Cross(), p)
			build := plan.Stage("build/s6").Exec.Step("configure").Args
			assert.Equal(t, !emulate, slices.ContainsFunc(build, func(s string) bool { return strings.HasPrefix(s, "--target=") }), "%s: %v", p, build)
		}
	}

	// A list of one is that platform's dist itself, as in the CLI.
	a := defaults("2.1.6.0")
	a.platforms = []string{"armhf"}
	one, err := a.build(ctx)
	require.NoError(t, err)
	b := defaults("2.1.6.0")
	b.platform = "linux/arm/v7"
	same, err := b.build(ctx)
	require.NoError(t, err)
	assert.Equal(t, chainText(t, ctx, same), chainText(t, ctx, one))

	// Refused before the engine is asked anything.
	for name, tc := range map[string]struct {
		a    func(*args)
		want string
	}{
		"both":      {func(a *args) { a.platform, a.platforms = "linux/arm64", []string{"linux/arm64", "linux/amd64"} }, "give either --platform or --platforms, not both"},
		"twice":     {func(a *args) { a.platforms = []string{"aarch64", "linux/arm64"} }, "linux/arm64 is given twice"},
		"i486":      {func(a *args) { a.platforms = []string{"x86_64", "i486"} }, "i686 and up"},
		"not linux": {func(a *args) { a.platforms = []string{"linux/amd64", "windows/amd64"} }, "s6 builds for linux only"},
	} {
		a := defaults("2.1.6.0")
		tc.a(&a)
		fake.reset()
		d, err := a.build(ctx)
		require.Error(t, err, name)
		assert.Nil(t, d)
		assert.Contains(t, err.Error(), tc.want, name)
		assert.Empty(t, fake.recorded(), name)
	}
}

// TestReleaseRefusesBadArgumentsBeforeAnyQuery: release's request is
// checked as build's, and its own arguments too, before the engine is asked
// anything.
func TestReleaseRefusesBadArgumentsBeforeAnyQuery(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		s6        string
		platforms []string
		epoch     int
		want      string
	}{
		"unknown release": {"9.9.9.9", []string{"linux/amd64"}, 0, "unknown s6 release 9.9.9.9"},
		"bad platform":    {"2.1.6.0", []string{"linux/amd64", "i486"}, 0, "i686 and up"},
		"negative epoch":  {"2.1.6.0", []string{"linux/amd64"}, -1, `--source-date-epoch "-1": want seconds since 1970`},
	} {
		fake.reset()
		a := args{s6: tc.s6, platforms: tc.platforms, static: true, toolchain: testToolchain, epoch: tc.epoch}
		d, err := func() (*dagger.Directory, error) {
			s, err := a.suite()
			if err != nil {
				return nil, err
			}
			return s.Release(ctx)
		}()
		require.Error(t, err, name)
		assert.Nil(t, d)
		assert.Contains(t, err.Error(), tc.want, name)
		assert.Empty(t, slices.DeleteFunc(fake.recorded(), func(q string) bool { return q == "query Query {defaultPlatform}" }), name)
	}
}
