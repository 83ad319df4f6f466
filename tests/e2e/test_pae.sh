#!/bin/sh
# End to end: Debian's stock PAE kernel (linux-image-686-pae, built by
# FLAVOUR=686-pae guest/build.sh into guest/cache/686-pae/) boots on our CPU
# to the busybox shell of our initramfs and powers off with status 0.  That
# kernel runs only on PAE page tables (CONFIG_X86_PAE: it refuses a CPU
# without PAE) and turns NX on when CPUID offers it, so it walks our
# three-level tables and sets EFER.NXE from its first page-table switch on.
# In the guest: dmesg says NX protection is active, HugeTLB offers 2 MiB
# pages (4 MiB without PAE), /proc/cpuinfo has pae and nx, and the shell
# computes what the host does.
#
# Skipped, saying how to build it, when that flavour is not in guest/cache
# (make guest builds it; .ci/run runs make guest).  E2E_VMM=qemu runs the
# same checks on qemu-system-i386 with NX (QEMU's qemu32 has none).
# run-all: timeout=900 (boots a real kernel; slow under load)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_VMM=${E2E_VMM:-lguest}
GUEST_NAME=e2e-pae-$GUEST_VMM
GUEST_TIMEOUT=${E2E_TIMEOUT:-600}
GUEST_KERNEL=$PWD/guest/cache/686-pae/vmlinuz
GUEST_INITRD=$PWD/guest/cache/686-pae/initrd.img
. tests/lib/guest.sh
trap guest_cleanup EXIT

if [ ! -f "$GUEST_KERNEL" ] || [ ! -f "$GUEST_INITRD" ]; then
	echo "ok - the 686-pae kernel boots # SKIP guest/cache/686-pae is not" \
	     "built (run make guest, or FLAVOUR=686-pae guest/build.sh)"
	exit 0
fi
if [ "$GUEST_VMM" = lguest ] && [ ! -x "$LGUEST" ]; then
	echo "not ok - $LGUEST is built"
	exit 1
fi

kver=$(cat guest/cache/686-pae/kernel-version)
config=guest/cache/686-pae/kernel-root/boot/config-$kver
grep -q '^CONFIG_X86_PAE=y$' "$config"
guest_ok $? "the kernel $kver is built for PAE page tables ($config)"

if [ "$GUEST_VMM" = qemu ]; then
	guest_start "$GUEST_INITRD" -cpu qemu32,+nx
else
	guest_start
fi
t0=$GUEST_T0
if ! guest_wait_prompt; then
	echo "not ok - $GUEST_VMM boots the 686-pae kernel to a shell prompt"
	guest_show_log 30
	exit 1
fi
echo "ok - $GUEST_VMM boots the 686-pae kernel to a shell prompt ($(guest_since "$t0")s)"

run() {
	if ! guest_cmd "$1"; then
		echo "not ok - the guest answers '$1'"
		guest_show_log
		exit 1
	fi
}

run 'uname -r'
[ "$(tr -d '\r' <"$GUEST_CMD_OUT")" = "$kver" ]
guest_ok $? "uname -r names the PAE kernel $kver"

run 'dmesg'
grep -q 'NX (Execute Disable) protection: active' "$GUEST_CMD_OUT"
guest_ok $? "dmesg: NX (Execute Disable) protection: active"
grep -q 'HugeTLB: registered 2.00 MiB page size' "$GUEST_CMD_OUT"
guest_ok $? "dmesg: 2 MiB huge pages, the PAE format's large pages"
grep -q 'Checked W+X mappings: passed' "$GUEST_CMD_OUT"
guest_ok $? "dmesg: the kernel's W+X check of its page tables passed"
sed -n 's/^\[[ 0-9.]*\] \(NX\|HugeTLB: reg\|x86\/mm: Checked\)/# \1/p' \
	"$GUEST_CMD_OUT"

run 'grep -m 1 ^flags /proc/cpuinfo'
flags=$(tr -d '\r' <"$GUEST_CMD_OUT")
missing=""
for f in pae nx; do
	case " $flags " in *" $f "*) ;; *) missing="$missing $f" ;; esac
done
[ -z "$missing" ]
guest_ok $? "/proc/cpuinfo flags have pae and nx${missing:+ (missing:$missing)}"

run 'seq 1 30000 | md5sum'
host=$(seq 1 30000 | md5sum | cut -d' ' -f1)
guest=$(grep -o '^[0-9a-f]\{32\}' "$GUEST_CMD_OUT" | head -n 1)
[ -n "$guest" ] && [ "$guest" = "$host" ]
guest_ok $? "md5sum of bytes made in the guest equals the host's"

guest_send poweroff
guest_wait_exit 60
r=$?
[ $r = 0 ] && [ "$GUEST_EXIT" = 0 ]
guest_ok $? "poweroff ends $GUEST_VMM with status 0 (status ${GUEST_EXIT:-none})"
[ $r = 0 ] || guest_show_log
