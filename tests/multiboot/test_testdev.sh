#!/bin/sh
# QEMU's pc-testdev and fw_cfg as --exit-port brings them (what
# kvm-unit-tests' start-up, realmode, emulator and eventinj use): exitprog
# reads and writes the scratch register at ports 0xe0-0xe3 and 0xe8-0xeb in
# every size, the 64 KiB window at 0xff000000 (plain and by REP INS/OUTS),
# the fw_cfg items kvm-unit-tests reads, and an interrupt line at 0x2000+n.
# Each run's lines are compared with the lines we expect and, when
# qemu-system-i386 is here, with what QEMU's own devices print for the same
# words.  Without --exit-port none of these ports is there.
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

# run WHAT WORDS WANT-LINES: lguest and QEMU print WANT-LINES (the
# "exitprog:" lines without the prefix, | between lines).
run() {
	printf '%s\n' "$3" | tr '|' '\n' | sed -e 's/^[[:space:]]*//' \
		-e 's/[[:space:]]*$//' -e '/^$/d' >"$T/want"
	timeout 60 "$L" --exit-port 128m "$E" $2 out 1 0 0xf4 </dev/null \
		2>"$T/err" | tr -d '\r' | sed -n 's/^exitprog: //p' |
		grep -v '^out ' >"$T/got"
	if cmp -s "$T/want" "$T/got" && [ ! -s "$T/err" ]; then
		echo "ok - $1"
	else
		echo "not ok - $1"
		diff "$T/want" "$T/got" | sed 's/^/# /' | head -n 10
		sed 's/^/# /' "$T/err" | head -n 3
	fi
	if [ -z "$QEMU" ]; then
		echo "ok - ... as QEMU's # SKIP no qemu-system-i386"
		return
	fi
	timeout 60 "$QEMU" -nodefaults -display none -no-reboot -m 128 \
		-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-device pc-testdev -kernel "$E" -append "$2 out 1 0 0xf4" \
		</dev/null 2>/dev/null | tr -d '\r' |
		sed -n 's/^exitprog: //p' | grep -v '^out ' >"$T/qemu"
	if cmp -s "$T/want" "$T/qemu"; then
		echo "ok - ... as QEMU's"
	else
		echo "not ok - ... QEMU's differ"
		diff "$T/want" "$T/qemu" | sed 's/^/# /' | head -n 10
	fi
}

run "the scratch register at 0xe0, read back in every size and offset" \
    "out 4 0x12345678 0xe0 in 4 0xe0 in 1 0xe1 in 2 0xe2 in 1 0xe3" \
    "in 0x000000e0 = 0x12345678 | in 0x000000e1 = 0x00000056 |
     in 0x000000e2 = 0x00001234 | in 0x000000e3 = 0x00000012"
run "... written a byte and a word at a time" \
    "out 4 0x12345678 0xe0 out 1 0xab 0xe1 out 2 0xbeef 0xe2 in 4 0xe0" \
    "in 0x000000e0 = 0xbeefab78"
run "... and through the byte-wise ports 0xe8-0xeb" \
    "out 4 0x11223344 0xe8 in 1 0xea in 2 0xe8 in 4 0xe0 out 1 5 0xeb in 4 0xe8" \
    "in 0x000000ea = 0x00000022 | in 0x000000e8 = 0x00003344 |
     in 0x000000e0 = 0x11223344 | in 0x000000e8 = 0x05223344"
run "the memory window at 0xff000000 keeps bytes in every size" \
    "poke 4 0xcafef00d 0xff000000 peek 4 0xff000000 peek 2 0xff000001
     poke 1 0x5a 0xff00ffff peek 1 0xff00ffff poke 2 0x1234 0xff008000
     peek 4 0xff007ffe" \
    "peek 0xff000000 = 0xcafef00d | peek 0xff000001 = 0x0000fef0 |
     peek 0xff00ffff = 0x0000005a | peek 0xff007ffe = 0x12340000"
run "REP INSB from the scratch register into the window" \
    "out 4 0x11223344 0xe0 ins 1 0xe0 0xff000100 16 peek 4 0xff00010c
     peek 1 0xff000110" \
    "peek 0xff00010c = 0x44444444 | peek 0xff000110 = 0x00000000"
run "REP OUTSW from the window to the scratch register" \
    "poke 4 0x01020304 0xff000200 out 4 0xaabbccdd 0xe0
     outs 2 0xe0 0xff000200 2 in 4 0xe0" \
    "in 0x000000e0 = 0xaabb0102"
run "fw_cfg: the QEMU signature, one CPU, 128 MiB" \
    "out 2 0 0x510 in 1 0x511 in 1 0x511 in 1 0x511 in 1 0x511
     out 2 5 0x510 in 1 0x511 in 1 0x511 out 2 3 0x510 in 1 0x511
     in 1 0x511 in 1 0x511 in 1 0x511 in 1 0x511" \
    "in 0x00000511 = 0x00000051 | in 0x00000511 = 0x00000045 |
     in 0x00000511 = 0x0000004d | in 0x00000511 = 0x00000055 |
     in 0x00000511 = 0x00000001 | in 0x00000511 = 0x00000000 |
     in 0x00000511 = 0x00000000 | in 0x00000511 = 0x00000000 |
     in 0x00000511 = 0x00000000 | in 0x00000511 = 0x00000008 |
     in 0x00000511 = 0x00000000"

# An interrupt line: a write of 1 to 0x2003 raises IRQ 3 (nobody's on a
# PC without COM2), which the 8259's request register then shows.
timeout 60 "$L" --exit-port 128m "$E" out 1 0x0a 0x20 in 1 0x20 \
	out 1 1 0x2003 in 1 0x20 out 1 0 0xf4 </dev/null 2>/dev/null |
	tr -d '\r' | sed -n 's/^exitprog: in 0x00000020 = //p' >"$T/irr"
before=$(head -n 1 "$T/irr") after=$(sed -n 2p "$T/irr")
if [ -n "$after" ] && [ $((before & 8)) -eq 0 ] &&
   [ $((after & 8)) -eq 8 ]; then
	echo "ok - a write of 1 to port 0x2003 raises IRQ 3 ($before, $after)"
else
	echo "not ok - port 0x2003: the 8259's IRR went from $before to $after"
fi

# Without --exit-port: ports nobody owns read all ones.
timeout 60 "$L" 128m "$E" in 4 0xe0 in 1 0x511 </dev/null 2>/dev/null |
	tr -d '\r' | sed -n 's/^exitprog: //p' >"$T/got"
if grep -q '^in 0x000000e0 = 0xffffffff' "$T/got" &&
   grep -q '^in 0x00000511 = 0x000000ff' "$T/got"; then
	echo "ok - without --exit-port, neither pc-testdev nor fw_cfg is there"
else
	echo "not ok - without --exit-port: $(tr '\n' ' ' <"$T/got")"
fi
