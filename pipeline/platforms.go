package pipeline

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/containerd/platforms"

	"github.com/s6builder/s6builder/pipeline/inputerr"
)

// Target is a platform s6builder knows, in Docker's name, with the names
// s6-overlay gives it and its toolchain names (platforms.tsv).
type Target struct {
	Platform   string   // OCI/Docker name, e.g. linux/arm/v7
	S6Overlay  []string // s6-overlay's names, e.g. armhf
	DebianArch string   // Debian's architecture, e.g. armhf
	GNUTriple  string   // the cross compiler's prefix, e.g. arm-linux-gnueabihf
	MuslTriple string   // musl's multiarch directory, e.g. arm-linux-musleabihf
	Multiarch  string   // Debian's multiarch directory, e.g. i386-linux-gnu (where linux-libc-dev:ARCH puts asm/)
	// InDefaultToolchain: the default toolchain's Debian release has the
	// target's cross compiler and musl.
	InDefaultToolchain bool
	Note               string
}

//go:embed platforms.tsv
var platformsTSV []byte

// Targets lists the platforms of platforms.tsv, in its order.
var Targets = mustTargets(platformsTSV)

func mustTargets(b []byte) []Target {
	var out []Target
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 0; sc.Scan(); line++ {
		f := strings.Split(sc.Text(), "\t")
		if line == 0 {
			continue
		}
		if len(f) != 8 {
			panic(fmt.Sprintf("pipeline/platforms.tsv:%d: want 8 fields, have %d", line+1, len(f)))
		}
		out = append(out, Target{Platform: f[0], S6Overlay: strings.Split(f[1], ","), DebianArch: f[2], GNUTriple: f[3], MuslTriple: f[4],
			Multiarch: f[5], InDefaultToolchain: f[6] == "yes", Note: f[7]})
	}
	return out
}

// TargetOf returns what platforms.tsv says of a normalized platform.
func TargetOf(platform string) (Target, bool) {
	for _, t := range Targets {
		if t.Platform == platform {
			return t, true
		}
	}
	return Target{}, false
}

// ParsePlatforms reads a --platform value: one platform or a comma-separated
// list, each in Docker's name (linux/arm64, linux/arm/v7, arm64) or
// s6-overlay's (aarch64, armhf, x86_64). It returns the normalized names,
// in order, without repeats; "" is this machine's platform.
func ParsePlatforms(value string) ([]string, error) {
	if value == "" {
		return []string{platforms.DefaultString()}, nil
	}
	var out []string
	for _, name := range strings.Split(value, ",") {
		p, err := normalPlatform(strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		for _, seen := range out {
			if seen == p {
				return nil, inputerr.New("platform", value, "%s is given twice", p)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// normalPlatform maps an s6-overlay name onto Docker's, then normalizes.
func normalPlatform(name string) (string, error) {
	switch name {
	case "":
		return "", inputerr.New("platform", name, "an empty platform name")
	case "i486", "i386", "i586":
		// s6-overlay's i486: no toolchain here targets a baseline below i686.
		return "", inputerr.New("platform", name, "not built: the toolchains s6builder uses target i686 and up; linux/386 (i686) is")
	case "powerpc64":
		// s6-overlay's big-endian POWER: Debian has no musl for it (ppc64
		// is only in its unofficial ports archive), so no cross compiler.
		return "", inputerr.New("platform", name, "not cross-compiled: no Debian release has musl for big-endian POWER (ppc64 is only in Debian's unofficial ports); give linux/ppc64 with {arg:emulate} and a {arg:toolchain} image for ppc64 of your own, or build linux/ppc64le")
	}
	for _, t := range Targets {
		for _, alias := range t.S6Overlay {
			if name == alias {
				return t.Platform, nil
			}
		}
	}
	p, err := platforms.Parse(name)
	if err != nil {
		return "", inputerr.New("platform", name, "%v (`{cmd:platforms}` lists the names)", err)
	}
	if p.OS != "linux" {
		return "", inputerr.New("platform", name, "s6 builds for linux only")
	}
	return platforms.Format(platforms.Normalize(p)), nil
}

// PlatformDir is the folder of a platform's output in a multi-platform
// export, as BuildKit's local exporter names it: linux_arm_v7.
func PlatformDir(platform string) string {
	return strings.ReplaceAll(platform, "/", "_")
}

// WritePlatforms prints the table of `s6builder platforms`.
func WritePlatforms(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLATFORM\tS6-OVERLAY\tDEBIAN\tNOTE")
	for _, t := range Targets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Platform, strings.Join(t.S6Overlay, ", "), t.DebianArch, t.Note)
	}
	return tw.Flush()
}
