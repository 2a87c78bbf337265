# tarball TREE NAME: $work/TREE as $out/NAME, reproducibly (entries sorted
# by name, owner 0:0, every time $epoch, xz single-threaded), and
# NAME.sha256 beside it, in sha256sum's format as s6-overlay's releases
# have. Sourced by overlay-noarch.sh and overlay-arch.sh (the Go code
# prepends it).
tarball() {
	(cd "$work/$1" && tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner --format=gnu -cf - .) |
		xz -T1 >"$out/$2"
	(cd "$out" && sha256sum "$2" >"$2.sha256")
}
