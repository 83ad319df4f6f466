#!/bin/sh
# End to end: the stock kernel, now offered MMX, SSE and SSE2, runs an
# i386 program that uses them as userland does (tests/e2e/sse_prog.c:
# glibc's SSE2 string functions, SSE2 floating point in every rounding
# mode, packed integer and MMX intrinsics, XMM registers kept across
# process switches by the kernel's FXSAVE, an unmasked SIMD exception
# delivered as SIGFPE).  Its output must be what the same binary prints
# under qemu-i386, the outside oracle, line for line; the SIGFPE line,
# which qemu-i386 cannot produce (QEMU raises no #XM), must say
# FPE_FLTDIV.
# run-all: timeout=900 (boots a real kernel)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_NAME=e2e-sse
. tests/lib/guest.sh
trap guest_cleanup EXIT
P=build/tests/e2e/sse_prog
guest_i386_prog "$P"
want=$(qemu-i386 "$P" | grep -v '^xm:')
S=$(mktemp)
printf 'grep -m1 "^flags" /proc/cpuinfo\n/sse_prog\n' >"$S"
GUEST_RUN_FILES=$P
guest_run "$S"
st=$?
rm -f "$S"
out=$(guest_run_output)
guest_ok $st "the guest runs sse_prog and powers off"
flags=$(printf '%s\n' "$out" | grep '^flags')
for f in mmx fxsr sse sse2; do
	case " $flags " in
	*" $f "*) echo "ok - /proc/cpuinfo lists $f" ;;
	*) echo "not ok - /proc/cpuinfo lists $f: $flags" ;;
	esac
done
# The console carries the kernel's own late messages too (the TSC's
# refined calibration, a second or so after boot, lands in the script's
# output when the guest boots fast enough): they are not sse_prog's.
got=$(printf '%s\n' "$out" | grep -v -e '^flags' -e '^xm:' \
	-e '^\[ *[0-9][0-9]*\.[0-9]*\] ')
if [ -n "$want" ] && [ "$got" = "$want" ]; then
	echo "ok - sse_prog prints in the guest what it prints under qemu-i386"
else
	echo "not ok - sse_prog prints in the guest what it prints under qemu-i386"
	printf '%s\n' "$want" >"$GUEST_OUTDIR/sse_prog.want"
	printf '%s\n' "$got" >"$GUEST_OUTDIR/sse_prog.got"
	diff "$GUEST_OUTDIR/sse_prog.want" "$GUEST_OUTDIR/sse_prog.got" |
		head -n 20 | sed 's/^/# /'
fi
xm=$(printf '%s\n' "$out" | grep '^xm:')
[ "$xm" = "xm: SIGFPE FPE_FLTDIV" ]
guest_ok $? "an unmasked SIMD divide by zero is SIGFPE FPE_FLTDIV ($xm)"
[ $st = 0 ] || guest_show_log
