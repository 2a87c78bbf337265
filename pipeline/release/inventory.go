package release

import (
	"sort"
	"strings"

	"github.com/s6builder/s6builder/pipeline"
)

// IDInventory is the stage that lists what a toolchain image holds.
const IDInventory = "inventory"

// inventoryScript writes the toolchain's Debian packages and the first
// line of each compiler's --version into $1. A constant: the compilers
// come as positional parameters, each a command line the plan made (CC),
// split into words as make splits it, with globbing off.
const inventoryScript = `set -u -f
out=$1
shift
{ dpkg-query -W -f '${Package} ${Version} ${Architecture}\n' 2>/dev/null || true; } | LC_ALL=C sort >"$out/packages"
for cc in "$@"; do
	printf '%s\t%s\n' "$cc" "$($cc --version 2>&1 | head -n 1)"
done >"$out/compilers"
`

// Files the inventory stage writes into its output.
const (
	InventoryPackages  = "packages"
	InventoryCompilers = "compilers"
)

// InventoryStage is the stage that inventories p's toolchain (after its
// setup steps) and the compilers of p's builds: an exec stage on the
// toolchain, no network, its result the two files.
func InventoryStage(p *pipeline.Plan) *pipeline.Stage {
	args := []string{"sh", "-c", inventoryScript, "inventory", pipeline.OutDir}
	args = append(args, Compilers(p)...)
	return &pipeline.Stage{ID: IDInventory, Kind: pipeline.KindTest, Deps: []string{pipeline.IDToolchain},
		Exec: &pipeline.Exec{Env: []string{"PATH=" + pipeline.DefaultPath},
			Steps: []pipeline.Step{{Name: "inventory", Dir: "/", Args: args}}, Output: pipeline.OutDir}}
}

// Compilers are the CC values of p's build stages, each once, sorted.
func Compilers(p *pipeline.Plan) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range p.Stages {
		if s.Kind != pipeline.KindBuild || s.Exec == nil {
			continue
		}
		for _, kv := range s.Exec.Env {
			if cc, ok := strings.CutPrefix(kv, "CC="); ok && !seen[cc] {
				seen[cc] = true
				out = append(out, cc)
			}
		}
	}
	sort.Strings(out)
	return out
}

// ParseInventory reads the inventory stage's two files.
func ParseInventory(packages, compilers []byte) Inventory {
	inv := Inventory{Packages: []string{}, Compilers: map[string]string{}}
	for _, line := range strings.Split(strings.TrimSpace(string(packages)), "\n") {
		if line != "" {
			inv.Packages = append(inv.Packages, line)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(string(compilers)), "\n") {
		if cc, version, ok := strings.Cut(line, "\t"); ok {
			inv.Compilers[cc] = version
		}
	}
	return inv
}
