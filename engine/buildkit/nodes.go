package buildkit

import (
	"errors"
	"fmt"
	"slices"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/client"
)

// Assign spreads a matrix's platforms over several daemons (nodes), as
// buildx spreads a build over the nodes of a builder: a platform one node
// runs natively goes to the first such node; every other platform, in
// order, to the node with the fewest platforms so far (the first on a
// tie), where it is cross-compiled. native[k] is node k's own platform;
// the result gives each platform's node.
func Assign(native, platforms []string) []int {
	on := make([]int, len(platforms))
	load := make([]int, len(native))
	var foreign []int
	for i, p := range platforms {
		if k := slices.Index(native, p); k >= 0 {
			on[i] = k
			load[k]++
		} else {
			foreign = append(foreign, i)
		}
	}
	for _, i := range foreign {
		k := 0
		for j := range load {
			if load[j] < load[k] {
				k = j
			}
		}
		on[i] = k
		load[k]++
	}
	return on
}

// NodeCache is node k's part of a cache shared by n nodes through a
// registry: each node exports to its own tag of the ref (REF-node<k>), or
// the nodes' exports would replace one another, and imports the tags of
// every node and the imports given. With one node the cache is as given.
func NodeCache(c Cache, k, n int) (Cache, error) {
	if n <= 1 {
		return c, nil
	}
	out := Cache{Imports: slices.Clone(c.Imports)}
	for _, e := range c.Exports {
		if e.Type != "registry" {
			out.Exports = append(out.Exports, e)
			continue
		}
		for j := 0; j < n; j++ {
			ref, err := nodeRef(e.Attrs["ref"], j)
			if err != nil {
				return Cache{}, err
			}
			if j == k {
				attrs := map[string]string{}
				for a, v := range e.Attrs {
					attrs[a] = v
				}
				attrs["ref"] = ref
				out.Exports = append(out.Exports, client.CacheOptionsEntry{Type: e.Type, Attrs: attrs})
			}
			imp := map[string]string{"ref": ref}
			if v, ok := e.Attrs["registry.insecure"]; ok {
				imp["registry.insecure"] = v
			}
			out.Imports = append(out.Imports, client.CacheOptionsEntry{Type: "registry", Attrs: imp})
		}
	}
	return out, nil
}

// nodeRef is ref with node k's tag: the tag given (or latest) and -node<k>.
func nodeRef(ref string, k int) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("--cache-to ref %q: %w", ref, err)
	}
	tag := "latest"
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	return fmt.Sprintf("%s:%s-node%d", reference.TrimNamed(named).String(), tag, k), nil
}

// onNode records, in an error that a daemon went away, which node it was.
func onNode(err error, k int) {
	var gone *DaemonGoneError
	if errors.As(err, &gone) {
		gone.Node = k
	}
}
