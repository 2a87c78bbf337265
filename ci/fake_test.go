package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"dagger/s-6-builder/fakesession"

	"github.com/s6builder/s6builder/pipeline"
)

// The fake engine: a GraphQL endpoint on fakesession's port that records
// every query the module sends and answers it from the query's own selection
// set, with no schema:
//
//   - an object field answers an object with its sub-selection answered;
//   - `id` (and `sync`) answers a made-up ID that stands for the chain of
//     calls that led to it; IDs are content-addressed (a hash of the chain's
//     canonical text), so the same chain always gets the same ID;
//   - `contents` of file(contents: X) answers X, so a test can pass a
//     catalogue as dag.File(name, contents); `contents` of
//     ...directory(path: D).file(path: F) answers what a test set for D/F
//     with setFile (an error with failFile), as if an exec had written it;
//   - `entries`, `glob`, `exists` and stat(path).permissions of a directory
//     made by directory().withNewFile(...).withNewDirectory(...) answer from
//     the files those calls make (fakeFS), so a test can pass a service tree;
//   - `defaultPlatform` answers the plan's default platform (this
//     machine's), as the engine's platform;
//   - `platform` of a container answers container(platform: P)'s P, or the
//     plan's default platform (this machine's) when the chain sets none;
//   - any other leaf answers null.
//
// When a later query passes an ID as an argument (withMountedDirectory(source:
// ID)), the fake replaces it by the chain the ID stands for, so each recorded
// query expands to the whole graph of calls behind it.
//
// The generated client sends arguments in map order, so the raw query text
// varies from run to run; chains are compared in a canonical form instead:
// calls joined by ".", arguments sorted by name, IDs expanded in braces.

// call is one field selection: its name and arguments (JSON-like values;
// an ID argument is replaced by the chain it stands for).
type call struct {
	Field string
	Args  map[string]any
}

// chain is a path of calls from the query root, e.g. container, from, ...
type chain []call

func (c chain) String() string {
	parts := make([]string, len(c))
	for i, cl := range c {
		parts[i] = cl.String()
	}
	return strings.Join(parts, ".")
}

func (c call) String() string {
	if len(c.Args) == 0 {
		return c.Field
	}
	names := make([]string, 0, len(c.Args))
	for n := range c.Args {
		names = append(names, n)
	}
	sort.Strings(names)
	args := make([]string, len(names))
	for i, n := range names {
		args[i] = n + ": " + renderValue(c.Args[n])
	}
	return c.Field + "(" + strings.Join(args, ", ") + ")"
}

func renderValue(v any) string {
	switch v := v.(type) {
	case chain:
		return "{" + v.String() + "}"
	case string:
		return strconv.Quote(v)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = renderValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		names := make([]string, 0, len(v))
		for n := range v {
			names = append(names, n)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = n + ": " + renderValue(v[n])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case nil:
		return "null"
	default:
		return fmt.Sprint(v)
	}
}

// fakeEngine records queries and remembers the chain behind each ID.
type fakeEngine struct {
	mu      sync.Mutex
	queries []string
	ids     map[string]chain
	minted  []chain // the chain behind each ID answered, in order
	reads   []chain // the file chain behind each contents answered, in order
	files   map[string]fakeFile
}

// fakeFile is what a test says an exec wrote at a path: contents, or an
// error as a failing exec gives.
type fakeFile struct{ contents, err string }

var fake = &fakeEngine{ids: map[string]chain{}, files: map[string]fakeFile{}}

// fakePlatform is what the fake answers for the platform of a container
// made without one: the default platform of the plan (this machine's), as a
// real engine's default is the one the module's runtime sees.
var fakePlatform = func() string {
	req, err := pipeline.Request{}.Normalize()
	if err != nil {
		panic(err)
	}
	return req.Platform
}()

func TestMain(m *testing.M) {
	if fakesession.Err != nil {
		fmt.Fprintln(os.Stderr, "fake engine:", fakesession.Err)
		os.Exit(1)
	}
	go http.Serve(fakesession.Listener, fake) //nolint:errcheck // ends with the process
	os.Exit(m.Run())
}

// reset forgets the recorded queries and the files set (IDs stay valid).
func (e *fakeEngine) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.queries, e.minted, e.reads = nil, nil, nil
	e.files = map[string]fakeFile{}
}

// setFile makes contents of ...directory(path: dir(p)).file(path: base(p))
// answer contents; failFile makes it answer the error msg.
func (e *fakeEngine) setFile(p, contents string) { e.putFile(p, fakeFile{contents: contents}) }
func (e *fakeEngine) failFile(p, msg string)     { e.putFile(p, fakeFile{err: msg}) }

func (e *fakeEngine) putFile(p string, f fakeFile) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.files[p] = f
}

// contentsReads returns the chains of the files whose contents were asked
// for since the last reset, in order.
func (e *fakeEngine) contentsReads() []chain {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]chain(nil), e.reads...)
}

// mintedChains returns the chains behind the IDs answered since the last
// reset, in order.
func (e *fakeEngine) mintedChains() []chain {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]chain(nil), e.minted...)
}

// recorded returns the raw queries received since the last reset.
func (e *fakeEngine) recorded() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.queries...)
}

// chainOf returns the chain behind an ID the fake made.
func (e *fakeEngine) chainOf(t *testing.T, id string) chain {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.ids[id]
	if !ok {
		t.Fatalf("the fake engine made no ID %q", id)
	}
	return c
}

func (e *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, _, ok := r.BasicAuth()
	if !ok || user != fakesession.Token {
		http.Error(w, "bad session token", http.StatusUnauthorized)
		return
	}
	var body struct {
		Query string `json:"query"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	e.queries = append(e.queries, body.Query)
	data, err := e.answer(body.Query)
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": err.Error()}}}) //nolint:errcheck
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"data": data}) //nolint:errcheck
}

func (e *fakeEngine) answer(query string) (map[string]any, error) {
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		return nil, err
	}
	if len(doc.Operations) != 1 {
		return nil, fmt.Errorf("want one operation, got %d", len(doc.Operations))
	}
	return e.selection(doc.Operations[0].SelectionSet, nil)
}

func (e *fakeEngine) selection(set ast.SelectionSet, path chain) (map[string]any, error) {
	out := map[string]any{}
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			c := call{Field: sel.Name, Args: map[string]any{}}
			for _, a := range sel.Arguments {
				v, err := a.Value.Value(nil)
				if err != nil {
					return nil, err
				}
				c.Args[a.Name] = e.expand(v)
			}
			key := sel.Alias
			if key == "" {
				key = sel.Name
			}
			here := append(append(chain(nil), path...), c)
			if len(sel.SelectionSet) > 0 {
				sub, err := e.selection(sel.SelectionSet, here)
				if err != nil {
					return nil, err
				}
				out[key] = sub
				continue
			}
			v, err := e.leaf(path, c)
			if err != nil {
				return nil, err
			}
			out[key] = v
		case *ast.InlineFragment:
			sub, err := e.selection(sel.SelectionSet, path)
			if err != nil {
				return nil, err
			}
			for k, v := range sub {
				out[k] = v
			}
		default:
			return nil, fmt.Errorf("unsupported selection %T", sel)
		}
	}
	return out, nil
}

// expand replaces IDs the fake made by the chains behind them.
func (e *fakeEngine) expand(v any) any {
	switch v := v.(type) {
	case string:
		if c, ok := e.ids[v]; ok {
			return c
		}
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = e.expand(x)
		}
		return out
	}
	return v
}

func (e *fakeEngine) leaf(object chain, c call) (any, error) {
	n := len(object)
	switch c.Field {
	case "id", "sync":
		sum := sha256.Sum256([]byte(object.String()))
		id := "fakeid:" + hex.EncodeToString(sum[:12])
		e.ids[id] = object
		e.minted = append(e.minted, object)
		return id, nil
	case "contents":
		if n == 1 && object[0].Field == "file" {
			return object[0].Args["contents"], nil
		}
		if n >= 2 && object[n-1].Field == "file" && object[n-2].Field == "directory" {
			e.reads = append(e.reads, object)
			d, _ := object[n-2].Args["path"].(string)
			f, _ := object[n-1].Args["path"].(string)
			file, ok := e.files[path.Join(d, f)]
			switch {
			case !ok:
				return nil, fmt.Errorf("fake engine: no file %s set", path.Join(d, f))
			case file.err != "":
				return nil, errors.New(file.err)
			}
			return file.contents, nil
		}
	case "defaultPlatform":
		if n == 0 {
			return fakePlatform, nil
		}
	case "platform":
		if n > 0 && object[0].Field == "container" {
			if p, ok := object[0].Args["platform"]; ok {
				return p, nil
			}
			return fakePlatform, nil
		}
	case "entries", "glob", "exists":
		fs, err := evalDir(object)
		if err != nil {
			return nil, err
		}
		return fs.answer(c)
	case "permissions":
		if n > 0 && object[n-1].Field == "stat" {
			fs, err := evalDir(object[:n-1])
			if err != nil {
				return nil, err
			}
			p, _ := object[n-1].Args["path"].(string)
			f, ok := fs[cleanPath(p)]
			if !ok {
				return nil, fmt.Errorf("stat %s: no such file or directory", p)
			}
			return f.perm, nil
		}
	}
	return nil, nil
}

// ---- a directory made by calls -----------------------------------------------

// fakeFS is the content of a directory made by directory() and
// withNewFile/withNewDirectory calls: clean relative paths to entries.
type fakeFS map[string]fakeEntry

type fakeEntry struct {
	dir  bool
	perm int64
}

func cleanPath(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

// evalDir replays the chain's calls; any other call is an error (the fake
// cannot tell what it would make).
func evalDir(c chain) (fakeFS, error) {
	if len(c) == 0 || c[0].Field != "directory" || len(c[0].Args) != 0 {
		return nil, fmt.Errorf("fake engine: cannot list %s", c)
	}
	fs := fakeFS{}
	mkdirs := func(p string) {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if _, ok := fs[d]; !ok {
				fs[d] = fakeEntry{dir: true, perm: 0o755}
			}
		}
	}
	for _, cl := range c[1:] {
		p, _ := cl.Args["path"].(string)
		p = cleanPath(p)
		perm, ok := cl.Args["permissions"].(int64)
		switch cl.Field {
		case "withNewFile":
			if !ok {
				perm = 0o644
			}
			mkdirs(p)
			fs[p] = fakeEntry{perm: perm}
		case "withNewDirectory":
			if !ok {
				perm = 0o755
			}
			mkdirs(p)
			fs[p] = fakeEntry{dir: true, perm: perm}
		default:
			return nil, fmt.Errorf("fake engine: cannot list %s: %s", c, cl)
		}
	}
	return fs, nil
}

// answer answers entries (one level, directories with a trailing "/", as
// engine v0.21.8 does), glob (path.Match over every path) and exists.
func (fs fakeFS) answer(c call) (any, error) {
	name := func(p string) string {
		if fs[p].dir {
			return p + "/"
		}
		return p
	}
	out := []any{}
	var paths []string
	for p := range fs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	switch c.Field {
	case "entries":
		at, _ := c.Args["path"].(string)
		at = cleanPath(at)
		for _, p := range paths {
			if path.Dir(p) == at || (at == "" && path.Dir(p) == ".") {
				out = append(out, strings.TrimPrefix(name(p), strings.TrimPrefix(at+"/", "/")))
			}
		}
		return out, nil
	case "glob":
		pat, _ := c.Args["pattern"].(string)
		for _, p := range paths {
			if ok, err := path.Match(pat, p); err != nil {
				return nil, err
			} else if ok {
				out = append(out, name(p))
			}
		}
		return out, nil
	case "exists":
		p, _ := c.Args["path"].(string)
		e, ok := fs[cleanPath(p)]
		switch t, given := c.Args["expectedType"]; {
		case len(c.Args) > 2 || (len(c.Args) == 2 && !given):
			return nil, fmt.Errorf("fake engine: %s: only path and expectedType are understood", c)
		case !given:
		case t == "REGULAR_TYPE":
			ok = ok && !e.dir
		case t == "DIRECTORY_TYPE":
			ok = ok && e.dir
		default:
			return nil, fmt.Errorf("fake engine: %s: expectedType %v", c, t)
		}
		return ok, nil
	}
	return nil, fmt.Errorf("fake engine: %s", c)
}
