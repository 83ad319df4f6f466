# Shared by tests/net/test_e2e_*.sh: a network namespace per test, the
# host-side tools, and the VMM arguments for each kind of network, for
# lguest and for qemu-system-i386 (GUEST_VMM=qemu: the same guest commands
# checked on a known-good VMM).  Sourced after tests/lib/guest.sh.
#
# net_enter_ns "$0" "$@": re-runs the calling script inside a namespace of
# its own (lo up, IPv6 off) and exits with its status; inside, it returns.
# Nothing the tests send can leave that namespace.  Where no namespace can
# be made, the script is one SKIP line with the reason.
net_enter_ns() {
	if [ -z "$LGUEST_NET_NS" ]; then
		LGUEST_NET_NS=lguest-e2e-$$
		# No namespace, no test: a machine (a container, a user
		# without root) that cannot make one skips, with the reason.
		if ! _err=$(ip netns add "$LGUEST_NET_NS" 2>&1) ||
		   ! _err=$(ip netns exec "$LGUEST_NET_NS" true 2>&1); then
			ip netns del "$LGUEST_NET_NS" 2>/dev/null
			echo "ok - $(basename "$1") # SKIP cannot make a network namespace here (needs root): $(echo "$_err" | head -n 1)"
			exit 0
		fi
		export LGUEST_NET_NS
		ip netns exec "$LGUEST_NET_NS" sh "$@"
		_rc=$?
		ip netns pids "$LGUEST_NET_NS" 2>/dev/null | xargs -r kill -9
		ip netns del "$LGUEST_NET_NS"
		exit $_rc
	fi
	ip link set lo up
	sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
}

# Host-side tools: the guest's static busybox, run by qemu-i386, so that
# the host needs neither a web server nor nc of its own.
HBB="qemu-i386 $GUEST_TOP/guest/cache/busybox"

# net_tap_args HOSTIP N: a NIC on a TAP device whose host side is
# HOSTIP/24.  lguest makes and configures it itself; for qemu the test
# makes it first (qemu only attaches).
net_tap_args() {
	if [ "$GUEST_VMM" = qemu ]; then
		ip tuntap add "qtap$2" mode tap
		ip addr add "$1/24" dev "qtap$2"
		ip link set "qtap$2" up
		printf '%s\n' -netdev \
			"tap,id=n$2,ifname=qtap$2,script=no,downscript=no" \
			-device "virtio-net-pci,netdev=n$2"
	else
		echo "--tunnet=$1"
	fi
}

# net_user_args HOSTFWD: user networking with one forwarded port.
net_user_args() {
	if [ "$GUEST_VMM" = qemu ]; then
		printf '%s\n' -nic "user,model=virtio-net-pci,hostfwd=$1"
	else
		echo "--net=user,hostfwd=$1"
	fi
}

# A guest-side script fragment: eth0 up with a fixed address.
net_guest_ip() {
	echo "ip link set eth0 up && ip addr add $1/24 dev eth0"
}

# md5 of a file on the host, as busybox prints it.
net_md5() {
	md5sum "$1" | cut -d' ' -f1
}

# net_guest_bg NAME SCRIPT [VMM args...]: boots a guest in the background
# that runs SCRIPT, its console in $GUEST_OUTDIR/NAME.log; its pid in
# NET_PID.  For tests with several guests at once (tests/lib's helpers
# drive one).  Its stdin is a fifo opened read-write: never EOF.
net_guest_bg() {
	_name=$1
	_ird=$GUEST_OUTDIR/$_name.initrd
	mkdir -p "$GUEST_OUTDIR"
	guest_make_initrd "$2" "$_ird"
	shift 2
	_argv=$(guest_vmm_argv "$_ird" "$@")
	rm -f "$GUEST_OUTDIR/$_name.fifo"
	mkfifo "$GUEST_OUTDIR/$_name.fifo"
	# Emptied here, not only by the redirection below: that happens in
	# the background job, and net_wait_log could first find the last
	# run's log and its ready line.
	: >"$GUEST_OUTDIR/$_name.log"
	IFS='
'
	set -- $_argv
	unset IFS
	"$@" <>"$GUEST_OUTDIR/$_name.fifo" >"$GUEST_OUTDIR/$_name.log" 2>&1 &
	NET_PID=$!
}

# net_wait_log NAME STRING [TIMEOUT [PID]]: waits for STRING on NAME's
# console; gives up early when PID (the guest's VMM) has ended.
net_wait_log() {
	_end=$(($(date +%s) + ${3:-$GUEST_TIMEOUT}))
	while ! grep -a -q -F -e "$2" "$GUEST_OUTDIR/$1.log" 2>/dev/null; do
		[ "$(date +%s)" -ge "$_end" ] && return 1
		[ -n "$4" ] && ! kill -0 "$4" 2>/dev/null && return 1
		sleep 0.2
	done
}

# net_wait_pid PID [TIMEOUT]: waits for a background guest to end.
net_wait_pid() {
	_end=$(($(date +%s) + ${2:-$GUEST_TIMEOUT}))
	while kill -0 "$1" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$_end" ]; then
			kill -9 "$1" 2>/dev/null
			return 1
		fi
		sleep 0.2
	done
	wait "$1" 2>/dev/null
	return 0
}

# net_log_value NAME KEY: the value of the first "KEY=value" line.
net_log_value() {
	tr -d '\r' <"$GUEST_OUTDIR/$1.log" | sed -n "s/^$2=//p" | head -n 1
}


# net_sink PORT FILE: a host TCP listener writing what it receives to FILE,
# in the background (pid in NET_SINK); FILE.start and FILE.end get the
# host's clock at the first byte and at the end, for a rate measured on
# the host (a guest's clock under emulation is not to be trusted).
net_sink() {
	rm -f "$2.fifo"
	mkfifo "$2.fifo"
	(
		# busybox nc ends at EOF on its stdin: a fifo never ends.
		$HBB nc -l -p "$1" <>"$2.fifo" >"$2" &
		_nc=$!
		while [ ! -s "$2" ] && kill -0 $_nc 2>/dev/null; do
			sleep 0.01
		done
		date +%s.%N >"$2.start"
		wait $_nc
		date +%s.%N >"$2.end"
	) &
	NET_SINK=$!
}

# The rate of a net_sink, in MB/s.
net_sink_rate() {
	[ -f "$1.end" ] || return 1
	awk -v b="$(stat -c %s "$1")" -v s="$(cat "$1.start")" \
		-v e="$(cat "$1.end")" \
		'BEGIN { d = e - s; if (d <= 0) d = 0.001; printf "%.2f", b / d / 1e6 }'
}
