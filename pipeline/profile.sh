# The programs of a profile, and what they exec, copied from the dist in
# $1 to $2 under the prefix $3; the profile's programs follow (bin/NAME,
# libexec/NAME). skarnet's programs exec one another by name through PATH
# (s6-svc runs s6-svlisten) or by the absolute paths compiled into them
# (PREFIX/libexec/s6-ftrigrd), so what a program runs is read from the
# program itself, for every release: each string of it that is a program
# of the dist's bin or sbin, or a path into them or libexec. A name only
# printed in a message counts too: the closure may hold more, never less.
set -eu
dist=$1 out=$2 prefix=$3
shift 3
p=${prefix%/} # "" for prefix /
names=$(mktemp)
for d in bin sbin; do
	[ -d "$dist$p/$d" ] && ls "$dist$p/$d"
done >"$names"
todo=$* kept=
while [ -n "$todo" ]; do
	set -- $todo
	todo=
	for prog; do
		case " $kept " in *" $prog "*) continue ;; esac
		f=$dist$p/$prog
		if [ ! -e "$f" ] && [ ! -L "$f" ]; then
			echo "profile: $prog is not in the dist" >&2
			exit 1
		fi
		kept="$kept $prog"
		if [ -L "$f" ]; then # a multicall link: its program too
			todo="$todo ${prog%/*}/$(basename "$(readlink "$f")")"
		fi
		for ref in $(grep -aoE "$p/(bin|sbin|libexec)/[A-Za-z0-9._+-]+" "$f" | sort -u); do
			if [ -e "$dist$ref" ]; then todo="$todo ${ref#"$p"/}"; fi
		done
		for name in $(tr '\0' '\n' <"$f" | grep -xF -f "$names" | sort -u); do
			for d in bin sbin; do
				if [ -e "$dist$p/$d/$name" ]; then todo="$todo $d/$name"; fi
			done
		done
	done
done
for prog in $kept; do
	mkdir -p "$out$p/${prog%/*}"
	cp -pP "$dist$p/$prog" "$out$p/$prog"
	echo "profile: $prog"
done
