# The supervision smoke test, run inside a container with the built binaries
# in $1. Each check appends "ok: ..." to $2/checks; the first failure prints
# FAIL and the service log, and exits 1. POSIX sh; GNU sleep for fractions.
set -u
bin=$1 report=$2
PATH=$bin:$PATH
export PATH
work=$(mktemp -d)
scan=$work/scan
svc=$scan/svc
log=$work/log
mkdir -p "$svc" "$scan/.s6-svscan"
: >"$log"
printf '#!/bin/sh\necho "run $$" >>%s\nexec sleep 3600\n' "$log" >"$svc/run"
printf '#!/bin/sh\necho "finish $*" >>%s\n' "$log" >"$svc/finish"
printf '#!/bin/sh\necho scan-finish >>%s\n' "$log" >"$scan/.s6-svscan/finish"
chmod 755 "$svc/run" "$svc/finish" "$scan/.s6-svscan/finish"

ok() { echo "ok: $*"; echo "$*" >>"$report/checks"; }
fail() {
	echo "FAIL: $*"
	echo "--- service log:"
	cat "$log"
	[ -n "${svscan:-}" ] && kill -9 "$svscan" 2>/dev/null
	exit 1
}
# until CMD...: retry for up to 15 s.
until_ok() {
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -gt 150 ] && return 1
		sleep 0.1
	done
}
pid_up() { s6-svstat "$svc" | sed -n 's/^up (pid \([0-9]*\).*/\1/p'; }
is_up() { [ -n "$(pid_up)" ] && s6-svok "$svc"; }
restarted() { p=$(pid_up) && [ -n "$p" ] && [ "$p" != "$first" ] && grep -q '^finish' "$log"; }
scan_gone() { ! kill -0 "$svscan" 2>/dev/null; }

for b in s6-svscan s6-supervise s6-svok s6-svstat s6-svscanctl; do
	[ -x "$bin/$b" ] || fail "$b is missing from $bin"
done
s6-svscan -h >/dev/null 2>&1
rc=$?
[ "$rc" = 100 ] || fail "s6-svscan -h exited $rc; every release documents 100 (usage)"
ok "s6-svscan -h exits 100 (usage)"

s6-svscan "$scan" &
svscan=$!
until_ok is_up || fail "the service did not come up: s6-svstat says $(s6-svstat "$svc" 2>&1)"
ok "service up: s6-svok succeeds, s6-svstat says $(s6-svstat "$svc")"

first=$(pid_up)
kill -KILL "$first"
until_ok restarted || fail "no finish and restart after killing pid $first: s6-svstat says $(s6-svstat "$svc" 2>&1)"
ok "killed service (pid $first) ran finish and is up again (pid $(pid_up))"

s6-svscanctl -t "$scan" || fail "s6-svscanctl -t failed"
until_ok scan_gone || fail "s6-svscan still running after s6-svscanctl -t"
wait "$svscan"
grep -q scan-finish "$log" || fail ".s6-svscan/finish did not run"
ok "s6-svscanctl -t ended the scan through .s6-svscan/finish"

# The rest of the family, when the dist has it (build --with).
if [ -x "$bin/s6-echo" ]; then # s6-portable-utils
	out=$(s6-echo -- hello family) || fail "s6-echo failed"
	[ "$out" = "hello family" ] || fail "s6-echo printed '$out'"
	ok "s6-portable-utils: s6-echo prints its arguments"
fi
for b in s6-freeramdisk s6-dnsip4; do # s6-linux-utils, s6-dns: clients that report usage
	if [ -x "$bin/$b" ]; then
		"$b" >"$work/usage" 2>&1
		rc=$?
		[ "$rc" = 100 ] && grep -q "usage: $b" "$work/usage" || fail "$b without arguments exited $rc: $(cat "$work/usage")"
		ok "$b starts and reports its usage (exit 100)"
	fi
done
if [ -x "$bin/s6-tcpserver" ] && [ -x "$bin/s6-tcpclient" ]; then # s6-networking
	s6-tcpserver 127.0.0.1 47110 s6-echo hello-net &
	tcpserver=$!
	got=
	try_client() { got=$(s6-tcpclient -H -R -l 0 127.0.0.1 47110 sh -c 'cat <&6' 2>&1) && [ "$got" = hello-net ]; }
	until_ok try_client || { kill "$tcpserver" 2>/dev/null; fail "s6-tcpclient did not get the line s6-tcpserver serves on loopback: $got"; }
	kill "$tcpserver"
	wait "$tcpserver" 2>/dev/null
	ok "s6-networking: s6-tcpserver on loopback serves a one-line program to s6-tcpclient"
fi
if [ -x "$bin/s6-linux-init-maker" ]; then # s6-linux-init
	# Its skeleton scripts are in the dist (PREFIX/etc/s6-linux-init/skel).
	s6-linux-init-maker -f "$bin/../etc/s6-linux-init/skel" -c "$work/init" "$work/init" >"$work/maker" 2>&1 ||
		fail "s6-linux-init-maker failed: $(cat "$work/maker")"
	for f in bin/init run-image/service/s6-svscan-log/run scripts; do
		[ -e "$work/init/$f" ] || fail "s6-linux-init-maker wrote no $f"
	done
	ok "s6-linux-init-maker writes a complete init directory (bin/init, run-image, scripts)"
fi
if [ -x "$bin/s6-rc-compile" ]; then # s6-rc
	src=$work/rc-src
	mkdir -p "$src/setup" "$src/daemon"
	echo oneshot >"$src/setup/type"
	printf 'echo setup-up >>%s\n' "$log" >"$src/setup/up"
	printf 'echo setup-down >>%s\n' "$log" >"$src/setup/down"
	echo longrun >"$src/daemon/type"
	printf '#!/bin/sh\necho daemon-run >>%s\nexec sleep 3600\n' "$log" >"$src/daemon/run"
	chmod 755 "$src/daemon/run"
	echo setup >"$src/daemon/dependencies"
	s6-rc-compile "$work/rc-db" "$src" >"$work/rc.out" 2>&1 || fail "s6-rc-compile failed: $(cat "$work/rc.out")"
	ok "s6-rc-compile compiles a oneshot and a longrun that depends on it"
	# s6-rc-init starts s6-ftrigrd from /libexec, where the build's
	# prefix puts it (the smoke stage mounts the dist's there).
	rcscan=$work/rc-scan
	mkdir -p "$rcscan"
	s6-svscan "$rcscan" &
	rcsvscan=$!
	rcfail() { s6-svscanctl -t "$rcscan" 2>/dev/null; fail "$@"; }
	until_ok test -p "$rcscan/.s6-svscan/control" || rcfail "s6-svscan on $rcscan did not start"
	s6-rc-init -c "$work/rc-db" -l "$work/rc-live" "$rcscan" >"$work/rc.out" 2>&1 || rcfail "s6-rc-init failed: $(cat "$work/rc.out")"
	ok "s6-rc-init sets up the live state under a running s6-svscan"
	# Not checked: s6-rc -u/-d change. The oneshot runner s6-rc-init sets up
	# is an execline script that starts /bin/execlineb (the build's
	# prefix), and this test cannot put the dist at /.
	s6-svscanctl -t "$rcscan"
	wait "$rcsvscan"
fi
