package recipe

import (
	_ "embed"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/s6builder/s6builder/pipeline/version"
)

// OverlayPackage is how s6-overlay's mk/skaware.mk builds one package
// (data/overlay-packages.tsv): slashpackage, in its category, on the
// packages it names, with its configure options.
type OverlayPackage struct {
	Name     string
	Category string   // /package/<category>/<name>-<version>
	Deps     []string // what it builds on, in build order; BearSSL is OverlayTLS
	Options  []string // s6-overlay's configure options for it
}

// OverlayTLS is the TLS library s6-overlay links s6-networking against: a
// dependency of the build that is not installed slashpackage (its headers
// and library go to the staging's include/ and lib/, never to a tarball).
const OverlayTLS = "bearssl"

// overlayCommon are SKAWARE_OPTIONS: every package's.
var overlayCommon = []string{"--enable-slashpackage", "--enable-static-libc", "--disable-shared"}

//go:embed data/overlay-packages.tsv
var overlayPackagesTSV string

// overlayRow is one row of data/overlay-packages.tsv: a package and the
// s6-overlay releases it is built so for ([since, until); until zero:
// still).
type overlayRow struct {
	pkg          OverlayPackage
	since, until version.Version
}

// overlayRows are data/overlay-packages.tsv's rows, read once.
var overlayRows = sync.OnceValues(func() ([]overlayRow, error) {
	var out []overlayRow
	for i, line := range strings.Split(strings.TrimSpace(overlayPackagesTSV), "\n") {
		if i == 0 {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 7 {
			return nil, fmt.Errorf("overlay-packages.tsv:%d: %d fields, want 7", i+1, len(f))
		}
		r := overlayRow{pkg: OverlayPackage{Name: f[0], Category: f[1], Options: strings.Fields(f[3])}, since: version.MustParse(f[4])}
		if f[2] != "-" {
			r.pkg.Deps = strings.Split(f[2], ",")
		}
		if f[5] != "" {
			r.until = version.MustParse(f[5])
		}
		out = append(out, r)
	}
	return out, nil
})

// OverlayPackages lists, in build order, how s6-overlay v builds its
// packages.
func OverlayPackages(v version.Version) ([]OverlayPackage, error) {
	rows, err := overlayRows()
	if err != nil {
		return nil, err
	}
	var out []OverlayPackage
	for _, r := range rows {
		if !v.Less(r.since) && (r.until.IsZero() || v.Less(r.until)) {
			out = append(out, r.pkg)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("s6builder knows how s6-overlay builds its packages from 3.2.3.2 on, not for %s", v)
	}
	return out, nil
}

// Home is where p at v is installed, slashpackage: package/<category>/<name>-<version>.
func (p OverlayPackage) Home(v version.Version) string {
	return path.Join("package", p.Category, p.Name+"-"+v.String())
}

// SlashDep is an installed slashpackage dependency, its tree (package/,
// command/) mounted read-only at Root.
type SlashDep struct {
	Package OverlayPackage
	Version version.Version
	Root    string
}

// OverlayOptions are the inputs of an s6-overlay package build.
type OverlayOptions struct {
	Deps    []SlashDep // in build order
	TLSRoot string     // where BearSSL's include/ and lib/ are, for a package that builds on OverlayTLS
	// Target is s6-overlay's ARCH for the platform (its musl triple, e.g.
	// x86_64-linux-musl): s6-overlay configures every package for it, its
	// toolchain native or not, so skalibs' sysdeps name it.
	Target string
	// Tools is the prefix of the toolchain's binutils (x86_64-linux-gnu-):
	// configure prefixes them with Target, which names none of ours.
	Tools   string
	Jobs    int
	DestDir string
}

// ForOverlay is s6-overlay's recipe of p at v (mk/skaware.mk): configure
// slashpackage with its options, make, make strip, then install, update
// and global-links into DestDir, which makes the package's tree, its
// package/<category>/<name> link and its /command links.
func ForOverlay(p OverlayPackage, v version.Version, o OverlayOptions) (Recipe, error) {
	if o.DestDir == "" || !path.IsAbs(o.DestDir) {
		return Recipe{}, fmt.Errorf("recipe %s %s: DestDir must be an absolute path", p.Name, v)
	}
	args := append([]string{"./configure"}, overlayCommon...)
	var vars []string
	if o.Target != "" {
		args = append(args, "--target="+o.Target)
		for _, f := range facts {
			switch {
			case f.kind == "cross_sysdep" && f.covers(p.Name, v):
				args = append(args, "--with-sysdep-"+f.value)
			case f.kind == "cross_make" && f.covers(p.Name, v):
				vars = append(vars, f.value)
			}
		}
	}
	if o.Tools != "" {
		vars = append(vars, "CROSS_COMPILE="+o.Tools)
	}
	args = append(args, p.Options...) // s6-overlay's own, after ours: they win
	for _, d := range p.Deps {
		if d == OverlayTLS {
			if o.TLSRoot == "" {
				return Recipe{}, fmt.Errorf("recipe %s %s: it builds on %s, and no TLSRoot is given", p.Name, v, OverlayTLS)
			}
			args = append(args, "--with-ssl-path="+o.TLSRoot)
		}
	}
	for _, d := range o.Deps {
		// Where configure would look under DESTDIR (the exthome link,
		// package/<category>/<name>): the dependency's own tree.
		home := path.Join(d.Root, "package", d.Package.Category, d.Package.Name)
		if _, ok := facts.lookup("sysdepdir", d.Package.Name, d.Version); ok {
			args = append(args, "--with-sysdeps="+path.Join(home, "sysdeps"))
		}
		args = append(args, "--with-include="+path.Join(home, "include"), "--with-lib="+path.Join(home, "library"))
	}
	return Recipe{
		Package:   p.Name,
		Version:   v,
		SourceDir: p.Name + "-" + v.String(),
		Configure: args,
		Make:      MakeArgv(o.Jobs, vars...),
		Strip:     append([]string{"make", "strip"}, vars...),
		// As skaware.mk installs: one job, then the /package link and the
		// /command links.
		Install:            append([]string{"make", "-j1", "-L", "install", "update", "global-links", "DESTDIR=" + o.DestDir}, vars...),
		RunsTargetPrograms: o.Target != "" && facts.has("cross_runs_tests", p.Name, v),
	}, nil
}
