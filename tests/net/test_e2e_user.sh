#!/bin/sh
# End to end, user networking (--net=user, libslirp; no root needed, but
# the test still runs in a network namespace of its own): the guest takes
# its address by DHCP, fetches a file from a web server on the host's
# 127.0.0.1 through the gateway 10.0.2.2, and serves a file of its own
# that the host fetches through a forwarded port
# (hostfwd=tcp:127.0.0.1:2280-:8080).  GUEST_VMM=qemu: the same with
# qemu's -nic user.
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
srv="" g=""
trap 'kill -9 $g 2>/dev/null; kill $srv 2>/dev/null; rm -rf "$work"' EXIT
v=$GUEST_VMM
mkdir "$work/www"
head -c 262144 /dev/urandom >"$work/www/file"
sum=$(net_md5 "$work/www/file")
$HBB httpd -f -p 127.0.0.1:8081 -h "$work/www" &
srv=$!

cat >"$work/run.sh" <<'EOS'
cat >/tmp/dhcp.sh <<'EOD'
#!/bin/sh
case $1 in
bound|renew)
	ip addr add "$ip/${mask:-24}" dev "$interface"
	[ -n "$router" ] && ip route add default via "${router%% *}"
	;;
esac
exit 0
EOD
chmod +x /tmp/dhcp.sh
ip link set eth0 up
udhcpc -i eth0 -s /tmp/dhcp.sh -q -n -t 10 >/dev/null 2>&1
echo "ADDR=$(ip -4 addr show dev eth0 | sed -n 's/.*inet \([0-9.]*\).*/\1/p')"
wget -q -O /tmp/file http://10.0.2.2:8081/file &&
	md5sum /tmp/file | sed 's/^/SUM=/;s/ .*//'
mkdir -p /tmp/www
echo "served-by-the-guest-$((6 * 7))" >/tmp/www/hello
httpd -p 8080 -h /tmp/www
echo HTTPD-READY
sleep 300
EOS
args=$(net_user_args tcp:127.0.0.1:2280-:8080)
IFS='
'
set -- "net-user-$v" "$work/run.sh" $args
unset IFS
net_guest_bg "$@"
g=$NET_PID
net_wait_log "net-user-$v" HTTPD-READY "$GUEST_TIMEOUT" "$g"
ready=$?
[ "$(net_log_value "net-user-$v" ADDR)" = 10.0.2.15 ]
guest_ok $? "e2e user ($v): the guest takes 10.0.2.15 by DHCP"
[ "$(net_log_value "net-user-$v" SUM)" = "$sum" ]
guest_ok $? "e2e user ($v): the guest fetches a file from the host's 127.0.0.1 via 10.0.2.2, md5 matches"
# busybox wget segfaults under qemu-i386: HTTP by hand through nc.
got=""
[ $ready = 0 ] &&
	got=$(printf 'GET /hello HTTP/1.0\r\n\r\n' |
		timeout 30 $HBB nc 127.0.0.1 2280 | tr -d '\r' | tail -n 1)
[ "$got" = served-by-the-guest-42 ]
guest_ok $? "e2e user ($v): a forwarded host port reaches the guest's web server ('$got')"
[ $ready = 0 ] || { GUEST_LOG=$GUEST_OUTDIR/net-user-$v.log; guest_show_log; }
exit 0
