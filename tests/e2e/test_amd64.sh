#!/bin/sh
# End to end: Debian's stock x86-64 kernel (linux-image-amd64, with the
# amd64 busybox, built by FLAVOUR=amd64 guest/build.sh into
# guest/cache/amd64/) boots on our CPU in long mode to the busybox shell of
# our initramfs, reads a virtio disk, and powers off with status 0.  The
# loader unpacks the bzImage on the host and enters vmlinux's startup_64 in
# 64-bit mode (the 64-bit boot protocol); from there everything is the
# kernel's: four-level paging with NX, SYSCALL, SWAPGS, the 16-byte IDT and
# IST stacks, SSE2, and 64-bit user space.
#
# The kernel's crypto self-tests are skipped (cryptomgr.notests), as in
# the i686 tests.  Skipped, saying how to build it, when the flavour is not
# in guest/cache (make guest builds it).  E2E_VMM=qemu runs the same checks
# on qemu-system-x86_64.
# run-all: timeout=1500 (LGUEST_JIT=0 boots it in the interpreter: minutes)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_VMM=${E2E_VMM:-lguest}
GUEST_NAME=e2e-amd64-$GUEST_VMM
GUEST_TIMEOUT=${E2E_TIMEOUT:-1200}
GUEST_MEM=512m
GUEST_KERNEL=$PWD/guest/cache/amd64/vmlinuz
GUEST_INITRD=$PWD/guest/cache/amd64/initrd.img
GUEST_APPEND="panic=-1 cryptomgr.notests"
QEMU=${QEMU_SYSTEM64:-qemu-system-x86_64}
. tests/lib/guest.sh
T=$(mktemp -d)
trap 'guest_cleanup; rm -rf "$T"' EXIT

if [ ! -f "$GUEST_KERNEL" ] || [ ! -f "$GUEST_INITRD" ]; then
	echo "ok - the amd64 kernel boots # SKIP guest/cache/amd64 is not" \
	     "built (run make guest, or FLAVOUR=amd64 guest/build.sh)"
	exit 0
fi
if [ "$GUEST_VMM" = lguest ] && [ ! -x "$LGUEST" ]; then
	echo "not ok - $LGUEST is built"
	exit 1
fi
kver=$(cat guest/cache/amd64/kernel-version)

# A disk of known bytes for the guest to read back.
seq 1 200000 >"$T/disk.img"
truncate -s 4M "$T/disk.img"
want_disk=$(md5sum <"$T/disk.img" | cut -d' ' -f1)

guest_start "$GUEST_INITRD" $(guest_block_arg "$T/disk.img")
t0=$GUEST_T0
if ! guest_wait_prompt; then
	echo "not ok - $GUEST_VMM boots the amd64 kernel to a shell prompt"
	guest_show_log 30
	exit 1
fi
echo "ok - $GUEST_VMM boots the amd64 kernel to a shell prompt ($(guest_since "$t0")s)"

run() {
	if ! guest_cmd "$1"; then
		echo "not ok - the guest answers '$1'"
		guest_show_log
		exit 1
	fi
}

run 'uname -m; uname -r'
out=$(tr -d '\r' <"$GUEST_CMD_OUT" | tr '\n' ' ')
[ "$out" = "x86_64 $kver " ]
guest_ok $? "uname says x86_64 and the kernel $kver ($out)"

run 'grep -m 1 ^flags /proc/cpuinfo'
flags=$(tr -d '\r' <"$GUEST_CMD_OUT")
missing=""
for f in lm nx syscall sse2 fxsr cx16 pae; do
	case " $flags " in *" $f "*) ;; *) missing="$missing $f" ;; esac
done
[ -z "$missing" ]
guest_ok $? "/proc/cpuinfo flags have lm nx syscall sse2 fxsr cx16 pae${missing:+ (missing:$missing)}"

run 'seq 1 30000 | md5sum'
host=$(seq 1 30000 | md5sum | cut -d' ' -f1)
guest=$(grep -o '^[0-9a-f]\{32\}' "$GUEST_CMD_OUT" | head -n 1)
[ -n "$guest" ] && [ "$guest" = "$host" ]
guest_ok $? "64-bit busybox computes as the host does (md5sum)"

run 'md5sum /dev/vda'
got=$(grep -o '^[0-9a-f]\{32\}' "$GUEST_CMD_OUT" | head -n 1)
[ "$got" = "$want_disk" ]
guest_ok $? "the guest reads the virtio disk as the host wrote it ($got)"

run 'dmesg'
if grep -a -q 'BUG:\|Oops\|general protection\|segfault' "$GUEST_CMD_OUT"; then
	grep -a 'BUG:\|Oops\|general protection\|segfault' "$GUEST_CMD_OUT" |
		head -n 5 | sed 's/^/# /'
	echo "not ok - the kernel reports no BUG, Oops or fault"
else
	echo "ok - the kernel reports no BUG, Oops or fault"
fi

guest_send poweroff
guest_wait_exit 120
r=$?
[ $r = 0 ] && [ "$GUEST_EXIT" = 0 ]
guest_ok $? "poweroff ends $GUEST_VMM with status 0 (status ${GUEST_EXIT:-none})"
[ $r = 0 ] || guest_show_log
