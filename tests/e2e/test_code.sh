#!/bin/sh
# End to end: a call of a PIC thunk in another page, which the translator
# runs in line, and then other code written over the thunk and another
# page mapped where it was (tests/e2e/code_prog.c).  Each call's result
# must be what the code there says: the same binary's output under
# qemu-i386, the outside oracle.
# run-all: timeout=900 (boots a real kernel)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_NAME=e2e-code
. tests/lib/guest.sh
trap guest_cleanup EXIT
P=build/tests/e2e/code_prog
guest_i386_prog "$P"
want=$(qemu-i386 "$P")
case $want in
*"mapped over"*) ;;
*)	echo "not ok - code_prog runs under qemu-i386"
	exit 0 ;;
esac
S=$(mktemp)
printf '/code_prog\n' >"$S"
GUEST_RUN_FILES=$P
guest_run "$S"
st=$?
rm -f "$S"
guest_ok $st "the guest runs code_prog and powers off"
got=$(guest_run_output | grep '^code:')
if [ "$got" = "$want" ]; then
	echo "ok - code_prog prints in the guest what it prints under qemu-i386"
else
	echo "not ok - code_prog prints in the guest what it prints" \
		"under qemu-i386"
	printf '%s\n' "$want" | sed 's/^/# want: /'
	printf '%s\n' "$got" | sed 's/^/# got:  /'
fi
[ $st = 0 ] || guest_show_log
