package pipeline

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
)

// readRcRefs reads the names the s6-rc source definition def refers to:
// the services it depends on and, for a bundle, its contents. Both formats count: the
// files "dependencies" and "contents" (a name per line) and the
// directories "dependencies.d" and "contents.d" (a name per entry; names
// that start with a dot are skipped, as s6-rc-compile skips them).
func readRcRefs(r TreeReader, def string) ([]string, error) {
	var refs []string
	for _, list := range []string{"dependencies", "contents"} {
		b, err := r.ReadFile(def + "/" + list)
		if err != nil {
			return nil, err
		}
		for line := range strings.Lines(string(b)) {
			if name := strings.TrimSpace(line); name != "" && !strings.HasPrefix(name, "#") {
				refs = append(refs, name)
			}
		}
		names, err := r.Names(def + "/" + list + ".d")
		if err != nil {
			return nil, err
		}
		for _, n := range slices.Sorted(slices.Values(names)) {
			if !strings.HasPrefix(n, ".") {
				refs = append(refs, n)
			}
		}
	}
	return refs, nil
}

// checkRcGraph refuses what s6-rc-compile would refuse at build time, before
// any work: a reference to a name refs does not define, and a cycle of
// dependencies and bundle contents. refs holds every definition compiled
// (s6-overlay's own too); where names their folder in the messages.
func checkRcGraph(where string, refs map[string][]string) error {
	names := slices.Sorted(maps.Keys(refs))
	for _, n := range names {
		for _, to := range refs[n] {
			if _, ok := refs[to]; !ok {
				return fmt.Errorf("%s: refers to %s, which is not defined (no %s with a type file)", path.Join(where, n), to, path.Join(where, to))
			}
		}
	}
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(n string) error
	visit = func(n string) error {
		switch state[n] {
		case onPath:
			i := slices.Index(stack, n)
			return fmt.Errorf("a dependency cycle in %s: %s (s6-rc cannot order it)", cmp.Or(where, "the tree"), strings.Join(append(slices.Clone(stack[i:]), n), " -> "))
		case done:
			return nil
		}
		state[n] = onPath
		stack = append(stack, n)
		for _, to := range refs[n] {
			if err := visit(to); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return err
		}
	}
	return nil
}
