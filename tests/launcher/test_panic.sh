#!/bin/sh
# panic=-1: lguest gives Linux panic=-1 (unless the user chose a panic=),
# so a kernel that panics reboots at once, pulls the i8042 reset line and
# lguest ends with status 2, instead of sitting on a dead guest forever.
# The cheapest panic there is: Debian's kernel with no initrd and no root
# disk cannot mount a root file system.  Boots a real kernel: a minute or
# a few on a software CPU.
cd "$(dirname "$0")/../.." || exit 1
L=${LGUEST:-$PWD/lguest}
KERNEL=${LGUEST_TEST_KERNEL:-guest/cache/vmlinuz}
if [ ! -x "$L" ]; then
	echo "not ok - $L is built"
	exit 1
fi
if [ ! -f "$KERNEL" ]; then
	echo "ok - a panicking kernel ends lguest # SKIP no kernel at $KERNEL (run make guest)"
	exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# cryptomgr.notests: the crypto self-tests are most of a boot here, and
# beside the point.
timeout "${PANIC_TIMEOUT:-900}" "$L" 64m "$KERNEL" cryptomgr.notests \
	</dev/null >"$T/raw" 2>"$T/err"
rc=$?
tr -d '\r' <"$T/raw" >"$T/out"
grep -q "Kernel command line: console=ttyS0 panic=-1 cryptomgr.notests$" \
	"$T/out" &&
	echo "ok - the kernel got panic=-1 after console=ttyS0" ||
	echo "not ok - no panic=-1 on the kernel's command line: $(grep 'command line' "$T/out")"
if grep -q "Kernel panic - not syncing" "$T/out" && [ "$rc" -eq 2 ]; then
	echo "ok - a kernel panic ends lguest with the reset status 2: $(grep -m1 'Kernel panic' "$T/out")"
else
	echo "not ok - a kernel panic: status $rc"
	tail -n 10 "$T/out" "$T/err" | sed 's/^/# /'
fi
