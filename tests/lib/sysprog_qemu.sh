# The system test programs of tests/cpusys (and their Multiboot builds in
# tests/multiboot) on a machine we did not write: qemu-system-i386, as a
# Multiboot kernel (-kernel), with isa-debug-exit at 0xf4 for the verdict.
# Our expectations (each check a program makes) are hand-written; here QEMU
# judges them too.  Sourced by tests/cpusys/test_qemu.sh and
# tests/multiboot/test_qemu.sh.
#
# sysprog_compare PROG QOUT QRC LOUT: QEMU printed QOUT and ended with QRC,
# lguest printed LOUT (both with \r removed).  TAP lines:
#  - every check QEMU fails is a failure, unless tests/cpusys/qemu-differs
#    lists it (then a SKIP with the reason); a listed check must pass on
#    lguest;
#  - QEMU must run the same checks as lguest, no more, no fewer (a program
#    that dies half-way on QEMU loses checks);
#  - QEMU's status must be the program's verdict, ((failed << 1) | 1).
SYSPROG_DIFFERS=tests/cpusys/qemu-differs

# Check lines as "ok|NAME" or "not ok|NAME": a SKIP counts as ok, and
# check_eq's ": got X, want Y" tail is dropped from the name.
sysprog_checks() {
	sed -n -e 's/ # SKIP.*//' \
		-e 's/: got 0x[0-9a-f]*, want 0x[0-9a-f]*$//' \
		-e 's/^\(ok\) - /\1|/p' -e 's/^\(not ok\) - /\1|/p' "$1"
}

sysprog_compare() {
	p=$1 qout=$2 qrc=$3 lout=$4
	sysprog_checks "$qout" >"$qout.checks"
	sysprog_checks "$lout" >"$lout.checks"
	nq=$(wc -l <"$qout.checks")
	fails=$(grep -c '^not ok|' "$qout.checks")
	agree=0
	while IFS='|' read -r res name; do
		why=$(awk -F'|' -v p="$p" -v n="$name" \
			'$1 == p && $2 == n { print $3; exit }' "$SYSPROG_DIFFERS")
		lres=$(awk -F'|' -v n="$name" '$2 == n { print $1; exit }' \
			"$lout.checks")
		if [ "$res" = ok ]; then
			agree=$((agree + 1))
			[ -n "$why" ] &&
				echo "# $p: QEMU now passes '$name' (listed in $SYSPROG_DIFFERS)"
		elif [ -n "$why" ] && [ "$lres" = ok ]; then
			echo "ok - $p on QEMU: $name # SKIP QEMU differs: $why"
		elif [ -n "$why" ]; then
			echo "not ok - $p: '$name' is a known QEMU difference, but lguest fails it too"
		else
			echo "not ok - $p on QEMU: $name (lguest: ${lres:-no such check})"
		fi
	done <"$qout.checks"
	echo "ok - $p on QEMU: $agree of $nq checks pass as on lguest"
	cut -d'|' -f2 "$qout.checks" | sort >"$qout.names"
	cut -d'|' -f2 "$lout.checks" | sort >"$lout.names"
	if [ "$nq" -gt 0 ] && cmp -s "$qout.names" "$lout.names"; then
		echo "ok - $p: QEMU ran the same $nq checks as lguest"
	else
		echo "not ok - $p: QEMU ran other checks than lguest (< QEMU, > lguest)"
		diff "$qout.names" "$lout.names" | grep '^[<>]' | head -n 10 |
			sed 's/^/# /'
	fi
	want=$(( ((fails << 1) | 1) & 255 ))
	[ "$qrc" -eq "$want" ] &&
		echo "ok - $p: QEMU's status $qrc is the program's verdict ($fails failed)" ||
		echo "not ok - $p: QEMU's status $qrc, want $want ($fails failed)"
}

# sysprog_triple QOUT QRC: the triple-fault program on QEMU -no-reboot: the
# machine shuts down (status 0) right after the program says it is about
# to, exactly where lguest kills it.
sysprog_triple() {
	if [ "$2" -eq 0 ] &&
	   grep -q '^ok - triple: about to triple fault' "$1" &&
	   ! grep -q 'still running' "$1" && ! grep -q '^not ok' "$1"; then
		echo "ok - triple on QEMU: shuts down where lguest kills it"
	else
		echo "not ok - triple on QEMU: status $2"
		head -n 5 "$1" | sed 's/^/# /'
	fi
}
