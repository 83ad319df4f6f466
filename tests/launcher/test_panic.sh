#!/bin/sh
# panic=-1: lguest gives Linux panic=-1 (unless the user chose a panic=),
# so a kernel that panics reboots at once, pulls the i8042 reset line and
# lguest ends with status 2, instead of sitting on a dead guest forever.
# With --exit-port every end of lguest's own is even and distinct: a panic
# is 4 (Linux gets reboot=panic_warm and leaves the warm-boot flag at 0x472
# before a panic's reset), a plain reboot stays 2.
# The cheapest panic there is: Debian's kernel with no initrd and no root
# disk cannot mount a root file system.  Boots a real kernel: a minute or
# a few on a software CPU.
# run-all: timeout=1800 (boots a real kernel; slow under load)
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

# panic OPTIONS...: boot the kernel to its panic; the status in $rc.
# cryptomgr.notests: the crypto self-tests are most of a boot here, and
# beside the point.
panic() {
	timeout "${PANIC_TIMEOUT:-900}" "$L" "$@" 64m "$KERNEL" cryptomgr.notests \
		</dev/null >"$T/raw" 2>"$T/err"
	rc=$?
	tr -d '\r' <"$T/raw" >"$T/out"
}

panic
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

panic --exit-port
grep -q "Kernel command line: console=ttyS0 panic=-1 reboot=panic_warm cryptomgr.notests$" \
	"$T/out" &&
	echo "ok - with --exit-port the kernel also got reboot=panic_warm" ||
	echo "not ok - --exit-port: $(grep 'command line' "$T/out")"
if grep -q "Kernel panic - not syncing" "$T/out" && [ "$rc" -eq 4 ] &&
   [ ! -s "$T/err" ]; then
	echo "ok - with --exit-port a kernel panic ends lguest with status 4"
else
	echo "not ok - a kernel panic under --exit-port: status $rc (want 4)"
	tail -n 10 "$T/out" "$T/err" | sed 's/^/# /'
fi

# The user's own reboot= wins: no mark, and a panic is a reset again.
timeout "${PANIC_TIMEOUT:-900}" "$L" --exit-port 64m "$KERNEL" \
	cryptomgr.notests reboot=cold </dev/null >"$T/raw" 2>"$T/err"
rc=$?
tr -d '\r' <"$T/raw" >"$T/out"
if grep -q "Kernel command line: console=ttyS0 panic=-1 cryptomgr.notests reboot=cold$" "$T/out" &&
   grep -q "Kernel panic - not syncing" "$T/out" && [ "$rc" -eq 2 ]; then
	echo "ok - with the user's reboot=, a panic under --exit-port is a reset (2)"
else
	echo "not ok - the user's reboot= under --exit-port: status $rc (want 2)"
	grep 'command line' "$T/out" | sed 's/^/# /'
fi

# A reboot is not a panic: the test guest's shell types reboot -f.
. tests/lib/guest.sh
GUEST_NAME=panic-reboot LGUEST=$L
trap 'guest_cleanup; rm -rf "$T"' EXIT
if [ ! -f "$GUEST_INITRD" ]; then
	echo "ok - a reboot under --exit-port # SKIP no initrd (run make guest)"
	exit 0
fi
guest_start "$GUEST_INITRD" --exit-port
if guest_wait_prompt; then
	guest_send "reboot -f"
	guest_wait_exit 120
fi
if [ "$GUEST_EXIT" = 2 ] &&
   tr -d '\r' <"$GUEST_LOG" | grep -q "reboot=panic_warm"; then
	echo "ok - reboot -f under --exit-port ends lguest with the reset status 2"
else
	echo "not ok - reboot -f under --exit-port: status '$GUEST_EXIT' (want 2)"
	tail -n 5 "$GUEST_LOG" | sed 's/^/# /'
fi
