#!/bin/sh
# The test-exit port (--exit-port), checked against QEMU's isa-debug-exit:
# exitprog writes a value of 1, 2 or 4 bytes to port 0xf4 (or 0xf5-0xf7)
# and lguest must end at once with the status QEMU ends with, (V << 1) | 1
# as the host keeps it (8 bits).  Each case runs on lguest and, when
# qemu-system-i386 is here, on QEMU too, so the expected numbers are checked
# against the real thing.  Without --exit-port, port 0xf4 is an ordinary
# unowned port: it reads all ones and a write does nothing.  The same
# program checks --boot-time (a write of 123 to port 0x440).
cd "$(dirname "$0")/../.." || exit 1
L=${LGUEST_ASAN:-$PWD/lguest-asan}
E=build/tests/multiboot/exitprog.elf
if [ ! -x "$L" ] || [ ! -f "$E" ]; then
	echo "not ok - $L and $E are built (make check builds them)"
	exit 1
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
QEMU=$(command -v qemu-system-i386)

# lg OUT ERR ARGS...: run lguest on exitprog; the status in $rc.
lg() {
	out=$1 err=$2
	shift 2
	timeout 60 "$L" "$@" </dev/null >"$T/raw" 2>"$err"
	rc=$?
	tr -d '\r' <"$T/raw" >"$out"
}

qemu() {	# qemu WORDS: run QEMU on exitprog; the status in $qrc.
	timeout 60 "$QEMU" -nodefaults -display none -no-reboot -m 8 \
		-serial "file:$T/qraw" \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-kernel "$E" -append "$1" </dev/null >/dev/null 2>&1
	qrc=$?
}

# case WHAT WANT WORDS
case_() {
	lg "$T/out" "$T/err" --exit-port 8m "$E" $3
	if [ "$rc" -eq "$2" ] && [ ! -s "$T/err" ] &&
	   grep -q "^exitprog: out" "$T/out" &&
	   ! grep -q "still running" "$T/out"; then
		echo "ok - $1: lguest status $rc"
	else
		echo "not ok - $1: lguest status $rc, want $2"
		cat "$T/out" "$T/err" | head -n 5 | sed 's/^/# /'
	fi
	if [ -z "$QEMU" ]; then
		echo "ok - $1 on QEMU # SKIP no qemu-system-i386"
		return
	fi
	qemu "$3"
	[ "$qrc" -eq "$2" ] && echo "ok - $1: QEMU's status is $qrc too" ||
		echo "not ok - $1: QEMU's status is $qrc, we expect $2"
}

case_ "outb 0 (a passing run)" 1 "out 1 0"
case_ "outb 0x2a" 85 "out 1 0x2a"
case_ "outb 0x7f: 255" 255 "out 1 0x7f"
case_ "outb 0x80: bit 7 shifts out of the status" 1 "out 1 0x80"
case_ "outw 0x1234" 105 "out 2 0x1234"
case_ "outl 0x12345678" 241 "out 4 0x12345678"
case_ "outl 0x3f" 127 "out 4 0x3f"
case_ "outb 0x10 to port 0xf7, the device's last byte" 33 "out 1 0x10 0xf7"
case_ "a read (0) then outb 3" 7 "read out 1 3"
grep -q "read 0xf4 = 0x00000000" "$T/out" &&
	echo "ok - port 0xf4 reads 0 with --exit-port" ||
	echo "not ok - port 0xf4 read: $(grep read "$T/out")"
if [ -n "$QEMU" ]; then
	tr -d '\r' <"$T/qraw" | grep -q "read 0xf4 = 0x00000000" &&
		echo "ok - ... as QEMU's does" ||
		echo "not ok - QEMU's port 0xf4 reads otherwise: $(grep read "$T/qraw")"
fi

# A write next to the device does not end anything.
lg "$T/out" "$T/err" --exit-port 8m "$E" out 1 5 0xf8
[ "$rc" -eq 2 ] && grep -q "still running" "$T/out" &&
	echo "ok - a write to port 0xf8 is not the exit port" ||
	echo "not ok - port 0xf8: status $rc"

# Without the option nothing owns the port: the program carries on,
# says so and resets (lguest's reset status is 2).
lg "$T/out" "$T/err" 8m "$E" read out 1 0x2a
if [ "$rc" -eq 2 ] && grep -q "read 0xf4 = 0xffffffff" "$T/out" &&
   grep -q "still running" "$T/out"; then
	echo "ok - without --exit-port, 0xf4 is unowned: reads ones, write ignored"
else
	echo "not ok - without --exit-port: status $rc"
	cat "$T/out" "$T/err" | head -n 5 | sed 's/^/# /'
fi
lg "$T/out" "$T/err" -v 8m "$E" out 1 0x2a
grep -q "write to port 0xf4: no device" "$T/err" &&
	echo "ok - --verbose reports the write to unowned port 0xf4" ||
	echo "not ok - --verbose says nothing of port 0xf4"
lg "$T/out" "$T/err" --exit-port -v 8m "$E" out 2 0x1234
grep -q "exit port: guest wrote 0x1234 (2 bytes at 0xf4): status 105" \
	"$T/err" && echo "ok - --verbose names the exit port's value" ||
	echo "not ok - --verbose: $(grep exit "$T/err")"
lg "$T/out" "$T/err" --exit-port --exit-port 8m "$E" out 1 1
[ "$rc" -eq 3 ] && echo "ok - --exit-port twice is --exit-port once" ||
	echo "not ok - --exit-port twice: status $rc"

# --boot-time prints the guest's mark without --verbose; without it,
# nothing is printed.
lg "$T/out" "$T/err" --boot-time --exit-port 8m "$E" mark out 1 0
if [ "$rc" -eq 1 ] && grep -q "^lguest: boot-time mark: .* ms since launch, [0-9]* guest instructions" "$T/err"; then
	echo "ok - --boot-time prints the mark: $(tr -d '\r' <"$T/err")"
else
	echo "not ok - --boot-time: status $rc: $(cat "$T/err")"
fi
lg "$T/out" "$T/err" --exit-port 8m "$E" mark out 1 0
[ "$rc" -eq 1 ] && [ ! -s "$T/err" ] &&
	echo "ok - without --boot-time or --verbose the mark is silent" ||
	echo "not ok - the mark without --boot-time: status $rc: $(cat "$T/err")"

# Under --exit-port only the guest's write ends odd: lguest's refusal of a
# bad command line is 8, wherever on the line the mistake stands, and so is
# a kernel it cannot load.  (Without the option it stays 1.)
refused() {	# refused WHAT ARGS...
	what=$1
	shift
	timeout 20 "$L" "$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -eq 8 ] && [ "$(wc -l <"$T/err")" -eq 1 ] &&
	   [ ! -s "$T/out" ]; then
		echo "ok - $what: status 8, $(tr -d '\r' <"$T/err")"
	else
		echo "not ok - $what: status $rc, want 8"
		head -n 3 "$T/err" | sed 's/^/# /'
	fi
}
refused "--exit-port then an unknown option" --exit-port --bogus 8m "$E"
refused "an unknown option before --exit-port" --bogus --exit-port 8m "$E"
refused "--exit-port and a bad memory size" --exit-port 8q "$E"
refused "--exit-port and a missing kernel" --exit-port 8m "$T/none.elf"
refused "--exit-port after the kernel, then a bad option" 8m "$E" \
	--exit-port --inird=x
timeout 20 "$L" --bogus 8m "$E" </dev/null >/dev/null 2>&1
rc=$?
[ "$rc" -eq 1 ] && echo "ok - without --exit-port a refusal is still 1" ||
	echo "not ok - without --exit-port a refusal: status $rc, want 1"
