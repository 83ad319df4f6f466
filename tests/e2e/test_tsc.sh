#!/bin/sh
# End to end: the TSC as the stock kernel's userland reads it
# (tests/e2e/tsc_prog.c): no two reads alike, none below the one before,
# also across translated blocks that a jump leaves early.  Its output must
# be what the same binary prints under qemu-i386 on the host's TSC, the
# outside oracle: a count of 0 on each line.
# run-all: timeout=900 (boots a real kernel)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_NAME=e2e-tsc
. tests/lib/guest.sh
trap guest_cleanup EXIT
P=build/tests/e2e/tsc_prog
guest_i386_prog "$P"
want=$(qemu-i386 "$P")
case $want in
*"alike in a row: 0 "*"read before: 0 "*"the first: 0 "*) ;;
*)	echo "not ok - under qemu-i386, tsc_prog finds each read higher"
	printf '%s\n' "$want" | sed 's/^/# /'
	exit 0 ;;
esac
S=$(mktemp)
printf '/tsc_prog\n' >"$S"
GUEST_RUN_FILES=$P
guest_run "$S"
st=$?
rm -f "$S"
guest_ok $st "the guest runs tsc_prog and powers off"
got=$(guest_run_output | grep '^tsc:')
if [ "$got" = "$want" ]; then
	echo "ok - tsc_prog prints in the guest what it prints under qemu-i386"
else
	echo "not ok - tsc_prog prints in the guest what it prints" \
		"under qemu-i386"
	printf '%s\n' "$want" | sed 's/^/# want: /'
	printf '%s\n' "$got" | sed 's/^/# got:  /'
fi
[ $st = 0 ] || guest_show_log
