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
