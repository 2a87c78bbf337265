# The supervision smoke test, run inside a throwaway container with the
# dist in $1. Each check appends "ok: ..." to $2/checks; the first failure
# prints FAIL and the service log, and exits 1. POSIX sh; GNU sleep for
# fractions.
set -u
dist=$1 report=$2 prefix=${3:-/}
p=${prefix%/} # "" for prefix /
bin=$dist$p/bin

# The dist's programs run PREFIX/bin/execlineb and PREFIX/libexec/
# s6-ftrigrd. Install them there, as a user drops the dist into an image
# (through the image's own /bin -> usr/bin link where it has one).
for d in bin sbin libexec etc; do
	[ -d "$dist$p/$d" ] || continue
	to=$(readlink -f "$p/$d" 2>/dev/null || echo "$p/$d")
	mkdir -p "$to" && cp -pR "$dist$p/$d/." "$to/" || { echo "FAIL: cannot install the dist's $d at $p/$d"; exit 1; }
done
PATH=$p/bin:$p/sbin:$PATH
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
if [ -x "$bin/s6-dns-hosts-compile" ] && [ -x "$bin/s6-dnsip4" ]; then # s6-dns, hosts data
	# A name only our hosts data knows; s6-dnsip4 -h reads /etc/hosts.cdb
	# (newer than /etc/hosts) before asking any DNS server.
	printf '192.0.2.7 smoke.s6builder.test\n' >"$work/hosts"
	s6-dns-hosts-compile -i "$work/hosts" -o /etc/hosts.cdb >"$work/dns" 2>&1 || fail "s6-dns-hosts-compile failed: $(cat "$work/dns")"
	out=$(s6-dnsip4 -h -t 5000 smoke.s6builder.test 2>&1)
	[ "$out" = 192.0.2.7 ] || fail "s6-dnsip4 -h smoke.s6builder.test printed '$out', not 192.0.2.7 from the compiled hosts data"
	ok "s6-dns: s6-dns-hosts-compile data resolves smoke.s6builder.test to 192.0.2.7 through s6-dnsip4 -h"
fi
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
	# A oneshot's up and down are execline command lines.
	echo oneshot >"$src/setup/type"
	echo "redirfd -a 1 $log echo setup-up" >"$src/setup/up"
	echo "redirfd -a 1 $log echo setup-down" >"$src/setup/down"
	echo longrun >"$src/daemon/type"
	printf '#!/bin/sh\necho daemon-run >>%s\nexec sleep 3600\n' "$log" >"$src/daemon/run"
	chmod 755 "$src/daemon/run"
	echo setup >"$src/daemon/dependencies"
	s6-rc-compile "$work/rc-db" "$src" >"$work/rc.out" 2>&1 || fail "s6-rc-compile failed: $(cat "$work/rc.out")"
	ok "s6-rc-compile compiles a oneshot and a longrun that depends on it"
	rcscan=$work/rc-scan live=$work/rc-live
	mkdir -p "$rcscan"
	s6-svscan "$rcscan" &
	rcsvscan=$!
	rcfail() { s6-svscanctl -t "$rcscan" 2>/dev/null; fail "$@"; }
	until_ok test -p "$rcscan/.s6-svscan/control" || rcfail "s6-svscan on $rcscan did not start"
	s6-rc-init -c "$work/rc-db" -l "$live" "$rcscan" >"$work/rc.out" 2>&1 || rcfail "s6-rc-init failed: $(cat "$work/rc.out")"
	ok "s6-rc-init sets up the live state under a running s6-svscan"

	s6-rc -l "$live" -t 15000 -u change daemon >"$work/rc.out" 2>&1 || rcfail "s6-rc -u change daemon failed: $(cat "$work/rc.out")"
	daemon_up() { s6-svstat "$live/servicedirs/daemon" | grep -q '^up '; }
	until_ok daemon_up || rcfail "daemon is not up after s6-rc -u change: $(s6-svstat "$live/servicedirs/daemon" 2>&1)"
	order=$(grep -E '^(setup-up|daemon-run)$' "$log" | tr '\n' ' ')
	[ "$order" = "setup-up daemon-run " ] || rcfail "s6-rc -u change daemon: want setup-up then daemon-run, the log has: $order"
	active=$(s6-rc -l "$live" -a list | sort | tr '\n' ' ')
	case " $active" in *" daemon "*) ;; *) rcfail "s6-rc -a list after -u change: $active";; esac
	case " $active" in *" setup "*) ;; *) rcfail "s6-rc -a list after -u change: $active";; esac
	ok "s6-rc -u change daemon brings up the oneshot, then the longrun that depends on it"

	s6-rc -l "$live" -t 15000 -d change setup >"$work/rc.out" 2>&1 || rcfail "s6-rc -d change setup failed: $(cat "$work/rc.out")"
	daemon_down() { s6-svstat "$live/servicedirs/daemon" | grep -q '^down '; }
	until_ok daemon_down || rcfail "daemon is not down after s6-rc -d change setup: $(s6-svstat "$live/servicedirs/daemon" 2>&1)"
	grep -q '^setup-down$' "$log" || rcfail "s6-rc -d change setup did not run setup's down"
	active=$(s6-rc -l "$live" -a list | tr '\n' ' ')
	case " $active" in *" daemon "*|*" setup "*) rcfail "s6-rc -a list after -d change still has: $active";; esac
	ok "s6-rc -d change setup brings down the longrun that depends on it, then the oneshot"
	s6-svscanctl -t "$rcscan"
	wait "$rcsvscan"
fi
