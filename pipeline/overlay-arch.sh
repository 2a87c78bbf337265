# s6-overlay's arch trees and their tarballs, made from the packages'
# slashpackage install trees as its Makefile makes them
# (rootfs-overlay-arch: the staging's package/ and command/ without the
# packages' include/ and library/; symlinks-overlay-arch: /usr/bin links to
# /command), tar'd reproducibly as overlay-noarch.sh does, each with its
# .sha256.
#
#   overlay-arch.sh ARCH EPOCH OUT TREE...
set -eu
arch=$1 epoch=$2 out=$3
shift 3
work=$(mktemp -d)
root=$work/rootfs-overlay-arch
mkdir -p "$root"
for tree in "$@"; do
	for top in package command; do
		if [ -d "$tree/$top" ]; then cp -a "$tree/$top" "$root/"; fi
	done
done
[ -x "$root/command/execlineb" ] || { echo "FAIL: the packages' trees have no command/execlineb"; exit 1; }
rm -rf "$root"/package/*/*/include "$root"/package/*/*/library
mkdir -p "$work/symlinks-overlay-arch/usr/bin"
for i in $(ls -1 "$root/command"); do
	ln -s "../../command/$i" "$work/symlinks-overlay-arch/usr/bin/"
done

mkdir -p "$out"
tarball rootfs-overlay-arch "s6-overlay-$arch.tar.xz"
tarball symlinks-overlay-arch s6-overlay-symlinks-arch.tar.xz
