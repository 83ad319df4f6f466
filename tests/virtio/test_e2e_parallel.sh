#!/bin/sh
# End to end: a real guest keeps several virtio-blk requests in flight at
# once, and every byte still lands where it should.  The host fills a disk
# of six regions with random bytes; the guest (busybox, raw /dev/vda):
#   - reads four regions with four dd's at once (O_DIRECT), and
#     prints their sha256: the host compares them with its own file's;
#   - then writes two regions from random files of its own while two dd's
#     read two others, all at once, each writer ending with fsync (a FLUSH
#     while other requests are in flight); after power-off the host finds
#     the guest's bytes in its file, and the re-read regions unchanged;
#   - reports whether the driver took VIRTIO_RING_F_EVENT_IDX (bit 29 of
#     the features the kernel shows in sysfs).
# Under lguest, --verbose makes the disk say at exit how many requests its
# I/O threads carried out at once: more than one, or nothing was parallel.
# A region is 8 MiB; 1 MiB on the amd64 guest, whose 64-bit code (the
# guest's sha256sum) runs in the interpreter.
# VIRTIO_E2E_VMM=qemu runs the same script under qemu-system-i386, to check
# the test itself.
# run-all: timeout=1800 (boots a real kernel; slow under load)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_VMM=${VIRTIO_E2E_VMM:-lguest}
GUEST_NAME=virtio-parallel-$GUEST_VMM
GUEST_TIMEOUT=${VIRTIO_E2E_TIMEOUT:-1800}
. tests/lib/guest.sh
work=$(mktemp -d)
trap 'guest_stop; rm -rf "$work"' EXIT

if [ "$GUEST_VMM" = lguest ] && [ ! -x "$LGUEST" ]; then
	echo "not ok - $LGUEST is built"
	exit 1
fi
guest_ensure_built || { echo "not ok - guest/build.sh"; exit 1; }

# Region N is MB MiB at N * MB MiB; regions 0-3 are read, 4 and 5 written.
mb=8
[ "$GUEST_FLAVOUR" = amd64 ] && mb=1
head -c $((6 * mb * 1048576)) /dev/urandom >"$work/disk.img"
region_sum() {
	dd if="$1" bs=1M skip=$(($2 * mb)) count=$mb 2>/dev/null |
		sha256sum | cut -d' ' -f1
}
for r in 0 1 2 3; do
	eval "host_$r=\$(region_sum \"\$work/disk.img\" $r)"
done

cat >"$work/run.sh" <<EOF
mb=$mb
EOF
cat >>"$work/run.sh" <<'EOF'
sum() { sha256sum <"$1" | cut -d' ' -f1; }
echo "event-idx=$(cut -c30 /sys/block/vda/device/features)"
for r in 0 1 2 3; do
	dd if=/dev/vda of=/tmp/r$r bs=256k skip=$((r * mb * 4)) \
		count=$((mb * 4)) iflag=direct 2>/dev/null ||
		echo "read-failed $r" &
done
wait
for r in 0 1 2 3; do
	echo "read-$r=$(sum /tmp/r$r)"
	rm /tmp/r$r
done
for r in 4 5; do
	dd if=/dev/urandom of=/tmp/w$r bs=1M count=$mb 2>/dev/null
	echo "wrote-$r=$(sum /tmp/w$r)"
done
for r in 4 5; do
	dd if=/tmp/w$r of=/dev/vda bs=256k seek=$((r * mb * 4)) \
		oflag=direct conv=fsync 2>/dev/null || echo "write-failed $r" &
done
for r in 2 3; do
	dd if=/dev/vda of=/tmp/r$r bs=64k skip=$((r * mb * 16)) \
		count=$((mb * 16)) iflag=direct 2>/dev/null ||
		echo "reread-failed $r" &
done
wait
for r in 2 3; do
	echo "reread-$r=$(sum /tmp/r$r)"
done
EOF

if [ "$GUEST_VMM" = lguest ]; then
	verbose=--verbose
else
	verbose=
fi
t0=$(guest_now)
guest_run "$work/run.sh" $(guest_block_arg "$work/disk.img") $verbose \
	</dev/null
rc=$?
what="boots, reads and writes with several dd's at once, powers off"
guest_ok $rc "$what ($(guest_since "$t0")s)"
[ $rc = 0 ] || guest_show_log 30
out=$(guest_run_output | tr -d '\r')

check() {
	echo "$out" | grep -qx "$1"
	guest_ok $? "$2"
}
check "event-idx=1" "the driver negotiated VIRTIO_RING_F_EVENT_IDX"
echo "$out" | grep -q "failed"
[ $? = 1 ]
guest_ok $? "no dd failed in the guest"
for r in 0 1 2 3; do
	eval "want=\$host_$r"
	what="four readers at once: region $r as the host's file has it"
	check "read-$r=$want" "$what"
done
for r in 2 3; do
	eval "want=\$host_$r"
	check "reread-$r=$want" "read while two writers run: region $r unchanged"
done
for r in 4 5; do
	got=$(region_sum "$work/disk.img" $r)
	what="written beside the others, fsync'd: region $r is in the"
	check "wrote-$r=$got" "$what host's file after power-off"
done
if [ "$GUEST_VMM" = lguest ]; then
	n=$(guest_console |
		sed -n 's/.*up to \([0-9]*\) carried out at once.*/\1/p' |
		head -n 1)
	[ "${n:-0}" -gt 1 ]
	what="lguest's I/O threads carried out several requests at once"
	guest_ok $? "$what (up to ${n:-?})"
fi
