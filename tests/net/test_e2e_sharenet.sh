#!/bin/sh
# End to end, sharenet: two guests on one --sharenet file (in a network
# namespace of this test's own, though sharenet needs none) ping each other
# and move 16 MiB over TCP with busybox nc, with matching md5 sums on both
# ends (the rate is printed as a comment); then, with two guests up, one
# is killed with SIGKILL and a third takes its slot (its MAC, which names
# the slot, is the dead one's) and reaches the survivor.
# GUEST_VMM=qemu runs the first part with qemu's socket network between
# two qemu-system-i386 (the nearest thing it has); the second is lguest's.
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
work=$(mktemp -d)
pids=""
trap 'kill -9 $pids 2>/dev/null; rm -rf "$work"' EXIT
net=$work/segment
v=$GUEST_VMM

net_args() {	# net_args N: the NIC of guest N
	if [ "$v" = qemu ]; then
		if [ "$1" = 1 ]; then
			s="socket,id=s0,listen=127.0.0.1:7700"
		else
			s="socket,id=s0,connect=127.0.0.1:7700"
		fi
		printf '%s\n' -netdev "$s" -device virtio-net-pci,netdev=s0
	else
		echo "--sharenet=$net"
	fi
}

boot() {	# boot NAME N SCRIPT
	_a=$(net_args "$2")
	IFS='
'
	set -- "$1" "$3" $_a
	unset IFS
	net_guest_bg "$@"
	pids="$pids $NET_PID"
}

# 1. A receives, B sends.
cat >"$work/a.sh" <<EOS
$(net_guest_ip 10.11.0.1)
mkfifo /tmp/in
echo LISTENING
timeout 600 nc -l -p 5000 <>/tmp/in >/tmp/recv
md5sum /tmp/recv | sed 's/^/RECV=/;s/ .*//'
EOS
cat >"$work/b.sh" <<EOS
$(net_guest_ip 10.11.0.2)
dd if=/dev/urandom of=/tmp/send bs=1M count=16 2>/dev/null
md5sum /tmp/send | sed 's/^/SENT=/;s/ .*//'
i=0
until ping -c 1 -W 1 10.11.0.1 >/dev/null; do
	i=\$((i + 1))
	[ \$i -gt 300 ] && break
done
ping -c 3 -W 5 10.11.0.1 >/dev/null && echo PING-OK
sleep 2
echo "START=\$(cut -d' ' -f1 /proc/uptime)"
nc 10.11.0.1 5000 </tmp/send
echo "END=\$(cut -d' ' -f1 /proc/uptime)"
EOS
boot "net-share-a-$v" 1 "$work/a.sh"
a=$NET_PID
[ "$v" = qemu ] && sleep 1	# the listening side first
boot "net-share-b-$v" 2 "$work/b.sh"
b=$NET_PID
net_wait_pid "$b" 600
net_wait_pid "$a" 60
grep -q PING-OK "$GUEST_OUTDIR/net-share-b-$v.log"
guest_ok $? "e2e sharenet ($v): two guests on one segment ping each other"
sent=$(net_log_value "net-share-b-$v" SENT)
recv=$(net_log_value "net-share-a-$v" RECV)
[ -n "$sent" ] && [ "$sent" = "$recv" ]
guest_ok $? "e2e sharenet ($v): 16 MiB over TCP, md5 $sent sent, $recv received"
s=$(net_log_value "net-share-b-$v" START)
e=$(net_log_value "net-share-b-$v" END)
[ -n "$s" ] && [ -n "$e" ] && awk -v s="$s" -v e="$e" -v v="$v" \
	'BEGIN { d = e - s; if (d <= 0) d = 0.01;
		 printf "# guest to guest TCP (%s, guest clock): %.2f MB/s\n", v,
		 16777216 / d / 1e6 }'

# 2. A slot freed by a killed guest goes to the next one.
if [ "$v" = qemu ]; then
	echo "ok - e2e sharenet: slot reuse # SKIP sharenet is lguest's"
	exit 0
fi
cat >"$work/x.sh" <<EOS
$(net_guest_ip 10.11.0.3)
echo "MAC=\$(cat /sys/class/net/eth0/address)"
echo UP-AND-RUNNING
sleep 600
EOS
sed 's/10.11.0.3/10.11.0.4/' "$work/x.sh" >"$work/y.sh"
cat >"$work/z.sh" <<EOS
$(net_guest_ip 10.11.0.5)
echo "MAC=\$(cat /sys/class/net/eth0/address)"
ping -c 3 -W 5 10.11.0.4 >/dev/null && echo PING-OK
EOS
boot net-share-x 1 "$work/x.sh"
x=$NET_PID
net_wait_log net-share-x UP-AND-RUNNING "$GUEST_TIMEOUT" "$x"
boot net-share-y 2 "$work/y.sh"
y=$NET_PID
net_wait_log net-share-y UP-AND-RUNNING "$GUEST_TIMEOUT" "$y"
kill -9 "$x"
wait "$x" 2>/dev/null
boot net-share-z 1 "$work/z.sh"
z=$NET_PID
net_wait_pid "$z" 300
kill -9 "$y"
mx=$(net_log_value net-share-x MAC)
mz=$(net_log_value net-share-z MAC)
[ -n "$mx" ] && [ "$mx" = "$mz" ]
guest_ok $? "e2e sharenet: a guest started after one was killed takes its slot (MAC $mx, $mz)"
grep -q PING-OK "$GUEST_OUTDIR/net-share-z.log"
guest_ok $? "e2e sharenet: ... and pings the surviving guest"
exit 0
