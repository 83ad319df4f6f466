#!/bin/sh
# End to end: the virtio devices under a real guest (Debian's kernel, our
# initramfs, tests/lib/guest.sh).  One boot covers the lot, because a boot
# on the software CPU takes minutes:
#   vda  root disk (guest/mkdisk.sh), root=/dev/vda as the original README
#   vdb  ext4 data disk the host filled with mke2fs -d: the guest reads the
#        host's file, writes its own, syncs; after power-off the host finds
#        it with debugfs
#   vdc  the same kind of disk given as --block=FILE,ro: the guest sees a
#        read-only disk, its writes fail, and the host file's checksum is
#        unchanged
#   /dev/hwrng gives bytes (virtio-rng, on by default)
# VIRTIO_E2E_VMM=qemu runs the same script under qemu-system-i386, to check
# the test itself.  VIRTIO_E2E_TIMEOUT bounds the boot (default 1800 s: a
# boot takes 5 minutes on an idle 2-core host, 20 on a loaded one).
# run-all: timeout=1800 (boots a real kernel; slow under load)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_VMM=${VIRTIO_E2E_VMM:-lguest}
GUEST_NAME=virtio-e2e-$GUEST_VMM
GUEST_TIMEOUT=${VIRTIO_E2E_TIMEOUT:-1800}
. tests/lib/guest.sh
export PATH="$PATH:/sbin:/usr/sbin"
work=$(mktemp -d)
trap 'guest_stop; rm -rf "$work"' EXIT

if [ "$GUEST_VMM" = lguest ] && [ ! -x "$LGUEST" ]; then
	echo "not ok - $LGUEST is built"
	exit 1
fi
guest_ensure_built || { echo "not ok - guest/build.sh"; exit 1; }

mkdir -p "$work/root" "$work/data" "$work/ro"
guest/mkdisk.sh "$work/root.img" 32 "$work/root" >/dev/null
echo "host-wrote-this $$" >"$work/data/hostfile"
mke2fs -q -t ext4 -d "$work/data" "$work/data.img" 16M >/dev/null
echo "read-only-disk $$" >"$work/ro/rofile"
mke2fs -q -t ext4 -d "$work/ro" "$work/ro.img" 8M >/dev/null
ro_sum=$(sha256sum <"$work/ro.img")

cat >"$work/run.sh" <<'EOF'
echo "root=$(awk '$2 == "/" { print $1, $3 }' /proc/mounts | tail -n 1)"
mkdir -p /tmp/d /tmp/r
mount -t ext4 /dev/vdb /tmp/d && echo "data-mounted"
echo "hostfile=$(cat /tmp/d/hostfile)"
echo "guest-wrote-this" >/tmp/d/guestfile && sync && echo "guest-synced"
umount /tmp/d
echo "vdc-ro=$(cat /sys/block/vdc/ro)"
mount -t ext4 -o ro,noload /dev/vdc /tmp/r && echo "rofile=$(cat /tmp/r/rofile)"
touch /tmp/r/new 2>/dev/null || echo "ro-touch-refused"
umount /tmp/r
dd if=/dev/zero of=/dev/vdc bs=512 count=1 conv=fsync 2>/dev/null ||
	echo "ro-dd-refused"
echo "rng=$(cat /sys/class/misc/hw_random/rng_current)"
echo "rng-bytes=$(dd if=/dev/hwrng bs=32 count=1 2>/dev/null | wc -c)"
EOF

if [ "$GUEST_VMM" = qemu ]; then
	ro_arg="-drive file=$work/ro.img,if=virtio,format=raw,readonly=on"
	extra="-device virtio-rng-pci"
else
	ro_arg="--block=$work/ro.img,ro"
	extra="--rng"
fi
GUEST_APPEND="$GUEST_APPEND root=/dev/vda"
t0=$(guest_now)
guest_run "$work/run.sh" $(guest_block_arg "$work/root.img") \
	$(guest_block_arg "$work/data.img") $ro_arg $extra </dev/null
rc=$?
guest_ok $rc "boots with three disks, runs the test script, powers off ($(guest_since "$t0")s)"
[ $rc = 0 ] || guest_show_log 30
out=$(guest_run_output | tr -d '\r')

check() {
	echo "$out" | grep -qx "$1"
	guest_ok $? "$2"
}
check "root=/dev/vda ext4" "root=/dev/vda: / is the ext4 on the first disk"
check "data-mounted" "the host's mke2fs -d image mounts in the guest"
check "hostfile=host-wrote-this $$" "the guest reads the file the host wrote"
check "guest-synced" "the guest writes a file and syncs"
debugfs -R "cat /guestfile" "$work/data.img" 2>/dev/null |
	grep -qx "guest-wrote-this"
guest_ok $? "after power-off the host finds the guest's file (debugfs)"
check "vdc-ro=1" "--block=FILE,ro: the guest sees a read-only disk"
check "rofile=read-only-disk $$" "the read-only disk is readable"
check "ro-touch-refused" "a write to the read-only file system fails"
check "ro-dd-refused" "a raw write to the read-only disk fails"
[ "$(sha256sum <"$work/ro.img")" = "$ro_sum" ]
guest_ok $? "the read-only disk's host file is unchanged (sha256)"
check "rng=virtio_rng.0" "the guest's hwrng is virtio-rng"
check "rng-bytes=32" "/dev/hwrng gives 32 bytes"
