#!/bin/sh
# Sequential disk throughput in the guest, lguest against qemu-system-i386
# (software emulation, virtio-blk on the same kind of raw image), in one run:
# dd with 1 MiB blocks, BENCH_MB MiB (default 256), direct I/O, write then
# read, on a raw /dev/vda.  Not part of make check (it takes minutes):
#   sh tests/virtio/bench_blk.sh
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_TIMEOUT=${BENCH_TIMEOUT:-1800}
. tests/lib/guest.sh
mb=${BENCH_MB:-256}
work=$(mktemp -d)
trap 'guest_stop; rm -rf "$work"' EXIT
guest_ensure_built || exit 1

cat >"$work/run.sh" <<SCRIPT
# busybox dd prints no rate: time it with /proc/uptime (10 ms steps).
timed() {
	t0=\$(cut -d' ' -f1 /proc/uptime)
	"\$@" 2>/dev/null
	t1=\$(cut -d' ' -f1 /proc/uptime)
	awk -v a=\$t0 -v b=\$t1 -v mb=$mb 'BEGIN {
		printf "%d MiB in %.2f s: %.1f MiB/s\\n", mb, b - a, mb / (b - a) }'
}
echo "write: \$(timed dd if=/dev/zero of=/dev/vda bs=1M count=$mb oflag=direct)"
echo "read: \$(timed dd if=/dev/vda of=/dev/null bs=1M count=$mb iflag=direct)"
SCRIPT
for vmm in ${BENCH_VMMS:-lguest qemu}; do
	GUEST_VMM=$vmm
	GUEST_NAME=bench-blk-$vmm
	rm -f "$work/disk.img"
	truncate -s $((mb + 16))M "$work/disk.img"
	guest_run "$work/run.sh" $(guest_block_arg "$work/disk.img") </dev/null ||
		{ echo "# $vmm: the run failed"; guest_show_log; continue; }
	guest_run_output | tr -d '\r' | sed "s/^/$vmm /"
done
