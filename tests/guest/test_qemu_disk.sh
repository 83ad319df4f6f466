#!/bin/sh
# Checks guest/mkdisk.sh and booting with root on a virtio disk, under
# qemu-system-i386: the initramfs loads virtio_blk and ext4, mounts
# root=/dev/vda read-write, switch_roots to the disk's busybox, runs the
# disk's /run.sh, which writes a file; after power-off the host reads that
# file back from the image (debugfs), so the write reached the disk.
# run-all: timeout=1800 (boots a real kernel; slow under load)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_VMM=qemu
GUEST_NAME=qemu-disk
. tests/lib/guest.sh
export PATH="$PATH:/sbin:/usr/sbin"
work=$(mktemp -d)
trap 'guest_cleanup; rm -rf "$work"' EXIT

guest_ensure_built || { echo "not ok - guest/build.sh"; exit 1; }
mkdir -p "$work/root"
cat >"$work/root/run.sh" <<'EOF'
echo "root=$(awk '$2 == "/" { print $1, $3 }' /proc/mounts | tail -n 1)"
echo "disk-marker=$(cat /etc/hostname)"
seq 1 1000 >/written
sync
EOF
guest/mkdisk.sh "$work/disk.img" 32 "$work/root" >/dev/null
guest_ok $? "guest/mkdisk.sh makes an ext4 root image"

empty=$(mktemp)
GUEST_APPEND="$GUEST_APPEND root=/dev/vda rw"
t0=$(guest_now)
guest_start "$GUEST_INITRD" $(guest_block_arg "$work/disk.img") </dev/null
guest_wait_for "LGUEST-GUEST-RUN-END status=0" && guest_wait_exit 30
rc=$?
guest_ok $rc "boots with root on /dev/vda, runs the disk's /run.sh ($(guest_since "$t0")s)"
[ $rc = 0 ] || guest_show_log
guest_console | grep -qx "root=/dev/vda ext4"
guest_ok $? "/ is the ext4 on /dev/vda"
guest_console | grep -qx "disk-marker=lguest-disk"
guest_ok $? "the disk's own files are seen"
seq 1 1000 >"$empty"
debugfs -R "cat /written" "$work/disk.img" 2>/dev/null | cmp -s - "$empty"
guest_ok $? "the file the guest wrote is on the image after power-off"
rm -f "$empty"
