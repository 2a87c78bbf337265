// Package overlayref is s6-overlay's own build, as a reference for tests
// and benchmarks: its unmodified Makefile (`make all`) run in a container
// of the toolchain image an s6builder plan uses, on the source tarballs of
// that plan (fetched by digest). What its Makefile would download is put
// where it looks first: the packages' trees in OUTPUT/sources/<name> (git
// is a shim whose checkout does nothing: the trees are the tags already),
// and TOOLCHAIN_PATH holds <arch>-gcc, -ar... wrappers around Debian's
// musl-gcc (or its cross gcc with musl's specs) and binutils, the kernel
// headers added with -idirafter.
package overlayref

import (
	"fmt"

	"github.com/moby/buildkit/client/llb"
	"github.com/opencontainers/go-digest"

	"github.com/s6builder/s6builder/pipeline"
)

// Arch is one of s6-overlay's architectures as its Makefile is told it
// (ARCH, a musl triple) and what stands for its toolchain here.
type Arch struct {
	Triple    string // ARCH, e.g. aarch64-linux-musl
	CC        string // the compiler the <triple>-gcc wrapper runs
	Tools     string // the binutils prefix ("" for the native ones)
	Multiarch string // Debian's multiarch directory of its kernel headers
}

// Arches are the architectures the reference builds.
var Arches = map[string]Arch{
	"x86_64":  {Triple: "x86_64-linux-musl", CC: "musl-gcc", Multiarch: "x86_64-linux-gnu"},
	"aarch64": {Triple: "aarch64-linux-musl", CC: "aarch64-linux-gnu-gcc -specs=/usr/lib/aarch64-linux-musl/musl-gcc.specs", Tools: "aarch64-linux-gnu-", Multiarch: "aarch64-linux-gnu"},
}

// script runs the Makefile; its inputs are environment variables and the
// tarballs mounted at /in/<package>/.
const script = `set -eu
mkdir -p /tmp/s /tmp/o/sources /tmp/tc/bin /tmp/kh /tmp/shim
tar -xzf /in/s6-overlay/"$OVERLAY_TARBALL" -C /tmp/s --no-same-owner
for pkg in $PACKAGES; do
	mkdir /tmp/o/sources/$pkg
	tar -xzf /in/$pkg/*.tar.gz -C /tmp/o/sources/$pkg --strip-components=1 --no-same-owner
done
mkdir /tmp/o/sources/BearSSL
tar -xf /in/bearssl/* -C /tmp/o/sources/BearSSL --strip-components=1 --no-same-owner
chmod -R go-w /tmp/s /tmp/o/sources
ln -s /usr/include/linux /usr/include/asm-generic /tmp/kh/
ln -s /usr/include/$MULTIARCH/asm /tmp/kh/asm
printf '#!/bin/sh\nexec %s -idirafter /tmp/kh "$@"\n' "$CCMD" >/tmp/tc/bin/$ARCH-gcc
for tool in ar ranlib strip nm objcopy objdump readelf; do
	printf '#!/bin/sh\nexec %s%s "$@"\n' "$TOOLS" $tool >/tmp/tc/bin/$ARCH-$tool
done
printf '#!/bin/sh\n[ "$1" = checkout ] && exit 0\necho "git $*: not here" >&2\nexit 1\n' >/tmp/shim/git
chmod 755 /tmp/tc/bin/* /tmp/shim/git
cd /tmp/s/s6-overlay-$VERSION
PATH=/tmp/shim:$PATH make -j"$(nproc)" all OUTPUT=/tmp/o TOOLCHAIN_PATH=/tmp/tc ARCH=$ARCH BEARSSL_VERSION=v0.6 >/tmp/make.log 2>&1 || { tail -40 /tmp/make.log; exit 1; }
cp /tmp/o/*.tar.xz /out/
`

// Build is s6-overlay's own `make all` for arch, on p's sources in p's
// toolchain image: its result holds the Makefile's tarballs.
func Build(p *pipeline.Plan, arch string) (llb.State, error) {
	a, ok := Arches[arch]
	if !ok {
		return llb.State{}, fmt.Errorf("no reference toolchain for %s", arch)
	}
	noarch := p.Stage(pipeline.IDOverlayNoarch)
	fetch := p.Stage(pipeline.IDOverlayFetch)
	if noarch == nil || fetch == nil {
		return llb.State{}, fmt.Errorf("not an s6-overlay plan")
	}
	var packages string
	run := []llb.RunOption{
		llb.AddEnv("OVERLAY_TARBALL", fetch.Fetch.Filename), llb.AddEnv("VERSION", noarch.Version),
		llb.AddEnv("ARCH", a.Triple), llb.AddEnv("CCMD", a.CC), llb.AddEnv("TOOLS", a.Tools),
		llb.AddEnv("MULTIARCH", a.Multiarch), llb.AddEnv("PATH", pipeline.DefaultPath),
		llb.WithCustomName("s6-overlay's own Makefile, make all ARCH=" + a.Triple),
	}
	for _, s := range p.Stages {
		if s.Kind != pipeline.KindFetch {
			continue
		}
		d, err := digest.Parse(s.Fetch.Digest)
		if err != nil {
			return llb.State{}, err
		}
		src := llb.HTTP(s.Fetch.URL, llb.Checksum(d), llb.Filename(s.Fetch.Filename))
		run = append(run, llb.AddMount("/in/"+s.Package, src, llb.Readonly))
		if s.Package != fetch.Package && s.Package != "bearssl" {
			packages += " " + s.Package
		}
	}
	run = append(run, llb.AddEnv("PACKAGES", packages), llb.Args([]string{"sh", "-c", script}))
	tc := p.Stage(pipeline.IDToolchain).Image.Ref
	return llb.Image(tc).Run(run...).AddMount("/out", llb.Scratch()), nil
}
