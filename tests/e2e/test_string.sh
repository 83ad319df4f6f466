#!/bin/sh
# End to end: REP MOVS and REP STOS as the stock kernel's userland runs
# them (tests/e2e/string_prog.c): every element size, up and down, within
# a page and across, overlapping.  Its output, hashes of the registers and
# memory each left, must be what the same binary prints under qemu-i386,
# the outside oracle.
# run-all: timeout=900 (boots a real kernel)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_NAME=e2e-string
. tests/lib/guest.sh
trap guest_cleanup EXIT
P=build/tests/e2e/string_prog
guest_i386_prog "$P"
want=$(qemu-i386 "$P")
case $want in
*"64-byte copies"*) ;;
*)	echo "not ok - string_prog runs under qemu-i386"
	exit 0 ;;
esac
S=$(mktemp)
printf '/string_prog\n' >"$S"
GUEST_RUN_FILES=$P
guest_run "$S"
st=$?
rm -f "$S"
guest_ok $st "the guest runs string_prog and powers off"
got=$(guest_run_output | grep '^string:')
if [ "$got" = "$want" ]; then
	echo "ok - string_prog prints in the guest what it prints under qemu-i386"
else
	echo "not ok - string_prog prints in the guest what it prints" \
		"under qemu-i386"
	printf '%s\n' "$want" | sed 's/^/# want: /'
	printf '%s\n' "$got" | sed 's/^/# got:  /'
fi
[ $st = 0 ] || guest_show_log
