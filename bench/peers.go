package main

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/opencontainers/go-digest"
	"github.com/tonistiigi/fsutil"

	"github.com/s6builder/s6builder/pipeline"
)

// The peers run the plan's own build stages (its configure flags, its
// environment, its make and install commands) in other ways: a Dockerfile
// through BuildKit's frontend, the seed's one container, and the host.

// buildStages are p's package builds and its kernel-headers stage, in the
// plan's order (a stage after the stages it depends on).
func buildStages(p *pipeline.Plan) []*pipeline.Stage {
	var out []*pipeline.Stage
	for _, st := range p.Stages {
		if st.Kind == pipeline.KindBuild || st.ID == pipeline.IDKernelHeaders {
			out = append(out, st)
		}
	}
	return out
}

// builtFrom are the build stages st mounts (its /deps and the kernel headers).
func builtFrom(p *pipeline.Plan, st *pipeline.Stage) []*pipeline.Stage {
	var out []*pipeline.Stage
	for _, d := range st.Deps {
		if dep := p.Stage(d); dep != nil && (dep.Kind == pipeline.KindBuild || dep.ID == pipeline.IDKernelHeaders) {
			out = append(out, dep)
		}
	}
	return out
}

//go:embed Dockerfile.tmpl
var dockerfileTemplate string

// dockerfileStage is one package's stage of the Dockerfile.
type dockerfileStage struct {
	Name, Tarball, Digest, Dir, Flags string
	Env                               []string
	Deps                              []string // stages whose /out it copies to /deps/NAME
	KernelHeaders                     bool
}

// dockerfile renders Dockerfile.tmpl for p: one stage per package, as a
// user writes one, with the plan's flags and environment.
func dockerfile(p *pipeline.Plan) (string, error) {
	var data struct {
		KernelHeaders string
		Packages      []dockerfileStage
	}
	for _, st := range buildStages(p) {
		if st.ID == pipeline.IDKernelHeaders {
			data.KernelHeaders = strings.Join(st.Exec.Steps[0].Args[2:], " ")
			continue
		}
		f := p.Stage("fetch/" + st.Package).Fetch
		s := dockerfileStage{Name: st.Package, Tarball: f.Filename, Digest: f.Digest,
			Dir: path.Base(st.Exec.Step("configure").Dir), Flags: strings.Join(st.Exec.Step("configure").Args[1:], " ")}
		for _, e := range st.Exec.Env {
			if k, v, _ := strings.Cut(e, "="); k != "PATH" {
				s.Env = append(s.Env, k+"="+strconv.Quote(v)) // a value with spaces is one
			}
		}
		for _, dep := range builtFrom(p, st) {
			if dep.ID == pipeline.IDKernelHeaders {
				s.KernelHeaders = true
			} else {
				s.Deps = append(s.Deps, dep.Package)
			}
		}
		data.Packages = append(data.Packages, s)
	}
	t, err := template.New("Dockerfile").Funcs(template.FuncMap{"quote": quote}).Parse(dockerfileTemplate)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	err = t.Execute(&b, data)
	return b.String(), err
}

func (b *bench) dockerfile(p *pipeline.Plan) (time.Duration, error) {
	text, err := dockerfile(p)
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "bench-dockerfile-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(text), 0o644); err != nil {
		return 0, err
	}
	ctxFS, err := fsutil.NewFS(dir)
	if err != nil {
		return 0, err
	}
	out := filepath.Join(dir, "out")
	attrs := map[string]string{"filename": "Dockerfile", "target": "dist",
		"build-arg:TOOLCHAIN": b.toolchain, "build-arg:MIRROR": b.mirror.URL}
	start := time.Now()
	_, err = b.c.Solve(b.ctx, nil, client.SolveOpt{Frontend: "dockerfile.v0", FrontendAttrs: attrs,
		LocalMounts: map[string]fsutil.FS{"context": ctxFS, "dockerfile": ctxFS},
		Exports:     []client.ExportEntry{{Type: client.ExporterLocal, OutputDir: out}}}, nil)
	return time.Since(start), err
}

// quote is s as one sh word.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// stageScript is st's steps as sh, with the plan's environment and the
// paths of its mounts moved by rebase (/in, /src, /deps/..., the kernel
// headers and /out to where this peer keeps them). serialInstall replaces
// the plan's parallel install with `make install`, as the seed did.
func stageScript(st *pipeline.Stage, rebase func(string) string, serialInstall bool) string {
	var s strings.Builder
	fmt.Fprintf(&s, "set -e\nmkdir -p %s\n", quote(rebase("/out")))
	for _, e := range st.Exec.Env {
		if !strings.HasPrefix(e, "PATH=") {
			k, v, _ := strings.Cut(e, "=")
			fmt.Fprintf(&s, "export %s=%s\n", k, quote(rebase(v)))
		}
	}
	for _, step := range st.Exec.Steps {
		args := step.Args
		if serialInstall && step.Name == "install" {
			args = []string{"make", "install", "DESTDIR=/out"}
		}
		words := make([]string, len(args))
		for i, a := range args {
			words[i] = quote(rebase(a))
		}
		fmt.Fprintf(&s, "mkdir -p %s && cd %s\n%s\n", quote(rebase(step.Dir)), quote(rebase(step.Dir)), strings.Join(words, " "))
	}
	return s.String()
}

// rebaser moves the paths of st's mounts (and its output /out) under
// root: /in to root/in, /src to root/src/PKG, /deps/X and /kernel-headers
// to the outputs of those stages (root/out/STAGE), /out to its own.
func rebaser(p *pipeline.Plan, st *pipeline.Stage, root string) func(string) string {
	out := func(s *pipeline.Stage) string { return filepath.Join(root, "out", strings.ReplaceAll(s.ID, "/", "-")) }
	moves := map[string]string{"/in": filepath.Join(root, "in"), "/src": filepath.Join(root, "src", st.Package), "/out": out(st)}
	for _, m := range st.Exec.Mounts {
		if dep := p.Stage(m.From); dep != nil && (dep.Kind == pipeline.KindBuild || dep.ID == pipeline.IDKernelHeaders) {
			moves[m.Target] = out(dep)
		}
	}
	targets := make([]string, 0, len(moves))
	for t := range moves {
		targets = append(targets, t)
	}
	// Longest first: /deps/s6-dns before /deps/s6.
	slices.SortFunc(targets, func(a, b string) int { return len(b) - len(a) })
	res := make([]*regexp.Regexp, len(targets))
	for i, t := range targets {
		res[i] = regexp.MustCompile(`(^|[=\s])` + regexp.QuoteMeta(t) + `(/|$|\s)`)
	}
	return func(s string) string {
		for i, re := range res {
			s = re.ReplaceAllString(s, "${1}"+moves[targets[i]]+"${2}")
		}
		return s
	}
}

// seedWay runs every stage in one container, one after the other, every
// time (no cache), installing serially: the old approach.
func (b *bench) seedWay(p *pipeline.Plan) (time.Duration, error) {
	var s strings.Builder
	for _, st := range buildStages(p) {
		fmt.Fprintf(&s, "(\n%s)\n", stageScript(st, rebaser(p, st, "/w"), true))
	}
	spec := platforms.DefaultSpec()
	run := llb.Image(b.toolchain, llb.Platform(spec)).Run(llb.Args([]string{"sh", "-ec", s.String()}),
		llb.Network(llb.NetModeNone), llb.IgnoreCache)
	for _, st := range buildStages(p) {
		if f := p.Stage("fetch/" + st.Package); f != nil {
			run.AddMount("/w/in/"+f.Fetch.Filename, llb.HTTP(f.Fetch.URL, llb.Checksum(digest.Digest(f.Fetch.Digest)), llb.Filename(f.Fetch.Filename)),
				llb.SourcePath(f.Fetch.Filename), llb.Readonly)
		}
	}
	def, err := run.Root().Marshal(b.ctx, llb.Platform(spec))
	if err != nil {
		return 0, err
	}
	start := time.Now()
	_, err = b.c.Solve(b.ctx, def, client.SolveOpt{}, nil)
	return time.Since(start), err
}

// host runs the plan's stages with the host's own compilers, no
// containers, as an ideal scheduler on this machine would: every stage
// starts as soon as the stages it builds on are done (independent
// packages at the same time), each with the plan's make -j and parallel
// install. The downloads come first and are not timed.
func (b *bench) host(p *pipeline.Plan) (time.Duration, error) {
	if _, err := exec.LookPath("musl-gcc"); err != nil {
		return 0, fmt.Errorf("musl-gcc is not installed on the host (apt-get install musl-tools)")
	}
	root, err := os.MkdirTemp("", "bench-host-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(root)
	if err := os.MkdirAll(filepath.Join(root, "in"), 0o755); err != nil {
		return 0, err
	}
	stages := buildStages(p)
	for _, st := range stages {
		if f := p.Stage("fetch/" + st.Package); f != nil {
			if err := download(f.Fetch.URL, filepath.Join(root, "in", f.Fetch.Filename)); err != nil {
				return 0, err
			}
		}
	}
	done := map[string]chan struct{}{}
	for _, st := range stages {
		done[st.ID] = make(chan struct{})
	}
	errs := make(chan error, len(stages))
	start := time.Now()
	for _, st := range stages {
		go func() {
			for _, dep := range builtFrom(p, st) {
				<-done[dep.ID]
			}
			cmd := exec.Command("sh", "-c", stageScript(st, rebaser(p, st, root), false))
			cmd.Env = os.Environ()
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("%s: %v: %s", st.ID, err, tail(string(out)))
				return // its dependents wait forever; the first error ends the run
			}
			close(done[st.ID])
			errs <- nil
		}()
	}
	for range stages {
		if err := <-errs; err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}
