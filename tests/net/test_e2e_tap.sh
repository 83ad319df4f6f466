#!/bin/sh
# End to end, TAP: a guest started with --tunnet=10.10.0.1, in a network
# namespace of this test's own, pings the host side, fetches a file from a
# web server the test runs in the namespace, and sends 16 MiB over TCP to
# the host (the rate is printed as a comment).  Under lguest, its
# --verbose counts per queue then say that notification suppression
# works: fewer receive interrupts than receive buffers used (the event
# index holds back those the driver does not want while it polls), and
# fewer transmit interrupts than frames sent.  GUEST_VMM=qemu runs the
# same guest commands under qemu-system-i386 on a TAP device.
# run-all: timeout=1800 (boots a real kernel; slow under load)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
. tests/lib/guest.sh
. tests/net/e2e_lib.sh
net_enter_ns "$0" "$@"

if ! guest_ensure_built; then
	echo "not ok - the test guest is built (guest/build.sh)"
	exit 1
fi
www=$(mktemp -d)
srv="" sink=""
trap 'guest_stop; kill $srv $sink 2>/dev/null; rm -rf "$www"' EXIT
head -c 1048576 /dev/urandom >"$www/file"
sum=$(net_md5 "$www/file")
$HBB httpd -f -p 8080 -h "$www" &
srv=$!
net_sink 5001 "$www/sink"
sink=$NET_SINK

GUEST_NAME=net-e2e-tap-$GUEST_VMM
script=$www/run.sh
cat >"$script" <<EOS
$(net_guest_ip 10.10.0.2)
ping -c 3 -W 5 10.10.0.1 >/dev/null && echo PING-OK
wget -q -O /tmp/file http://10.10.0.1:8080/file &&
	md5sum /tmp/file | sed 's/^/SUM=/;s/ .*//'
dd if=/dev/zero of=/tmp/big bs=1M count=16 2>/dev/null
nc 10.10.0.1 5001 </tmp/big && echo SENT-OK
EOS
args=$(net_tap_args 10.10.0.1 0)
IFS='
'
set -- $args
unset IFS
[ "$GUEST_VMM" = lguest ] && set -- --verbose "$@"
guest_run "$script" "$@"
rc=$?
guest_ok $rc "e2e tap ($GUEST_VMM): a guest with a TAP NIC runs its script"
[ $rc = 0 ] || guest_show_log
out=$(guest_run_output | tr -d '\r')
echo "$out" | grep -qx PING-OK
guest_ok $? "e2e tap ($GUEST_VMM): the guest pings the host side 10.10.0.1"
[ "$(echo "$out" | sed -n 's/^SUM=//p')" = "$sum" ]
guest_ok $? "e2e tap ($GUEST_VMM): the guest fetches 1 MiB from the host's web server, md5 matches"
net_wait_pid "$sink" 10
[ "$(stat -c %s "$www/sink" 2>/dev/null)" = 16777216 ] &&
	echo "$out" | grep -qx SENT-OK
guest_ok $? "e2e tap ($GUEST_VMM): 16 MiB over TCP from guest to host arrive whole"
if [ "$GUEST_VMM" = lguest ]; then
	# "virtio-net: queue Q: K kicks, U chains used, I interrupts (H
	# more held back ...)" -> "K U I H"
	queue() {
		guest_console | tr -d '\r' | sed -n "s/^lguest: virtio-net: \
queue $1: \([0-9]*\) kicks, \([0-9]*\) chains used, \([0-9]*\) \
interrupts (\([0-9]*\) more held back.*/\1 \2 \3 \4/p"
	}
	# (IFS may be a newline here: split on spaces explicitly.)
	IFS=' ' read -r k u i h <<EOF
$(queue 0)
EOF
	[ "${h:-0}" -gt 0 ] && [ "${i:-0}" -lt "${u:-0}" ]
	guest_ok $? "e2e tap (lguest): ${i:-no} receive interrupts for ${u:-no} buffers used (${h:-none} held back by the event index)"
	IFS=' ' read -r k u i h <<EOF
$(queue 1)
EOF
	[ "${u:-0}" -gt 0 ] && [ "${i:-0}" -lt "${u:-0}" ]
	guest_ok $? "e2e tap (lguest): ${i:-no} transmit interrupts for ${u:-no} frames sent"
fi
r=$(net_sink_rate "$www/sink") &&
	echo "# guest to host TCP over TAP ($GUEST_VMM): $r MB/s"
exit 0
