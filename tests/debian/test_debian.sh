#!/bin/sh
# A real Debian 12 i386 system under lguest (guest/debian.sh builds it):
# Debian's kernel boots the disk with systemd on ttyS0 to root's autologin
# shell, which runs the script below: dpkg's database is sound, perl and
# gcc work, apt-get installs a package over --net=user from a repository
# that this test serves inside a network namespace of its own, nothing in
# systemctl --failed; then it powers off and lguest exits with status 0.
#
# The image takes a debootstrap (first stage on the host, second inside
# lguest: about an hour on a busy two-core machine) and root, so `make
# check` runs this only when guest/cache/debian.img is there or
# DEBIAN_BUILD=1 asks for it to be built; otherwise every check here is a
# SKIP with the command to run.
# The console log is kept in tests/out/debian-<vmm>.log.
# DEBIAN_VMM=qemu runs the same against qemu-system-i386.
# run-all: timeout=7200 (with the image or DEBIAN_BUILD=1: a debootstrap and boots, an hour and more)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_VMM=${DEBIAN_VMM:-lguest}
GUEST_NAME=debian-$GUEST_VMM
GUEST_MEM=1g
GUEST_TIMEOUT=${DEBIAN_TIMEOUT:-1200}
GUEST_APPEND="panic=-1 root=/dev/vda rw"
. tests/lib/guest.sh

img=guest/cache/debian.img
checks="boots systemd to root's autologin shell and runs the script;
dpkg --audit finds nothing;
perl computes as on the host;
gcc compiles and runs a program;
apt-get installs a package over --net=user;
systemctl --failed lists nothing;
the system powers off and the VMM exits with status 0;
nothing crashed (no segfault, kernel BUG or Oops)"

skip_all() {
	echo "$checks" | while read -r c; do
		echo "ok - debian: ${c%;} # SKIP $1"
	done
	exit 0
}

if [ ! -f "$img" ]; then
	[ "${DEBIAN_BUILD:-0}" = 1 ] ||
		skip_all "no $img (DEBIAN_BUILD=1 builds it: guest/debian.sh, as root)"
	guest/debian.sh >&2 || { echo "not ok - guest/debian.sh builds $img"; exit 1; }
fi
ip netns list >/dev/null 2>&1 && command -v python3 >/dev/null ||
	skip_all "needs ip netns and python3"

work=$(mktemp -d "${TMPDIR:-/tmp}/lguest-debian.XXXXXX")
ns=lguest-debian-$$
cleanup() {
	guest_cleanup
	[ -n "$httpd" ] && kill "$httpd" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$work"
}
httpd=""
trap cleanup EXIT

# The disk: a sparse copy, so the image stays as it was built.
cp --sparse=always "$img" "$work/disk.img"

# A flat apt repository with one package, Debian's hello, served on the
# namespace's loopback: slirp's 10.0.2.2 is the host, so the guest reaches
# it and nothing else.
mkdir -p "$work/repo"
deb=guest/cache/debs/hello_i386.deb
if [ ! -f "$deb" ]; then
	(cd "$work/repo" && apt-get download -q hello:i386 >&2) &&
		mv "$work"/repo/hello_*_i386.deb "$deb"
fi
[ -f "$deb" ] || { echo "not ok - apt-get download hello:i386"; exit 1; }
cp "$deb" "$work/repo/hello.deb"
(
	cd "$work/repo" || exit 1
	dpkg-deb -f hello.deb
	echo "Filename: ./hello.deb"
	echo "Size: $(stat -c %s hello.deb)"
	echo "SHA256: $(sha256sum hello.deb | cut -d' ' -f1)"
	echo
) >"$work/repo/Packages"
{
	echo "Date: $(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
	echo "SHA256:"
	echo " $(sha256sum "$work/repo/Packages" | cut -d' ' -f1)" \
	     "$(stat -c %s "$work/repo/Packages") Packages"
} >"$work/repo/Release"
ip netns add "$ns" || skip_all "cannot make a network namespace"
ip -n "$ns" link set lo up
ip netns exec "$ns" python3 -m http.server -b 127.0.0.1 -d "$work/repo" \
	8080 >"$work/httpd.log" 2>&1 &
httpd=$!

# perl's answer is checked against the host's sha256sum.
printf 'lguest debian perl check\n' >"$work/perl.in"
want_sha=$(sha256sum "$work/perl.in" | cut -d' ' -f1)

cat >"$work/run.sh" <<EOF
echo "@@ system: \$(systemctl is-system-running --wait)"
echo "@@ audit: [\$(dpkg --audit 2>&1)]"
echo "@@ packages: \$(dpkg-query -f '\${db:Status-Abbrev}\n' -W | grep -c '^ii')"
echo "@@ perl: \$(printf 'lguest debian perl check\n' |
	perl -MDigest::SHA=sha256_hex -e 'local \$/; print sha256_hex(<STDIN>)')"
cat >/tmp/t.c <<'EOC'
#include <stdio.h>
int main(void)
{
	unsigned long long f = 1;
	int i;

	for (i = 1; i <= 20; i++)
		f *= i;
	printf("%llu\n", f);
	return 0;
}
EOC
echo "@@ gcc: \$(gcc -O2 -o /tmp/t /tmp/t.c && /tmp/t)"
echo 'deb [trusted=yes] http://10.0.2.2:8080/ ./' >/etc/apt/sources.list
i=0
until ip -4 addr show | grep -q 'inet 10\.0\.2\.'; do
	i=\$((i + 1)); [ \$i -gt 60 ] && break; sleep 1
done
apt-get update -q 2>&1 | tail -n 3
apt-get install -y -q hello 2>&1 | tail -n 3
echo "@@ hello: \$(hello)"
echo "@@ failed: [\$(systemctl --failed --no-legend --plain)]"
EOF

# Under lguest in the namespace: user networking reaches the repository.
if [ "$GUEST_VMM" = qemu ]; then
	net="-nic user,model=virtio-net-pci"
else
	net="--net=user"
fi
guest_ensure_built || { echo "not ok - guest/build.sh"; exit 1; }
GUEST_WRAP="ip netns exec $ns"
guest_run "$work/run.sh" $(guest_block_arg "$work/disk.img") $net
ran=$?
# The script's lines, from the whole console: a getty on hvc0 shares it,
# and its prompt may stand before the run's first marker.
out=$(tr -d '\r' <"$GUEST_LOG" | sed -n 's/^.*\(@@ [a-z]*: \)/\1/p')
echo "$out" | sed 's/^/# /'
field() {
	echo "$out" | sed -n "s/^@@ $1: //p" | head -n 1
}
guest_ok $ran "debian: boots systemd to root's autologin shell and runs the script"
[ "$(field audit)" = "[]" ]
guest_ok $? "debian: dpkg --audit finds nothing ($(field packages) packages)"
[ "$(field perl)" = "$want_sha" ]
guest_ok $? "debian: perl computes as on the host (sha256 $(field perl))"
[ "$(field gcc)" = 2432902008176640000 ]
guest_ok $? "debian: gcc compiles and runs a program (20! = $(field gcc))"
[ "$(field hello)" = "Hello, world!" ]
guest_ok $? "debian: apt-get installs a package over --net=user"
[ "$(field failed)" = "[]" ]
guest_ok $? "debian: systemctl --failed lists nothing (system: $(field system))"
[ "$GUEST_EXIT" = 0 ]
guest_ok $? "debian: the system powers off and the VMM exits with status 0 (status $GUEST_EXIT)"
if grep -a -q 'segfault at\|kernel BUG\|Oops' "$GUEST_LOG" 2>/dev/null; then
	grep -a 'segfault at\|kernel BUG\|Oops' "$GUEST_LOG" | sed 's/^/# /'
	echo "not ok - debian: nothing crashed (segfaults, kernel BUG or Oops)"
else
	echo "ok - debian: nothing crashed (no segfault, kernel BUG or Oops)"
fi
