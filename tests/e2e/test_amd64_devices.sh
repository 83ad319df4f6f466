#!/bin/sh
# The device tests again, on the x86-64 guest: Debian's amd64 kernel and
# 64-bit busybox (GUEST_FLAVOUR=amd64, tests/lib/guest.sh) instead of the
# i686 one.  Each script runs as it does for the i686 guest, its lines
# prefixed "amd64:": disks (ext4 written and read back, read-only disks,
# virtio-rng, several requests in flight), the virtio console, and the
# networks (TAP, --sharenet between two guests, --net=user).  Skipped,
# saying how to build it, when the flavour is not in guest/cache (make
# guest builds it).
# run-all: timeout=3000 (six scripts of 64-bit boots)
cd "$(dirname "$0")/../.." || exit 1
if [ ! -f guest/cache/amd64/vmlinuz ] || [ ! -f guest/cache/amd64/initrd.img ]; then
	echo "ok - amd64: the device tests # SKIP guest/cache/amd64 is not" \
	     "built (run make guest, or FLAVOUR=amd64 guest/build.sh)"
	exit 0
fi
for t in tests/virtio/test_e2e_disk.sh tests/virtio/test_e2e_parallel.sh \
	 tests/virtio/test_e2e_hvc.sh \
	 tests/net/test_e2e_tap.sh tests/net/test_e2e_sharenet.sh \
	 tests/net/test_e2e_user.sh; do
	echo "# amd64: $t"
	GUEST_FLAVOUR=amd64 sh "$t" 2>&1 |
		sed -e 's/^ok - /ok - amd64: /' -e 's/^not ok - /not ok - amd64: /'
done
