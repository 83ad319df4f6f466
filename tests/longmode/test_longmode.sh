#!/bin/sh
# The long-mode program (tests/longmode/lm.c): a Multiboot kernel that
# enters 64-bit mode itself and checks what an x86-64 kernel needs (the
# 16-byte IDT, four-level paging with NX and 1 GiB pages, #DF on an IST
# stack, SYSCALL and SYSRET, SWAPGS, CR8, call gates, 8-byte MMIO).
# QEMU's CPU is qemu64 with PDPE1GB added, as ours offers it, and it has
# the pc-testdev that lguest's --exit-port brings.  On qemu-system-x86_64 every check must pass but those
# tests/cpusys/qemu-differs explains, and the status must be the verdict;
# that checks the program itself against a machine we did not write.
# On lguest it must pass the same checks once the CPU has long mode
# (issue 15); until then lguest's CPU, which does not offer long mode in
# CPUID, refuses EFER.LME with #GP as such a CPU must, and that half is a
# SKIP that says so.
cd "$(dirname "$0")/../.." || exit 1
L=${LGUEST_ASAN:-$PWD/lguest-asan}
B=build/tests/longmode
QEMU=${QEMU_SYSTEM64:-qemu-system-x86_64}
LONG_MODE=1	# lguest's CPU has long mode
make -s "$B/lm.elf" >/dev/null 2>&1 || make "$B/lm.elf" || {
	echo "not ok - $B/lm.elf builds"
	exit 1
}
. tests/lib/sysprog_qemu.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

timeout 300 "$L" --exit-port 128m "$B/lm.elf" </dev/null 2>"$T/l.err" |
	tr -d '\r' >"$T/l.out"
lrc=$?
if [ "$LONG_MODE" = 1 ]; then
	cat "$T/l.out"
else
	if grep -q 'triple fault' "$T/l.err" && ! grep -q '^ok' "$T/l.out"; then
		echo "ok - lm on lguest # SKIP no long mode in lguest's CPU yet (issue 15): EFER.LME is refused, as CPUID says"
	else
		echo "not ok - lm on lguest: expected the refusal of EFER.LME"
		head -n 5 "$T/l.err" | sed 's/^/# /'
	fi
fi
if ! command -v "$QEMU" >/dev/null 2>&1; then
	echo "ok - lm on QEMU # SKIP no $QEMU (scripts/install-deps.sh)"
	exit 0
fi
timeout 120 "$QEMU" -nodefaults -display none -no-reboot -m 128 \
	-cpu qemu64,+pdpe1gb -device pc-testdev \
	-serial "file:$T/q.raw" \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-kernel "$B/lm.elf" </dev/null >/dev/null 2>"$T/q.err"
qrc=$?
tr -d '\r' <"$T/q.raw" >"$T/q.out"
if [ "$LONG_MODE" = 1 ]; then
	sysprog_compare lm "$T/q.out" "$qrc" "$T/l.out"
	exit 0
fi
# Until then, QEMU's run alone: each of its failures must be a listed one.
fails=$(grep -c '^not ok' "$T/q.out")
sysprog_checks "$T/q.out" | while IFS='|' read -r res name; do
	why=$(awk -F'|' -v n="$name" '$1 == "lm" && $2 == n { print $3 }' \
		tests/cpusys/qemu-differs)
	if [ "$res" = ok ]; then
		echo "ok - lm on QEMU: $name"
	elif [ -n "$why" ]; then
		echo "ok - lm on QEMU: $name # SKIP QEMU differs: $why"
	else
		echo "not ok - lm on QEMU: $name"
	fi
done
want=$(( ((fails << 1) | 1) & 255 ))
[ "$qrc" -eq "$want" ] &&
	echo "ok - lm: QEMU's status $qrc is the program's verdict" ||
	echo "not ok - lm: QEMU's status $qrc, want $want"
