# s6-overlay's noarch trees and their tarballs, made from the release's
# source tarball as its Makefile makes them (rootfs-overlay-noarch,
# symlinks-overlay-noarch, syslogd-overlay-noarch, each tar'd as
# <name>.tar.xz), with reproducible tarballs: entries sorted by name, owner
# 0:0, every time the given epoch, xz single-threaded. Each tarball gets a
# .sha256 file as s6-overlay's releases have (sha256sum's format).
#
#   overlay-noarch.sh TARBALL VERSION SHEBANGDIR EPOCH OUT
set -eu
tarball=$1 version=$2 shebangdir=$3 epoch=$4 out=$5
work=$(mktemp -d)
mkdir -p "$work/src"
tar -xzf "$tarball" -C "$work/src" --no-same-owner
src=$work/src/s6-overlay-$version
[ -d "$src/layout/rootfs-overlay" ] && [ -d "$src/layout/syslogd-overlay" ] || {
	echo "FAIL: $tarball has no s6-overlay-$version/layout/rootfs-overlay and syslogd-overlay: not s6-overlay $version's source"
	exit 1
}
# The modes of a git checkout under umask 022, which s6-overlay's releases
# are built from, whatever modes the tag archive carries (0664, 0775).
chmod -R go-w "$src"

# layout TREE DEST: the Makefile's recipe of the noarch overlays.
layout() {
	cp -a "$src/layout/$1" "$work/$2"
	find "$work/$2" -type f -name .empty -print | xargs rm -f --
	find "$work/$2" -name '*@VERSION@*' -print | while read -r name; do
		mv -f "$name" "$(echo "$name" | sed -e "s/@VERSION@/$version/")"
	done
	find "$work/$2" -type f -size +0c -print | xargs sed -i -e "s|@SHEBANGDIR@|$shebangdir|g; s/@VERSION@/$version/g;" --
}
layout rootfs-overlay rootfs-overlay-noarch
ln -s "s6-overlay-$version" "$work/rootfs-overlay-noarch/package/admin/s6-overlay"
layout syslogd-overlay syslogd-overlay-noarch
mkdir -p "$work/symlinks-overlay-noarch/usr/bin"
for i in $(ls -1 "$work/rootfs-overlay-noarch/command"); do
	ln -s "../../command/$i" "$work/symlinks-overlay-noarch/usr/bin/"
done

mkdir -p "$out"
tarball rootfs-overlay-noarch s6-overlay-noarch.tar.xz
tarball symlinks-overlay-noarch s6-overlay-symlinks-noarch.tar.xz
tarball syslogd-overlay-noarch syslogd-overlay-noarch.tar.xz
