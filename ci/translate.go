package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"dagger/s-6-builder/internal/dagger"

	"github.com/s6builder/s6builder/pipeline"
)

// graph translates the stages of a plan into Dagger objects, each once,
// on demand: the toolchain stage is a container, every other stage a
// directory. Nothing is sent to the engine until a caller asks for a result
// (an ID, an export...).
type graph struct {
	plan       *pipeline.Plan
	containers map[string]*dagger.Container
	dirs       map[string]*dagger.Directory
	visiting   map[string]bool
	locals     map[string]*dagger.Directory // pipeline.Local stages' directories, by name
}

// translate returns the directory of stage id of p, translating the stages
// it depends on first, as engine/buildkit.States does for the whole plan:
//
//   - toolchain (Image): container(platform).from(ref), then
//     withWorkdir+withExec for each setup step;
//   - fetch (Fetch): http(url, checksum), placed under the stage's file name
//     in a directory (what BuildKit's HTTP source gives), so that the mount
//     of it can be read-only;
//   - unpack, build, test (Exec): the toolchain container with the stage's
//     env, a tmpfs at /tmp, each mount (read-only where the plan says so;
//     withMountedTemp for a tmpfs), an empty directory at the output unless
//     a mount is there, then one withWorkdir+withExec running the steps in
//     sequence (pipeline.Exec.Argv), and directory(output); a test stage's
//     AlwaysRun has no withExec equivalent (see alwaysRun);
//   - merge: directory(), then withDirectory("/", input) for each input in
//     order;
//   - export: the front end's part (dagger call ... export).
//
// Only the stages the result needs are translated. A plan field this
// translation does not know is an error, not something silently dropped.
// What Dagger cannot express is left to the engine's defaults: every exec
// has network access (the v0.21.8 API has no way to deny it; an Exec step
// the plan gives network to is refused, as no plan does) and a writable
// root filesystem.
func translate(p *pipeline.Plan, id string) (*dagger.Directory, error) {
	return translateWith(p, id, nil)
}

// translateWith is translate with the directories the plan's local stages
// name (pipeline.Local), by name.
func translateWith(p *pipeline.Plan, id string, locals map[string]*dagger.Directory) (*dagger.Directory, error) {
	g := &graph{plan: p, containers: map[string]*dagger.Container{}, dirs: map[string]*dagger.Directory{}, visiting: map[string]bool{}, locals: locals}
	if err := g.stage(id); err != nil {
		return nil, err
	}
	d, ok := g.dirs[id]
	if !ok {
		return nil, fmt.Errorf("stage %s has no directory result", id)
	}
	return d, nil
}

// stage translates stage id and, first, the stages it reads.
func (g *graph) stage(id string) error {
	if _, ok := g.dirs[id]; ok {
		return nil
	}
	if _, ok := g.containers[id]; ok {
		return nil
	}
	s := g.plan.Stage(id)
	if s == nil {
		return fmt.Errorf("the plan has no stage %q", id)
	}
	if g.visiting[id] {
		return fmt.Errorf("stage %s depends on itself", id)
	}
	g.visiting[id] = true
	defer delete(g.visiting, id)
	for _, dep := range s.Deps {
		if err := g.stage(dep); err != nil {
			return err
		}
	}
	if s.Exec != nil {
		for _, m := range s.Exec.Mounts {
			if m.Tmpfs {
				continue
			}
			if err := g.stage(m.From); err != nil {
				return err
			}
		}
	}

	switch {
	case s.Kind == pipeline.KindExport:
		return fmt.Errorf("stage %s: export is the front end's part (dagger call ... export)", id)
	case s.Kind == pipeline.KindMerge:
		d := dag.Directory()
		for _, dep := range s.Deps {
			in, ok := g.dirs[dep]
			if !ok {
				return fmt.Errorf("stage %s: input %s has no directory result", id, dep)
			}
			d = d.WithDirectory("/", in)
		}
		g.dirs[id] = d
	case s.Image != nil:
		if err := knownFields(s.Image, "ref", "platform", "setup"); err != nil {
			return fmt.Errorf("stage %s: %w", id, err)
		}
		ctr := dag.Container(dagger.ContainerOpts{Platform: dagger.Platform(s.Image.Platform)}).From(s.Image.Ref)
		for _, step := range s.Image.Setup {
			if err := knownFields(step, "name", "dir", "args", "network"); err != nil {
				return fmt.Errorf("stage %s, step %s: %w", id, step.Name, err)
			}
			ctr = ctr.WithWorkdir(step.Dir).WithExec(step.Args)
		}
		g.containers[id] = ctr
	case s.Local != nil:
		d, ok := g.locals[s.Local.Name]
		if !ok || d == nil {
			return fmt.Errorf("stage %s: no directory %q was given", id, s.Local.Name)
		}
		g.dirs[id] = d
	case s.Fetch != nil:
		if err := knownFields(s.Fetch, "filename", "digest"); err != nil {
			return fmt.Errorf("stage %s: %w", id, err)
		}
		// Dagger's http hashes what it downloads with sha256 only: another
		// algorithm could only fail after the download.
		if !strings.HasPrefix(s.Fetch.Digest, "sha256:") {
			return fmt.Errorf("%s: the catalogue's digest is %s; Dagger verifies downloads by sha256 only: "+
				"supply a sha256 digest for %s with a catalog file", id, s.Fetch.Digest, s.Fetch.Filename)
		}
		file := dag.HTTP(s.Fetch.URL, dagger.HTTPOpts{Checksum: s.Fetch.Digest})
		g.dirs[id] = dag.Directory().WithFile(s.Fetch.Filename, file)
	case s.Exec != nil:
		d, err := g.exec(s)
		if err != nil {
			return err
		}
		g.dirs[id] = d
	default:
		return fmt.Errorf("stage %s: kind %q with nothing to translate", id, s.Kind)
	}
	return nil
}

// exec chains the steps of an exec stage (unpack, build) on the toolchain
// container. Writable mounts carry their content from step to step; the
// stage's result is its output directory after the last step.
func (g *graph) exec(s *pipeline.Stage) (*dagger.Directory, error) {
	// writable_root: every withExec's root filesystem is writable, and a
	// stage's result is its output directory only.
	// emulates: the steps run programs of another platform (an old skalibs'
	// configure in a cross build, the smoke test of one); the engine runs
	// them through its host's emulator as any foreign binary. Its API
	// cannot check for that emulator beforehand, as the CLI does; without
	// one the step fails with the kernel's "exec format error".
	known := []string{"env", "mounts", "steps", "output", "writable_root", "emulates", "toolchain"}
	if s.Kind == pipeline.KindTest {
		known = append(known, alwaysRun)
	}
	if err := knownFields(s.Exec, known...); err != nil {
		return nil, fmt.Errorf("stage %s: %w", s.ID, err)
	}
	ctr, ok := g.containers[s.Exec.ToolchainID()]
	if !ok {
		return nil, fmt.Errorf("stage %s: no toolchain stage before it", s.ID)
	}
	for _, kv := range s.Exec.Env {
		k, v, _ := strings.Cut(kv, "=")
		ctr = ctr.WithEnvVariable(k, v)
	}
	ctr = ctr.WithMountedTemp(pipeline.TmpDir)
	outputMounted := false
	for _, m := range s.Exec.Mounts {
		if err := knownFields(m, "target", "from", "readonly", "tmpfs"); err != nil {
			return nil, fmt.Errorf("stage %s, mount %s: %w", s.ID, m.Target, err)
		}
		if m.Tmpfs {
			if m.From != "" || m.Target == s.Exec.Output {
				return nil, fmt.Errorf("stage %s, mount %s: a tmpfs has no source and is not a result", s.ID, m.Target)
			}
			ctr = ctr.WithMountedTemp(m.Target)
			continue
		}
		src, ok := g.dirs[m.From]
		if !ok {
			return nil, fmt.Errorf("stage %s, mount %s: stage %s has no directory result", s.ID, m.Target, m.From)
		}
		ctr = ctr.WithMountedDirectory(m.Target, src, dagger.ContainerWithMountedDirectoryOpts{ReadOnly: m.Readonly})
		outputMounted = outputMounted || m.Target == s.Exec.Output
	}
	if !outputMounted {
		ctr = ctr.WithMountedDirectory(s.Exec.Output, dag.Directory())
	}
	for _, step := range s.Exec.Steps {
		if err := knownFields(step, "name", "dir", "args"); err != nil {
			return nil, fmt.Errorf("stage %s, step %s: %w", s.ID, step.Name, err)
		}
	}
	// The steps run in one withExec, as in one BuildKit ExecOp
	// (pipeline.Exec.Argv); a failing one is named in the exec's output.
	argv, dir := s.Exec.Argv()
	ctr = ctr.WithWorkdir(dir).WithExec(argv)
	return ctr.Directory(s.Exec.Output), nil
}

// alwaysRun is pipeline.Exec.AlwaysRun's field: the plan asks for the test
// stage to run on every request, cached results or not (BuildKit's
// IgnoreCache). The v0.21.8 API has no per-withExec equivalent: a withExec
// is cached by its inputs, and the only way to force a rerun is an input the
// plan does not have (a cache-busting variable or file), which this
// translation does not add. The test stage is accepted with it; the function
// that runs it (Test) is never cached itself (+cache="never") and documents
// what remains: for the same dist, toolchain and script, a passing result is
// reused from the engine's cache. For other stage kinds it stays an error.
const alwaysRun = "always_run"

// knownFields fails when v (a plan struct) sets a JSON field other than the
// known ones: a plan feature this translation would otherwise drop.
func knownFields(v any, known ...string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	var unknown []string
	for k, raw := range m {
		if !contains(known, k) && !isZeroJSON(raw) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("the plan sets %s, which the Dagger module does not translate", strings.Join(unknown, ", "))
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func isZeroJSON(raw json.RawMessage) bool {
	switch string(raw) {
	case "null", "false", "0", `""`, "[]", "{}":
		return true
	}
	return false
}
