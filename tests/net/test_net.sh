#!/bin/sh
# The network device tests (tests/net/test_net.c), each backend in a
# network namespace made here and removed at the end: nothing is sent to
# any address outside it.  A crash (an ASan report included) is a failure.
cd "$(dirname "$0")/../.." || exit 1
t=$PWD/build/tests/net/test_net
if [ ! -x "$t" ]; then
	echo "not ok - $t is not built (make check builds it)"
	exit 1
fi
ns=lguest-net-$$
scratch=$(mktemp -d "${TMPDIR:-/tmp}/lguest-net.XXXXXX")
cleanup() {
	ip netns del "$ns" 2>/dev/null
	rm -rf "$scratch"
}
trap cleanup EXIT INT TERM
# No namespace, no test: skip, with the reason, where none can be made.
if ! err=$(ip netns add "$ns" 2>&1) ||
   ! err=$(ip netns exec "$ns" true 2>&1); then
	echo "ok - network device tests # SKIP cannot make a network namespace here (needs root): $(echo "$err" | head -n 1)"
	exit 0
fi
in_ns() {
	ip netns exec "$ns" "$@"
}
in_ns ip link set lo up
# No IPv6 chatter (router solicitations) on the test's devices.
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
	net.ipv6.conf.default.disable_ipv6=1
in_ns ip link add br0 type bridge
in_ns ip link set br0 up

rc=0
in_ns "$t" tap || rc=1
in_ns "$t" sharenet "$scratch" || rc=1
in_ns "$t" slirp || rc=1

# Without CAP_NET_ADMIN (root, but with the capability dropped): one
# clear line, status 1, before any guest runs.  (die() ends its line with
# \r\n, for a terminal in raw mode.)
want="lguest: --tunnet: cannot create a TAP device: Operation not permitted (needs CAP_NET_ADMIN)"
out=$({ in_ns setpriv --inh-caps=-net_admin --bounding-set=-net_admin \
	"$t" noperm 2>&1; echo $? >"$scratch/st"; } | tr -d '\r')
st=$(cat "$scratch/st")
if [ "$st" = 1 ] && [ "$out" = "$want" ]; then
	echo "ok - tap: without CAP_NET_ADMIN: '$out'"
else
	echo "not ok - tap: without CAP_NET_ADMIN: status $st, '$out'"
	rc=1
fi
# As a user who may not even open /dev/net/tun: one line too.
out=$({ in_ns setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$t" noperm 2>&1; echo $? >"$scratch/st"; } | tr -d '\r')
st=$(cat "$scratch/st")
lines=$(printf '%s\n' "$out" | wc -l)
case $st:$lines:$out in
"1:1:lguest: --tunnet: cannot "*) echo "ok - tap: as nobody: '$out'" ;;
*)	echo "not ok - tap: as nobody: status $st, '$out'"; rc=1 ;;
esac
exit $rc
