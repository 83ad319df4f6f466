#!/bin/sh
# End to end, a hostile peer on a sharenet file (DESIGN.md, "Peers are
# hostile too"): two guests on one --sharenet file (A under lguest-asan, B
# under lguest) ping each other while build/tests/net/sharenet_hostile,
# another process on the same file, attacks it in turn:
#
#   owners    fake lock owners and fake indices in every slot's control page
#             and impossible lengths in every cell
#   garbage   random bytes into every byte of the file, over and over
#   truncate  the file cut to 0 bytes and grown back, over and over
#   waiters   sleepers on the first 128 bytes of both slots' control pages,
#             taking wake-ups; they stay while the guests power off
#
# After each attack the guests must reach each other again, and at the end
# both power off with status 0: a peer may cost us frames, never the
# guest's liveness.  The hostile peer runs HOSTILE_SECS seconds (default
# 4) per attack; HOSTILE_MODES limits the attacks (default all four).
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
. tests/lib/guest.sh
. tests/net/e2e_lib.sh
net_enter_ns "$0" "$@"

if [ "$GUEST_VMM" = qemu ]; then
	echo "ok - e2e sharenet hostile # SKIP sharenet is lguest's"
	exit 0
fi
hostile=$PWD/build/tests/net/sharenet_hostile
if [ ! -x "$hostile" ]; then
	echo "not ok - $hostile is not built (make check builds it)"
	exit 1
fi
if ! guest_ensure_built; then
	echo "not ok - the test guest is built (guest/build.sh)"
	exit 1
fi
secs=${HOSTILE_SECS:-4}
modes=${HOSTILE_MODES:-owners garbage truncate waiters}
work=$(mktemp -d)
pids=""
trap 'kill -9 $pids 2>/dev/null; rm -rf "$work"' EXIT
net=$work/segment
: >"$net"	# sharenet makes it; here first so that it is ours

# A answers pings until it is told to stop.  B pings A once before the
# attacks, then for each attack: says READY, waits for "go", pings
# through the attack, waits for "done", and must reach A again.
cat >"$work/a.sh" <<EOS
$(net_guest_ip 10.12.0.1)
echo UP-AND-RUNNING
read line
echo "A-BYE=\$line"
EOS
cat >"$work/b.sh" <<EOS
$(net_guest_ip 10.12.0.2)
# reach N: a ping answered within N seconds of the guest's clock.  By the
# clock, not by count: right after an attack a ping can fail at once,
# many times over, and a count ran out in a second.
reach() {
	end=\$((\$(cut -d. -f1 /proc/uptime) + \$1))
	until ping -c 1 -W 1 10.12.0.1 >/dev/null; do
		[ \$(cut -d. -f1 /proc/uptime) -ge \$end ] && return 1
		sleep 0.1
	done
}
reach 300 && echo PING0-OK
for m in $modes; do
	echo "READY-\$m"
	read line
	got=\$(ping -c $((secs * 4)) -i 0.25 -W 1 10.12.0.1 2>/dev/null |
		sed -n 's/.* \([0-9]*\) packets received.*/\1/p')
	echo "DURING-\$m=\$got"
	read line
	reach 60 && echo "AFTER-\$m=ok"
done
echo B-DONE
EOS

lg_asan=$LGUEST_ASAN
[ -x "$lg_asan" ] || lg_asan=$PWD/lguest-asan
LGUEST=$lg_asan net_guest_bg net-hostile-a "$work/a.sh" "--sharenet=$net"
a=$NET_PID
pids="$pids $a"
net_wait_log net-hostile-a UP-AND-RUNNING "$GUEST_TIMEOUT" "$a"
net_guest_bg net-hostile-b "$work/b.sh" "--sharenet=$net"
b=$NET_PID
pids="$pids $b"
# Our own read-write descriptors on the guests' stdin fifos: a write
# never blocks, even after a guest died.
exec 8<>"$GUEST_OUTDIR/net-hostile-a.fifo" 9<>"$GUEST_OUTDIR/net-hostile-b.fifo"

net_wait_log net-hostile-b PING0-OK "$GUEST_TIMEOUT" "$b"
guest_ok $? "e2e sharenet hostile: two guests (one under ASan) ping each other before any attack"

what() {
	case $1 in
	owners)   echo "fake lock owners, indices and lengths" ;;
	garbage)  echo "random bytes in every byte of the file" ;;
	truncate) echo "the file cut to 0 and grown back" ;;
	waiters)  echo "a peer's sleepers on our futex words" ;;
	esac
}

hpid=""
for m in $modes; do
	if ! net_wait_log net-hostile-b "READY-$m" 90 "$b"; then
		echo "not ok - e2e sharenet hostile: $(what "$m"): guest B never got to it"
		continue
	fi
	if [ "$m" = waiters ]; then
		# Stays through the power-off below.
		"$hostile" "$m" "$net" 600 >"$work/hostile-$m.out" 2>&1 &
		hpid=$!
		pids="$pids $hpid"
		sleep 1		# its sleepers are in place
	else
		"$hostile" "$m" "$net" "$secs" >"$work/hostile-$m.out" 2>&1 &
		hpid=$!
	fi
	echo go >&9
	if [ "$m" = waiters ]; then
		sleep "$secs"
	else
		wait "$hpid"
		hpid=""
	fi
	echo done >&9
	net_wait_log net-hostile-b "AFTER-$m=ok" 90 "$b"
	rc=$?
	during=$(net_log_value net-hostile-b "DURING-$m")
	guest_ok $rc "e2e sharenet hostile: $(what "$m"): the guests reach each other again (during it: ${during:-no} of $((secs * 4)) pings answered)"
	[ -s "$work/hostile-$m.out" ] && sed 's/^/# /' "$work/hostile-$m.out"
done

# The end, with the waiters (if any) still asleep on our words.
end_status() {	# end_status PID SECONDS: its exit status in ES, or "hung"
	_end=$(($(date +%s) + $2))
	while kill -0 "$1" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$_end" ]; then
			kill -9 "$1" 2>/dev/null
			wait "$1" 2>/dev/null
			ES=hung
			return
		fi
		sleep 0.2
	done
	wait "$1" 2>/dev/null
	ES=$?
}
net_wait_log net-hostile-b B-DONE 90 "$b"
echo bye >&8
end_status "$b" 60
sb=$ES
end_status "$a" 60
sa=$ES
[ "$sa" = 0 ] && [ "$sb" = 0 ]
guest_ok $? "e2e sharenet hostile: both guests power off with status 0 (A: $sa, B: $sb)${hpid:+ while the peer's sleepers sit on their words}"
! grep -a -q -E "guest killed|AddressSanitizer|runtime error" \
	"$GUEST_OUTDIR/net-hostile-a.log" "$GUEST_OUTDIR/net-hostile-b.log"
guest_ok $? "e2e sharenet hostile: no guest killed, no sanitizer report"
if [ -n "$hpid" ]; then
	kill "$hpid" 2>/dev/null
	wait "$hpid" 2>/dev/null
	sed 's/^/# /' "$work/hostile-waiters.out"
fi
grep -a -h "^lguest:" "$GUEST_OUTDIR/net-hostile-a.log" \
	"$GUEST_OUTDIR/net-hostile-b.log" | tr -d '\r' | sort | uniq -c |
	sed 's/^/# /'
exit 0
