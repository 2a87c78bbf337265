# Makes an s6-linux-init container-mode init directory for an image whose
# services are an s6-rc database, with the dist's own s6-linux-init-maker.
# Arguments: DIST PREFIX BUNDLE GRACE_MS OUT. A constant of the binary:
# every argument is checked by the plan, and none is parsed by sh.
set -eu
dist=$1 prefix=$2 bundle=$3 grace=$4 out=$5
p=${prefix%/}
skel=/tmp/skel
mkdir -p "$skel" "$out/etc/s6-linux-init"
cp -pR "$dist$p/etc/s6-linux-init/skel/." "$skel/"

# Stage 2: the s6-rc database comes up, then the bundle. If that fails the
# container stops with the failure's code (s6-overlay's
# S6_BEHAVIOUR_IF_STAGE2_FAILS=2). Arguments given to the container run
# after it, with the container's environment, and their exit ends it.
cat >"$skel/rc.init" <<'SCRIPT'
#!/bin/sh
# Written by s6builder: stage 2 of s6-linux-init (container mode).
bundle=$1
shift
haltwith() {
	echo "$1" >/run/s6-linux-init-container-results/exitcode
	exec /etc/s6-linux-init/current/bin/halt
}
s6-rc-init -c /etc/s6-rc/compiled -l /run/s6-rc /run/service || haltwith 111
s6-rc -v2 -u change "$bundle" || haltwith $?
[ $# -eq 0 ] && exit 0
s6-envdir -Lf /run/s6/container_environment "$@"
haltwith $?
SCRIPT

# On SIGTERM (or bin/halt): every service down, in reverse dependency order.
cat >"$skel/rc.shutdown" <<'SCRIPT'
#!/bin/sh
# Written by s6builder: brings the s6-rc services down, dependents first.
exec s6-rc -v2 -bDa change
SCRIPT
chmod 0755 "$skel/rc.init" "$skel/rc.shutdown"

"$dist$p/bin/s6-linux-init-maker" -C -N -B -c /etc/s6-linux-init/current \
	-p "$p/bin:$p/sbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
	-D "$bundle" -m 022 -q "$grace" -s /run/s6/container_environment -f "$skel" \
	"$out/etc/s6-linux-init/current"
# -s writes /run/s6/container_environment: its parent comes with run-image.
mkdir -m 0755 "$out/etc/s6-linux-init/current/run-image/s6"
