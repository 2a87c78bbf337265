// Package buildkit is the BuildKit adapter: it translates a pipeline.Plan
// into LLB, one op per stage, solves it on a BuildKit daemon and exports the
// result. It adds nothing to the plan: what is built, with which argv and
// which digests, is decided in package pipeline.
package buildkit

import (
	"fmt"
	"strings"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/opencontainers/go-digest"

	"github.com/s6builder/s6builder/pipeline"
)

// States returns the LLB state of every stage of p that has one (all but
// the export stage), keyed by stage ID.
func States(p *pipeline.Plan) (map[string]llb.State, error) {
	st := make(map[string]llb.State, len(p.Stages))
	for _, s := range p.Stages {
		switch s.Kind {
		case pipeline.KindToolchain:
			spec, err := platforms.Parse(s.Image.Platform)
			if err != nil {
				return nil, err
			}
			img := llb.Image(s.Image.Ref, llb.Platform(spec), vertexName(s, pullPrefix+s.Image.Ref))
			for _, step := range s.Image.Setup {
				img = img.Run(llb.Args(step.Args), llb.Dir(step.Dir), network(step),
					vertexName(s, step.Name+": "+strings.Join(step.Args, " "))).Root()
			}
			st[s.ID] = img
		case pipeline.KindFetch:
			st[s.ID] = llb.HTTP(s.Fetch.URL, llb.Checksum(digest.Digest(s.Fetch.Digest)),
				llb.Filename(s.Fetch.Filename), vertexName(s, fetchPrefix+s.Fetch.Filename))
		case pipeline.KindLocal:
			st[s.ID] = llb.Local(s.Local.Name, vertexName(s, "local "+s.Local.Name))
		case pipeline.KindUnpack, pipeline.KindBuild, pipeline.KindHeaders, pipeline.KindTest, pipeline.KindPrepare, pipeline.KindAssemble:
			out, err := execState(s, st)
			if err != nil {
				return nil, err
			}
			st[s.ID] = out
		case pipeline.KindMerge:
			inputs := make([]llb.State, len(s.Deps))
			for i, id := range s.Deps {
				inputs[i] = st[id]
			}
			st[s.ID] = llb.Merge(inputs, vertexName(s, "merge "+strings.Join(s.Deps, " ")))
		case pipeline.KindExport:
			// The export stage is what the front end does with its input.
		default:
			return nil, fmt.Errorf("stage %s: unknown kind %q", s.ID, s.Kind)
		}
	}
	return st, nil
}

// execState runs the stage's steps as one ExecOp on the toolchain image
// (pipeline.Exec.Argv); the stage's result is the output mount after it.
func execState(s *pipeline.Stage, st map[string]llb.State) (llb.State, error) {
	root, ok := st[s.Exec.ToolchainID()]
	if !ok {
		return llb.State{}, fmt.Errorf("stage %s: no toolchain stage before it", s.ID)
	}
	for _, step := range s.Exec.Steps {
		if step.Network {
			return llb.State{}, fmt.Errorf("stage %s, step %s: the plan gives network to a step of a build container", s.ID, step.Name)
		}
	}
	argv, dir := s.Exec.Argv()
	what := s.Exec.StepNames()
	if len(s.Exec.Steps) == 1 {
		what += ": " + strings.Join(argv, " ")
	}
	opts := []llb.RunOption{
		llb.Args(argv),
		llb.Dir(dir),
		llb.Network(llb.NetModeNone),
		llb.AddMount(pipeline.TmpDir, llb.Scratch(), llb.Tmpfs()),
		vertexName(s, what),
	}
	if !s.Exec.WritableRoot {
		opts = append(opts, llb.ReadonlyRootFS())
	}
	if s.Exec.AlwaysRun {
		opts = append(opts, llb.IgnoreCache)
	}
	for _, kv := range s.Exec.Env {
		k, v, _ := strings.Cut(kv, "=")
		opts = append(opts, llb.AddEnv(k, v))
	}
	run := root.Run(opts...)
	var out llb.State
	outputMounted := false
	for _, m := range s.Exec.Mounts {
		switch {
		case m.Tmpfs:
			if m.From != "" || m.Target == s.Exec.Output {
				return llb.State{}, fmt.Errorf("stage %s, mount %s: a tmpfs has no source and is not a result", s.ID, m.Target)
			}
			run.AddMount(m.Target, llb.Scratch(), llb.Tmpfs())
		case m.Readonly:
			run.AddMount(m.Target, st[m.From], llb.Readonly)
		default:
			mounted := run.AddMount(m.Target, st[m.From])
			if m.Target == s.Exec.Output {
				out, outputMounted = mounted, true
			}
		}
	}
	if !outputMounted {
		out = run.AddMount(s.Exec.Output, llb.Scratch())
	}
	return out, nil
}

// network is a toolchain setup step's network: the sandbox's when the plan
// gives it one, none otherwise.
func network(step pipeline.Step) llb.RunOption {
	if step.Network {
		return llb.Network(llb.NetModeSandbox)
	}
	return llb.Network(llb.NetModeNone)
}

// vertexName names a vertex "[stage id] what", which is what the progress
// display shows and how solve statistics attribute vertices to stages.
func vertexName(s *pipeline.Stage, what string) llb.ConstraintsOpt {
	return llb.WithCustomName("[" + s.ID + "] " + what)
}

// Source vertices are named with these prefixes.
const (
	pullPrefix  = "pull "
	fetchPrefix = "fetch "
)

func isSource(vertexName string) bool {
	id := StageOf(vertexName)
	if id == "" {
		return false
	}
	what := strings.TrimPrefix(vertexName, "["+id+"] ")
	return strings.HasPrefix(what, pullPrefix) || strings.HasPrefix(what, fetchPrefix)
}

// isFetch reports whether a vertex is a tarball fetch of the plan.
func isFetch(vertexName string) bool {
	id := StageOf(vertexName)
	return id != "" && strings.HasPrefix(strings.TrimPrefix(vertexName, "["+id+"] "), fetchPrefix)
}

// StageOf returns the stage ID in a vertex name made by vertexName, or "".
func StageOf(vertexName string) string {
	if !strings.HasPrefix(vertexName, "[") {
		return ""
	}
	id, _, ok := strings.Cut(vertexName[1:], "] ")
	if !ok {
		return ""
	}
	return id
}
