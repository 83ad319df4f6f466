#!/bin/sh
# The outside oracle for the cpusys programs: the very ELFs the cpusys
# harness (run.c) runs on our CPU boot on qemu-system-i386 as Multiboot
# kernels, their console port 0xe9 on QEMU's isa-debugcon and their exit
# port 0xf4 on isa-debug-exit, and every check must come out as under the
# harness, except where tests/cpusys/qemu-differs says why QEMU differs.
# The harness's interrupt port (0xf0, lguest's test harness only) is not
# on QEMU: prot finds it missing and skips its external-interrupt checks
# there, by the same probe that finds it in the harness.  Skipped, with the
# reason, without qemu-system-i386.
cd "$(dirname "$0")/../.." || exit 1
B=build/tests/cpusys
QEMU=${QEMU_SYSTEM:-qemu-system-i386}
if [ ! -x "$B/run" ] || [ ! -f "$B/paging.elf" ]; then
	echo "not ok - $B/run and $B/*.elf are built (make check builds them)"
	exit 1
fi
if ! command -v "$QEMU" >/dev/null 2>&1; then
	echo "ok - the cpusys programs on QEMU # SKIP no $QEMU (scripts/install-deps.sh)"
	exit 0
fi
. tests/lib/sysprog_qemu.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# qemu PROG [ARGS]: its console in $T/q.out, its status in $qrc.  pae
# needs a CPU with NX (QEMU's default qemu32 has none) and, for QEMU to
# give it MAXPHYADDR 36 as the SDM does for any CPU with PAE, PSE-36 (QEMU
# sizes physical addresses of a 32-bit CPU by that bit alone).
qemu() {
	p=$1
	shift
	: >"$T/q.out"
	timeout 120 "$QEMU" "$@" -nodefaults -display none -no-reboot -m 128 \
		-chardev "file,id=dbg,path=$T/q.out" \
		-device isa-debugcon,iobase=0xe9,chardev=dbg \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-kernel "$B/$p.elf" </dev/null >/dev/null 2>"$T/q.err"
	qrc=$?
}

# QEMU's default CPU (qemu32) has no CLFLUSH; ours has, as every SSE2
# processor does.
for p in paging pae prot df vm86 sse; do
	case $p in
	pae) qemu "$p" -cpu qemu32,+nx,+pse36 ;;
	sse) qemu "$p" -cpu qemu32,+clflush ;;
	*) qemu "$p" ;;
	esac
	# The harness's own last line names the ELF; it is no check of the
	# program's.
	timeout 120 "$B/run" "$B/$p.elf" | grep -v "^[a-z ]* - $B/" >"$T/l.out"
	sysprog_compare "$p" "$T/q.out" "$qrc" "$T/l.out"
done
qemu triple
sysprog_triple "$T/q.out" "$qrc"
