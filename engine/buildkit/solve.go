package buildkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/s6builder/s6builder/pipeline"
)

// Options says what to export and how to show progress.
type Options struct {
	Dist        string    // directory to export the dist tree to ("" = none)
	Sources     string    // directory to export the unpacked sources to ("" = none)
	Force       bool      // replace Dist and Sources even when they are not s6builder outputs
	Smoke       bool      // also run the supervision smoke test on the dist, in a container
	Progress    string    // auto, tty, plain, quiet or rawjson (progressui modes)
	ProgressOut io.Writer // default os.Stderr
	Cache       Cache     // the same for every plan of a BuildMany
}

// Cache says where the daemon exports its build cache to and imports it
// from, in BuildKit's own terms (type=registry,ref=...,mode=max;
// type=local,dest=...), passed through as they are: a second machine that
// imports what the first exported runs none of the steps again.
type Cache struct {
	Exports, Imports []client.CacheOptionsEntry
}

// Vertex is what the daemon reported about one vertex of the solve.
type Vertex struct {
	Digest    string // the op digest: the same op in two solves has the same one
	Name      string
	Stage     string // plan stage ID, "" for the daemon's own vertices (exporters)
	Source    bool   // an image or tarball: resolved each run, never reported as cached
	Cached    bool
	Error     string
	Duration  time.Duration
	Completed bool
}

// Report sums up a build: every vertex, executed or taken from the cache.
type Report struct {
	Vertices []Vertex
	Smoke    []string // checks the smoke test passed, when it ran
	Verified int      // ELF programs of the exported dist checked against the request
}

// CacheImportPrefix begins the name of the vertex in which the daemon
// imports a --cache-from cache (solver/llbsolver/bridge.go). A failed
// import does not fail the solve: the build runs without that cache.
const CacheImportPrefix = "importing cache manifest from "

// CacheImportErrors are the caches the daemon failed to import, each with
// the daemon's reason: the build ran without them.
func (r *Report) CacheImportErrors() []string {
	var out []string
	for _, v := range r.Vertices {
		if from, ok := strings.CutPrefix(v.Name, CacheImportPrefix); ok && v.Error != "" {
			out = append(out, from+": "+v.Error)
		}
	}
	return out
}

// Executed lists the names of plan vertices that really ran: build steps
// and merges. Sources are left out: BuildKit resolves an image or a tarball
// pinned by digest on every run and reports it done, not cached, even when
// nothing is downloaded.
func (r *Report) Executed() []string {
	var out []string
	for _, v := range r.Vertices {
		if v.Stage != "" && !v.Source && !v.Cached {
			out = append(out, v.Name)
		}
	}
	return out
}

// Counts returns how many plan vertices ran and how many came from the
// cache, as the progress display marks them CACHED (an image pull can be).
// A source the daemon reports done (a tarball checked against its digest)
// counts as neither: it is resolved on every run, not executed.
func (r *Report) Counts() (executed, cached int) {
	for _, v := range r.Vertices {
		switch {
		case v.Stage == "":
		case v.Cached:
			cached++
		case !v.Source:
			executed++
		}
	}
	return executed, cached
}

// StageTimes sums the execution time of the vertices of each stage.
func (r *Report) StageTimes() map[string]time.Duration {
	m := map[string]time.Duration{}
	for _, v := range r.Vertices {
		if v.Stage != "" && !v.Cached && v.Completed {
			m[v.Stage] += v.Duration
		}
	}
	return m
}

// DaemonGoneError is a solve cut short because the daemon went away (it
// was stopped or died): nothing is wrong with the build, and the stages it
// finished are in its cache for the next run.
type DaemonGoneError struct {
	Addr  string // the daemon's address, when the caller knows it
	Node  int    // which of BuildOn's nodes it was
	Stage string // the plan stage that was running, "" when unknown
	Err   error
}

func (e *DaemonGoneError) Error() string {
	var at, during string
	if e.Addr != "" {
		at = " at " + e.Addr
	}
	if e.Stage != "" {
		during = " during " + e.Stage
	}
	return fmt.Sprintf("the BuildKit daemon%s went away%s; run again: finished stages are reused (%v)", at, during, e.Err)
}

func (e *DaemonGoneError) Unwrap() error { return e.Err }

// StageError is a failed build step, with the end of its log.
type StageError struct {
	Stage   string
	Step    string // the step that failed, when the stage's log says (pipeline.FailedStep)
	Vertex  string
	Err     error
	LogTail string
}

func (e *StageError) Error() string {
	var b strings.Builder
	if e.Step != "" {
		fmt.Fprintf(&b, "stage %s failed at step %s: %v", e.Stage, e.Step, e.Err)
	} else {
		fmt.Fprintf(&b, "stage %s failed: %s: %v", e.Stage, e.Vertex, e.Err)
	}
	if e.LogTail != "" {
		fmt.Fprintf(&b, "\n--- last lines of its log ---\n%s", e.LogTail)
	}
	return b.String()
}

func (e *StageError) Unwrap() error { return e.Err }

var digestMismatch = regexp.MustCompile(`digest mismatch(?: for \S+)?:? (sha(?:256|512):[0-9a-f]+):? \(?(?:expected: )?(sha(?:256|512):[0-9a-f]+)`)

// logTailLines is how much of a failed step's log an error shows.
const logTailLines = 25

// Build solves p on c and exports what o asks for. Exports are atomic: they
// go to a temporary directory beside the target, which replaces the target
// only when every solve has succeeded; on failure the target is untouched.
func Build(ctx context.Context, c *client.Client, p *pipeline.Plan, o Options) (*Report, error) {
	reps, err := BuildMany(ctx, c, []*pipeline.Plan{p}, []Options{o}, o.Progress, o.ProgressOut)
	return reps[0], err
}

// platformsRun are the platforms the daemon must run for p: the build
// platform, and those of the programs its stages run (a cross build's old
// skalibs configure; the smoke test of a cross build, when it runs).
func platformsRun(p *pipeline.Plan, smoke bool) []string {
	out := []string{p.Request.BuildPlatform}
	for _, s := range p.Stages {
		if s.Exec == nil || s.Exec.Emulates == "" || (s.ID == pipeline.IDSmoke && !smoke) {
			continue
		}
		if !slices.Contains(out, s.Exec.Emulates) {
			out = append(out, s.Exec.Emulates)
		}
	}
	return out
}

// BuildMany builds several plans at once on one daemon, behind one progress
// display: identical steps (a skalibs shared by three s6 releases) run once,
// since the daemon merges equal vertices. Outputs are replaced only when
// every plan has succeeded. opts[i] goes with plans[i].
func BuildMany(ctx context.Context, c *client.Client, plans []*pipeline.Plan, opts []Options, progress string, out io.Writer) ([]*Report, error) {
	return BuildOn(ctx, []*client.Client{c}, make([]int, len(plans)), plans, opts, progress, out)
}

// BuildOn is BuildMany over several daemons: plans[i] is built on
// nodes[on[i]] (Assign), each node's plans planned for its build platform,
// behind one progress display. Outputs are replaced only when every plan
// on every node has succeeded; a cache export runs on each node for its
// plans, opts[i].Cache taken as the cache all nodes share (NodeCache gives
// each its part).
func BuildOn(ctx context.Context, nodes []*client.Client, on []int, plans []*pipeline.Plan, opts []Options, progress string, out io.Writer) ([]*Report, error) {
	reps := make([]*Report, len(plans))
	opts = slices.Clone(opts)
	for i := range opts {
		var err error
		if opts[i].Cache, err = NodeCache(opts[i].Cache, on[i], len(nodes)); err != nil {
			return reps, err
		}
	}
	jobs := make([]*job, len(plans))
	defer func() {
		for _, j := range jobs {
			if j != nil {
				j.discard()
			}
		}
	}()
	for i, p := range plans {
		j, err := newJob(p, opts[i])
		if err != nil {
			return reps, err
		}
		jobs[i] = j
	}
	for k, c := range nodes {
		var wanted []string
		for i, p := range plans {
			if on[i] == k {
				wanted = append(wanted, platformsRun(p, opts[i].Smoke)...)
			}
		}
		if err := checkPlatforms(ctx, c, wanted...); err != nil {
			return reps, err
		}
	}
	sess, err := newSession(ctx, progress, out)
	if err != nil {
		return reps, err
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = j.run(ctx, nodes[on[i]], sess)
			onNode(errs[i], on[i])
		}()
	}
	wg.Wait()
	sess.close()
	for i, j := range jobs {
		reps[i] = j.rec.report()
		reps[i].Smoke = j.checks
	}
	if err := errors.Join(errs...); err != nil {
		return reps, err
	}
	for i, j := range jobs {
		for k, s := range j.staged {
			if j.targets[k].id != pipeline.IDDist {
				continue
			}
			n, err := verifyDist(s.tmp, j.plan.Request)
			if err != nil {
				return reps, err
			}
			reps[i].Verified = n
		}
	}
	for k, c := range nodes {
		// Before any output is committed: a failed export leaves them as
		// they were.
		var mine []*pipeline.Plan
		var exports []client.CacheOptionsEntry
		for i, p := range plans {
			if on[i] == k {
				mine, exports = append(mine, p), opts[i].Cache.Exports
			}
		}
		if len(mine) > 0 && len(exports) > 0 {
			if err := exportCache(ctx, c, mine, exports, progress, out); err != nil {
				return reps, fmt.Errorf("cache export: %w", err)
			}
		}
	}
	for _, j := range jobs {
		for i, s := range j.staged {
			if err := s.mark(j.marker(j.targets[i].id)); err != nil {
				return reps, err
			}
		}
	}
	for _, j := range jobs {
		for _, s := range j.staged {
			if err := s.commit(); err != nil {
				return reps, err
			}
		}
	}
	return reps, nil
}

// job is one plan's solves: its targets, their staged exports, its record.
type job struct {
	plan    *pipeline.Plan
	smoke   bool
	targets []target
	staged  []*stagedDir
	rec     *recorder
	checks  []string
	// cacheImports: caches the daemon may take results from
	cacheImports []client.CacheOptionsEntry
}

// newJob checks the outputs (before any work) and stages their exports.
func newJob(p *pipeline.Plan, o Options) (*job, error) {
	j := &job{plan: p, smoke: o.Smoke, rec: newRecorder(), cacheImports: o.Cache.Imports}
	var outs []Output
	if o.Dist != "" {
		outs = append(outs, Output{Field: "output", Path: o.Dist})
	}
	if o.Sources != "" {
		outs = append(outs, Output{Field: "sources", Path: o.Sources})
	}
	if err := CheckOutputs(outs, o.Force); err != nil {
		return nil, err
	}
	for _, t := range []target{{id: pipeline.IDDist, dir: o.Dist}, {id: pipeline.IDSources, dir: o.Sources}} {
		if t.dir == "" {
			continue
		}
		sd, err := stageDir(t.dir)
		if err != nil {
			j.discard()
			return nil, err
		}
		j.staged = append(j.staged, sd)
		t.tmp = sd.tmp
		j.targets = append(j.targets, t)
	}
	if len(j.targets) == 0 {
		j.targets = []target{{id: pipeline.IDDist}} // build without exporting
	}
	return j, nil
}

// marker says what the export of stage id holds.
func (j *job) marker(id string) Marker {
	r := j.plan.Request
	kind := "dist"
	if id == pipeline.IDSources {
		kind = "sources"
	}
	m := Marker{S6builder: kind, Releases: map[string]string{}, Platform: r.Platform}
	if kind == "dist" {
		m.Prefix = r.Prefix
	}
	for _, pkg := range j.plan.Selection.Packages() {
		rel, _ := j.plan.Selection.Release(pkg)
		m.Releases[pkg] = rel.Version.String()
	}
	if s := j.plan.Stage(id); s != nil {
		m.Key = s.Key
	}
	return m
}

func (j *job) discard() {
	for _, s := range j.staged {
		s.discard()
	}
}

func (j *job) run(ctx context.Context, c *client.Client, sess *session) error {
	states, err := States(j.plan)
	if err != nil {
		return err
	}
	// The ops run on the build platform (a cross build's compilers and
	// tests); the toolchain image says so for each exec already.
	spec, err := platforms.Parse(j.plan.Request.BuildPlatform)
	if err != nil {
		return err
	}
	for _, t := range j.targets {
		def, err := states[t.id].Marshal(ctx, llb.Platform(spec))
		if err != nil {
			return err
		}
		opt := client.SolveOpt{CacheImports: j.cacheImports}
		var recv *receiver
		if t.tmp != "" {
			recv = receive(t.tmp)
			opt.Exports = []client.ExportEntry{{Type: client.ExporterTar,
				Output: func(map[string]string) (io.WriteCloser, error) { return recv, nil }}}
		}
		err = sess.run(ctx, j.plan, j.rec, func(ctx context.Context, ch chan *client.SolveStatus) error {
			_, err := c.Solve(ctx, def, opt, ch)
			return err
		})
		if recv != nil {
			if rerr := recv.wait(); rerr != nil {
				return rerr // why the export failed, rather than how the stream broke
			}
		}
		if err != nil {
			return err
		}
	}
	if j.smoke {
		j.checks, err = smoke(ctx, c, sess, j, states[pipeline.IDSmoke], spec)
	}
	return err
}

// session shows BuildKit's progress display over one or more solves and
// records what the daemon reports, for the Report and for error messages.
type session struct {
	all   chan *client.SolveStatus
	shown chan struct{}
	logs  logOwners
}

// logOwners: when the solves of a matrix share a vertex (a common
// skalibs), BuildKit sends its logs and statuses to every solve that
// waits on it; the display would print each line once per solve. The
// first solve to report a vertex owns its logs until it ends; the others'
// copies are dropped (their vertex records still go through, and the
// display merges those by digest).
type logOwners struct {
	mu    sync.Mutex
	owner map[digest.Digest]*recorder
}

// keep returns st without the logs and statuses of vertices another
// solve owns; rec's solve takes the vertices nobody owns yet.
func (o *logOwners) keep(rec *recorder, st *client.SolveStatus) *client.SolveStatus {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.owner == nil {
		o.owner = map[digest.Digest]*recorder{}
	}
	mine := func(d digest.Digest) bool {
		if w, ok := o.owner[d]; ok {
			return w == rec
		}
		o.owner[d] = rec
		return true
	}
	out := *st
	out.Logs, out.Statuses = nil, nil
	for _, l := range st.Logs {
		if mine(l.Vertex) {
			out.Logs = append(out.Logs, l)
		}
	}
	for _, s := range st.Statuses {
		if mine(s.Vertex) {
			out.Statuses = append(out.Statuses, s)
		}
	}
	return &out
}

// release gives up what rec's solve owned, when it ends: a vertex it
// shared may still run for another.
func (o *logOwners) release(rec *recorder) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for d, w := range o.owner {
		if w == rec {
			delete(o.owner, d)
		}
	}
}

func newSession(ctx context.Context, mode string, out io.Writer) (*session, error) {
	if mode == "" {
		mode = string(progressui.AutoMode)
	}
	if out == nil {
		out = os.Stderr
	}
	display, err := progressui.NewDisplay(out, progressui.DisplayMode(mode))
	if err != nil {
		return nil, fmt.Errorf("--progress %s: %w", mode, err)
	}
	s := &session{all: make(chan *client.SolveStatus), shown: make(chan struct{})}
	go func() {
		defer close(s.shown)
		_, _ = display.UpdateFrom(context.WithoutCancel(ctx), s.all)
	}()
	return s, nil
}

// FetchTimeout bounds the fetch of one source tarball: BuildKit's HTTP
// source has no deadline of its own and reports no progress, so a mirror
// that stalls would hold a build forever. 0 means no bound.
var FetchTimeout = 5 * time.Minute

// FetchTimeoutError is a tarball fetch that did not finish in FetchTimeout.
type FetchTimeoutError struct {
	Stage, URL string
	Timeout    time.Duration
}

func (e *FetchTimeoutError) Error() string {
	return fmt.Sprintf("%s: %s was not fetched in %s: the mirror stalled or is too slow (the build was stopped; --fetch-timeout sets the bound)",
		e.Stage, e.URL, e.Timeout)
}

// run calls solve with a status channel of its own, records the statuses
// in rec and explains a failure in terms of plan p (which may be nil). A
// tarball fetch running longer than FetchTimeout cancels the solve.
func (s *session) run(ctx context.Context, p *pipeline.Plan, rec *recorder, solve func(context.Context, chan *client.SolveStatus) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan *client.SolveStatus)
	fwd := make(chan struct{})
	go func() {
		defer close(fwd)
		defer s.logs.release(rec)
		for st := range ch {
			rec.record(st)
			s.all <- s.logs.keep(rec, st)
		}
	}()
	stalled := make(chan *FetchTimeoutError, 1)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		watchFetches(ctx, p, rec, FetchTimeout, func(e *FetchTimeoutError) {
			stalled <- e
			cancel()
		})
	}()
	err := solve(ctx, ch)
	<-fwd
	cancel()
	<-watchDone
	select {
	case e := <-stalled:
		return e
	default:
	}
	if err != nil {
		return rec.explain(p, err)
	}
	return nil
}

// watchFetches calls stalled, once, with the first tarball fetch of p
// that has run longer than timeout, until ctx ends.
func watchFetches(ctx context.Context, p *pipeline.Plan, rec *recorder, timeout time.Duration, stalled func(*FetchTimeoutError)) {
	if timeout <= 0 || p == nil {
		return
	}
	tick := time.NewTicker(max(timeout/10, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if id, ok := rec.fetchRunningLongerThan(timeout); ok {
			url := id
			if st := p.Stage(id); st != nil && st.Fetch != nil {
				url = st.Fetch.URL
			}
			stalled(&FetchTimeoutError{Stage: id, URL: url, Timeout: timeout})
			return
		}
	}
}

// close ends the display.
func (s *session) close() {
	close(s.all)
	<-s.shown
}

// smoke runs the smoke stage and returns the checks it reports.
func smoke(ctx context.Context, c *client.Client, sess *session, j *job, st llb.State, spec ocispecs.Platform) ([]string, error) {
	def, err := st.Marshal(ctx, llb.Platform(spec))
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "s6builder-smoke-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	opt := client.SolveOpt{Exports: []client.ExportEntry{{Type: client.ExporterLocal, OutputDir: dir}}, CacheImports: j.cacheImports}
	if err := sess.run(ctx, j.plan, j.rec, func(ctx context.Context, ch chan *client.SolveStatus) error {
		_, err := c.Solve(ctx, def, opt, ch)
		return err
	}); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, pipeline.SmokeChecks))
	if err != nil {
		return nil, fmt.Errorf("smoke test: no report: %w", err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n"), nil
}

type target struct {
	id  string
	dir string
	tmp string
}

// recorder keeps the last status of every vertex and the logs of each.
type recorder struct {
	mu    sync.Mutex
	order []digest.Digest
	vtx   map[digest.Digest]*client.Vertex
	logs  map[digest.Digest]*bytes.Buffer
}

func newRecorder() *recorder {
	return &recorder{vtx: map[digest.Digest]*client.Vertex{}, logs: map[digest.Digest]*bytes.Buffer{}}
}

func (r *recorder) record(s *client.SolveStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range s.Vertexes {
		prev, ok := r.vtx[v.Digest]
		if !ok {
			r.order = append(r.order, v.Digest)
		}
		// A later solve (sources after dist) reports a vertex the first one
		// ran as cached; the run as a whole executed it.
		if ok && prev.Completed != nil && !prev.Cached && prev.Error == "" && !isSource(v.Name) {
			continue
		}
		cp := *v
		if ok && prev.Cached {
			// The daemon marks a vertex cached once and may update it
			// later without the mark; the display keeps the mark, and so
			// does the count. An image pull is reported done, then cached.
			cp.Cached = true
		}
		r.vtx[v.Digest] = &cp
	}
	for _, l := range s.Logs {
		b := r.logs[l.Vertex]
		if b == nil {
			b = &bytes.Buffer{}
			r.logs[l.Vertex] = b
		}
		b.Write(l.Data)
		if b.Len() > 64<<10 { // keep the tail only
			tail := append([]byte{}, b.Bytes()[b.Len()-32<<10:]...)
			b.Reset()
			b.Write(tail)
		}
	}
}

// fetchRunningLongerThan is the stage of a tarball fetch that started
// more than d ago and has not completed.
func (r *recorder) fetchRunningLongerThan(d time.Duration) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, dg := range r.order {
		v := r.vtx[dg]
		if v.Started == nil || v.Completed != nil || !isFetch(v.Name) {
			continue
		}
		if time.Since(*v.Started) > d {
			return StageOf(v.Name), true
		}
	}
	return "", false
}

func (r *recorder) report() *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &Report{}
	for _, d := range r.order {
		v := r.vtx[d]
		x := Vertex{Digest: v.Digest.String(), Name: v.Name, Stage: StageOf(v.Name), Cached: v.Cached, Error: v.Error, Completed: v.Completed != nil}
		x.Source = isSource(v.Name)
		if v.Started != nil && v.Completed != nil {
			x.Duration = v.Completed.Sub(*v.Started)
		}
		rep.Vertices = append(rep.Vertices, x)
	}
	return rep
}

// explain turns a solve error into a StageError naming the failed stage and
// step with the end of its log, when the daemon said which vertex failed.
func (r *recorder) explain(p *pipeline.Plan, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	if status.Code(err) == codes.Unavailable {
		return &DaemonGoneError{Stage: r.running(), Err: err}
	}
	// BuildKit reports a checksum failure of an HTTP source as "digest
	// mismatch <got>: <expected>" without naming the vertex; the expected
	// digest names the fetch stage.
	if m := digestMismatch.FindStringSubmatch(err.Error()); m != nil && p != nil {
		for _, s := range p.Stages {
			if s.Fetch != nil && s.Fetch.Digest == m[2] {
				if status := httpStatus(s.Fetch.URL); status != "" {
					// The daemon hashed an error page, not a tarball.
					return &StageError{Stage: s.ID, Vertex: s.Fetch.Filename + " from " + s.Fetch.URL,
						Err: fmt.Errorf("not found at %s (HTTP %s): the mirror does not serve it", s.Fetch.URL, status)}
				}
				return &StageError{Stage: s.ID, Vertex: s.Fetch.Filename + " from " + s.Fetch.URL,
					Err: fmt.Errorf("digest mismatch: the file has %s, the catalogue expects %s", m[1], m[2])}
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var failed []*client.Vertex
	for _, d := range r.order {
		if v := r.vtx[d]; v.Error != "" && StageOf(v.Name) != "" && !strings.Contains(v.Error, "context canceled") {
			failed = append(failed, v)
		}
	}
	if len(failed) == 0 {
		return fmt.Errorf("build failed: %w", err)
	}
	sort.SliceStable(failed, func(i, j int) bool { return completed(failed[i]).Before(completed(failed[j])) })
	v := failed[0]
	se := &StageError{Stage: StageOf(v.Name), Vertex: v.Name, Err: errors.New(v.Error), LogTail: tail(r.logs[v.Digest], logTailLines)}
	if b := r.logs[v.Digest]; b != nil {
		if name, status, ok := pipeline.FailedStep(b.String()); ok {
			se.Step, se.Err = name, fmt.Errorf("exit status %s", status)
		}
	}
	return se
}

// running names the plan stages of the vertices that had started and not
// completed when the solve ended.
func (r *recorder) running() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var stages []string
	for _, d := range r.order {
		v := r.vtx[d]
		if st := StageOf(v.Name); st != "" && v.Started != nil && v.Completed == nil && !slices.Contains(stages, st) {
			stages = append(stages, st)
		}
	}
	return strings.Join(stages, ", ")
}

func completed(v *client.Vertex) time.Time {
	if v.Completed != nil {
		return *v.Completed
	}
	return time.Time{}
}

func tail(b *bytes.Buffer, n int) string {
	if b == nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// httpStatus asks url for its headers and returns the status when it is an
// error ("404 Not Found"), or "" when it is not or the URL cannot be reached
// from here (the daemon may be elsewhere). BuildKit's HTTP source hashes
// whatever body it gets, so a missing file first shows as a wrong digest.
func httpStatus(url string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		return ""
	}
	return resp.Status
}

// exportCache exports the build cache of every plan's dist in one solve of
// a merge of them: every vertex is in the daemon's cache by now, so nothing
// runs again, and one export holds them all (several solves exporting to
// one ref would each replace the last). The ops are marshalled for the
// build platform, as the builds were, so they are the same vertices: plans
// built on different platforms (--emulate with several) would need one
// export each, and are refused.
func exportCache(ctx context.Context, c *client.Client, plans []*pipeline.Plan, exports []client.CacheOptionsEntry, progress string, out io.Writer) error {
	build := plans[0].Request.BuildPlatform
	var dists []llb.State
	for _, p := range plans {
		if p.Request.BuildPlatform != build {
			return fmt.Errorf("the builds run on %s and %s: one cache export holds the builds of one build platform (cross-compile, or export each platform's build on its own)", build, p.Request.BuildPlatform)
		}
		st, err := States(p)
		if err != nil {
			return err
		}
		dists = append(dists, st[pipeline.IDDist])
	}
	spec, err := platforms.Parse(build)
	if err != nil {
		return err
	}
	all := dists[0]
	if len(dists) > 1 {
		all = llb.Merge(dists, llb.WithCustomName("[cache] every build"))
	}
	def, err := all.Marshal(ctx, llb.Platform(spec))
	if err != nil {
		return err
	}
	sess, err := newSession(ctx, progress, out)
	if err != nil {
		return err
	}
	defer sess.close()
	return sess.run(ctx, nil, newRecorder(), func(ctx context.Context, ch chan *client.SolveStatus) error {
		_, err := c.Solve(ctx, def, client.SolveOpt{CacheExports: exports}, ch)
		return err
	})
}
