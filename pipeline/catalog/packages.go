package catalog

import (
	"fmt"
	"regexp"
	"strings"
)

// S6 is the one package named in code: the release a request starts from
// (--s6), from whose requirements the releases of the packages it links
// against follow. Every other fact about a package is data
// (data/packages.tsv, the requirement tables, recipe/data/facts.tsv).
const S6 = "s6"

// Package is one package of the family, as data/packages.tsv describes it.
type Package struct {
	Name   string
	Links  []string // the packages it builds against, in build order
	Source string   // where the fact comes from
}

var (
	// family holds data/packages.tsv's rows, in build order: every package
	// comes after the ones it links against.
	family []Package
	// Packages lists the packages' names in build order.
	Packages []string
	// tarballName matches "<package>-<version>.tar.gz" for every package.
	tarballName *regexp.Regexp
)

func init() {
	if err := loadPackages(); err != nil {
		panic("pipeline/catalog/data/packages.tsv: " + err.Error())
	}
}

func loadPackages() error {
	seen := map[string]bool{}
	err := eachRow("data/packages.tsv", 3, func(f []string) error {
		p := Package{Name: f[0], Source: f[2]}
		if f[1] != "-" {
			p.Links = strings.Split(f[1], ",")
		}
		for _, l := range p.Links {
			if !seen[l] {
				return fmt.Errorf("%s links against %q, which is not a package listed before it", p.Name, l)
			}
		}
		seen[p.Name] = true
		family = append(family, p)
		Packages = append(Packages, p.Name)
		return nil
	})
	if err != nil {
		return err
	}
	quoted := make([]string, len(Packages))
	for i, p := range Packages {
		quoted[i] = regexp.QuoteMeta(p)
	}
	quoted = append(quoted, regexp.QuoteMeta(Overlay), regexp.QuoteMeta(OverlayHelpers))
	tarballName = regexp.MustCompile(`^(` + strings.Join(quoted, "|") + `)-([0-9.]+)\.tar\.gz$`)
	return nil
}

// Overlay is s6-overlay: a package of the catalogue (its releases, their
// tarballs and digests) that is not of the family. It is not built like
// one: its release assembles trees of files around the family's programs.
const Overlay = "s6-overlay"

// OverlayHelpers is s6-overlay-helpers (s6-overlay-suexec, justc-envdir...):
// a package of the catalogue built like the family's, slashpackage, only
// for s6-overlay's arch tarballs. Its tarball, GitHub's tag archive, has
// no published digest.
const OverlayHelpers = "s6-overlay-helpers"

// IsKnown reports whether the catalogue holds releases of name: a package
// of the family, Overlay or OverlayHelpers.
func IsKnown(name string) bool { return name == Overlay || name == OverlayHelpers || IsPackage(name) }

// known lists the names IsKnown accepts, for refusals.
func known() string {
	return strings.Join(append(append([]string{}, Packages...), Overlay, OverlayHelpers), ", ")
}

// IsPackage reports whether name is one of Packages.
func IsPackage(name string) bool {
	for _, p := range Packages {
		if p == name {
			return true
		}
	}
	return false
}

// Links returns the packages pkg builds against, in build order.
func Links(pkg string) []string {
	for _, p := range family {
		if p.Name == pkg {
			return p.Links
		}
	}
	return nil
}

// closure returns pkg and every package it builds against, directly or
// not, in build order.
func closure(pkg string) []string {
	need := map[string]bool{pkg: true}
	for i := len(family) - 1; i >= 0; i-- {
		if need[family[i].Name] {
			for _, l := range family[i].Links {
				need[l] = true
			}
		}
	}
	var out []string
	for _, p := range Packages {
		if need[p] {
			out = append(out, p)
		}
	}
	return out
}
