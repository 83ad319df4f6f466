#!/bin/sh
# The outside oracle: the Multiboot builds of the cpusys programs (paging,
# prot, df, triple), which test_multiboot.sh boots on lguest, boot on
# qemu-system-i386 too,
#	qemu-system-i386 -kernel prog.elf -serial ... -no-reboot \
#		-device isa-debug-exit,iobase=0xf4,iosize=0x04
# and every check must come out as on lguest, except where
# tests/cpusys/qemu-differs says why QEMU differs (tests/lib/sysprog_qemu.sh
# does the comparing).  Skipped, with the reason, without qemu-system-i386.
cd "$(dirname "$0")/../.." || exit 1
L=${LGUEST_ASAN:-$PWD/lguest-asan}
B=build/tests/multiboot
QEMU=${QEMU_SYSTEM:-qemu-system-i386}
if [ ! -x "$L" ] || [ ! -f "$B/paging.elf" ]; then
	echo "not ok - $L and $B/*.elf are built (make check builds them)"
	exit 1
fi
if ! command -v "$QEMU" >/dev/null 2>&1; then
	echo "ok - the Multiboot programs on QEMU # SKIP no $QEMU (scripts/install-deps.sh)"
	exit 0
fi
. tests/lib/sysprog_qemu.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# qemu PROG [CPU]: its console in $T/q.out, its status in $qrc (pae wants
# NX and MAXPHYADDR 36, as in tests/cpusys/test_qemu.sh).
qemu() {
	timeout 120 "$QEMU" -cpu "${2:-qemu32}" -nodefaults -display none \
		-no-reboot -m 128 \
		-serial "file:$T/q.raw" \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-kernel "$B/$1.elf" </dev/null >/dev/null 2>"$T/q.err"
	qrc=$?
	tr -d '\r' <"$T/q.raw" >"$T/q.out"
}

for p in paging pae prot df realmode vm86; do
	cpu=qemu32
	[ "$p" = pae ] && cpu=qemu32,+nx,+pse36
	qemu "$p" "$cpu"
	timeout 300 "$L" --exit-port 128m "$B/$p.elf" </dev/null 2>/dev/null |
		tr -d '\r' >"$T/l.out"
	sysprog_compare "$p" "$T/q.out" "$qrc" "$T/l.out"
done
qemu triple
sysprog_triple "$T/q.out" "$qrc"
