#!/bin/sh
# Makes an ext4 disk image that the test guest can use as its root: static
# busybox (its applets as symlinks) and guest/init as /sbin/init.  The
# virtio tests boot it with the initramfs and root=/dev/vda (the initramfs
# loads virtio_blk and ext4, mounts the disk and switch_roots to it).
#
#   guest/mkdisk.sh OUT.img [SIZE_MB [DIR]]
#
# SIZE_MB defaults to 64.  DIR, if given, is copied over the root (a test puts
# its own files there: a /run.sh in DIR runs as the test script).  Made with
# mke2fs -d, so no root rights and no loop device are needed.
set -eu

[ $# -ge 1 ] || { echo "usage: $0 OUT.img [SIZE_MB [DIR]]" >&2; exit 2; }
out=$1
size=${2:-64}
extra=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
export PATH="$PATH:/sbin:/usr/sbin"
command -v mke2fs >/dev/null ||
	{ echo "$0: mke2fs not found: install e2fsprogs" >&2; exit 1; }
[ -f "$here/cache/initramfs-root/bin/busybox" ] || "$here/build.sh" >&2

st=$(mktemp -d)
trap 'rm -rf "$st"' EXIT
mkdir -p "$st/sbin" "$st/etc" "$st/proc" "$st/sys" "$st/dev" "$st/tmp" \
	"$st/run" "$st/root" "$st/mnt"
# The initramfs's /bin is busybox and its applet links: take it whole.
cp -a "$here/cache/initramfs-root/bin" "$st/bin"
cp "$here/init" "$st/sbin/init"
chmod 755 "$st/sbin/init"
echo "lguest-disk" >"$st/etc/hostname"
: >"$st/etc/lguest-disk"
[ -n "$extra" ] && cp -a "$extra/." "$st/"

rm -f "$out"
mke2fs -q -F -t ext4 -L lguest-root -E root_owner=0:0 -d "$st" "$out" \
	"${size}M"
