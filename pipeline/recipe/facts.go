package recipe

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/s6builder/s6builder/pipeline/version"
)

// data/facts.tsv: fact, package, value, since, until (exclusive; empty means
// still true), source. Facts: "option" (a configure option the release
// accepts), "libdir", "sysdepdir", "gnu_make_min", "kernel_headers",
// "cross_sysdep" (K=V given to a cross build as --with-sysdep-K=V),
// "cross_runs_tests" (a cross build's configure runs target programs),
// "cross_make" (a make variable a cross build passes to make).
//
//go:embed data/facts.tsv
var factsTSV string

type fact struct {
	kind, pkg, value string
	since, until     version.Version // until zero: open-ended
}

func (f fact) covers(pkg string, v version.Version) bool {
	return f.pkg == pkg && v.AtLeast(f.since) && (f.until.IsZero() || v.Less(f.until))
}

type factTable []fact

var facts = mustParseFacts(factsTSV)

func mustParseFacts(tsv string) factTable {
	var t factTable
	for i, line := range strings.Split(strings.TrimSpace(tsv), "\n") {
		if i == 0 {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			panic(fmt.Sprintf("facts.tsv:%d: %d fields, want 6", i+1, len(f)))
		}
		r := fact{kind: f[0], pkg: f[1], value: f[2], since: version.MustParse(f[3])}
		if f[4] != "" {
			r.until = version.MustParse(f[4])
		}
		t = append(t, r)
	}
	return t
}

// oldest is the oldest release of pkg the facts cover (where its libdir,
// which every build needs, is known).
func (t factTable) oldest(pkg string) (version.Version, bool) {
	var v version.Version
	ok := false
	for _, f := range t {
		if f.kind == "libdir" && f.pkg == pkg && (!ok || f.since.Less(v)) {
			v, ok = f.since, true
		}
	}
	return v, ok
}

// value returns the value of the single fact of kind that covers pkg at v.
func (t factTable) value(kind, pkg string, v version.Version) string {
	for _, f := range t {
		if f.kind == kind && f.covers(pkg, v) {
			return f.value
		}
	}
	// Every kind is covered from 2.0.0.0 on; a gap is a data error.
	panic(fmt.Sprintf("facts.tsv has no %s for %s %s", kind, pkg, v))
}

// lookup is the value of the kind fact that covers pkg at v, if any: for
// facts only some packages have (sysdepdir).
func (t factTable) lookup(kind, pkg string, v version.Version) (string, bool) {
	for _, f := range t {
		if f.kind == kind && f.covers(pkg, v) {
			return f.value, true
		}
	}
	return "", false
}

// has reports whether a kind fact with value "yes" covers pkg at v.
func (t factTable) has(kind, pkg string, v version.Version) bool {
	val, ok := t.lookup(kind, pkg, v)
	return ok && val == "yes"
}

// accepts reports whether pkg's configure at v knows option (a name such as
// "--enable-static-libc"; patterns end in "*").
func (t factTable) accepts(pkg string, v version.Version, option string) bool {
	for _, f := range t {
		if f.kind != "option" || !f.covers(pkg, v) {
			continue
		}
		if f.value == option || (strings.HasSuffix(f.value, "*") && strings.HasPrefix(option, strings.TrimSuffix(f.value, "*"))) {
			return true
		}
	}
	return false
}

// Accepts reports whether pkg's configure at v knows option (a name such as
// --enable-static-libc), per data/facts.tsv.
func Accepts(pkg string, v version.Version, option string) bool { return facts.accepts(pkg, v, option) }
