#!/bin/sh
# Hours of real load on a real Debian system (the image of guest/debian.sh),
# the test that a CPU bug which shows once an hour cannot hide from:
#
#   tests/debian/soak.sh [SECONDS]        default 3600
#
# Debian boots under lguest with systemd to root's autologin shell, which
# runs rounds of work until SECONDS have passed on the guest's clock.  Each
# round runs, side by side: dpkg --verify (every installed file read and
# checksummed by dpkg), perl's SHA-256 of /usr/bin/perl against coreutils'
# sha256sum, gcc building tests/debian/soak.c and its output against the
# host's build of the same program, 400 processes from xargs -P 8 whose
# folded output is checked against the host's, and a tar | gzip round trip
# of /usr/share/perl5 compared with diff -r.  A round passes only if every
# one of them gave the right answer.  At the end: every round passed, the
# console shows no segfault, kernel BUG or Oops, and the system powered
# off with status 0.  Not part of `make check` (it takes hours by design);
# its result goes into the notes of the issue it serves.
cd "$(dirname "$0")/../.." || exit 1
secs=${1:-3600}
GUEST_TOP=$PWD
GUEST_NAME=debian-soak
GUEST_MEM=1g
GUEST_TIMEOUT=$((secs + 1800))
GUEST_APPEND="panic=-1 root=/dev/vda rw"
. tests/lib/guest.sh

img=guest/cache/debian.img
[ -f "$img" ] || {
	echo "not ok - soak: no $img (guest/debian.sh builds it, as root)"
	exit 1
}
work=$(mktemp -d "${TMPDIR:-/tmp}/lguest-soak.XXXXXX")
trap 'guest_cleanup; rm -rf "$work"' EXIT
cp --sparse=always "$img" "$work/disk.img"

# The answers, from the host.
gcc -O2 -o "$work/soak" tests/debian/soak.c || exit 1
want_c=$("$work/soak")
want_x=$(seq 1 400 | xargs -P 8 -n 1 sh -c 'echo "$0 $(($0 * $0))" | md5sum' |
	sort | md5sum | cut -d' ' -f1)

{
	echo "cat >/root/soak.c <<'EOC'"
	cat tests/debian/soak.c
	echo "EOC"
	cat <<EOF2
end=\$((\$(date +%s) + $secs))
round=0 bad=0
while [ \$(date +%s) -lt \$end ]; do
	round=\$((round + 1))
	r=/tmp/round
	rm -rf \$r; mkdir -p \$r
	( dpkg --verify 2>&1 | grep -v '^..5......  c ' >\$r/verify ) &
	( a=\$(perl -MDigest::SHA -e 'print Digest::SHA->new(256)->addfile("/usr/bin/perl")->hexdigest')
	  b=\$(sha256sum /usr/bin/perl | cut -d' ' -f1)
	  [ "\$a" = "\$b" ] && echo ok >\$r/perl ) &
	( gcc -O2 -o \$r/soak /root/soak.c && [ "\$(\$r/soak)" = "$want_c" ] &&
	  echo ok >\$r/gcc ) &
	( x=\$(seq 1 400 | xargs -P 8 -n 1 sh -c 'echo "\$0 \$((\$0 * \$0))" | md5sum' |
	       sort | md5sum | cut -d' ' -f1)
	  [ "\$x" = "$want_x" ] && echo ok >\$r/xargs ) &
	( mkdir \$r/t && tar cf - /usr/share/perl5 2>/dev/null | gzip -6 |
	  gzip -dc | tar xf - -C \$r/t && diff -r /usr/share/perl5 \$r/t/usr/share/perl5 &&
	  echo ok >\$r/tar ) &
	wait
	res="verify:\$([ -s \$r/verify ] && echo BAD || echo ok)"
	for t in perl gcc xargs tar; do
		res="\$res \$t:\$(cat \$r/\$t 2>/dev/null || echo BAD)"
	done
	case "\$res" in *BAD*) bad=\$((bad + 1)); head -n 5 \$r/verify ;; esac
	echo "@@ round \$round: \$res"
done
echo "@@ rounds: \$round bad: \$bad"
EOF2
} >"$work/run.sh"

guest_ensure_built || { echo "not ok - guest/build.sh"; exit 1; }
start=$(date +%s)
guest_run "$work/run.sh" $(guest_block_arg "$work/disk.img")
ran=$?
took=$(($(date +%s) - start))
tr -d '\r' <"$GUEST_LOG" | sed -n 's/^.*\(@@ \)/\1/p' | sed 's/^/# /' | tail -n 20
summary=$(tr -d '\r' <"$GUEST_LOG" | sed -n 's/^.*@@ rounds: //p' | head -n 1)
rounds=${summary%% *}
bad=${summary##* }
guest_ok $ran "soak: the system ran the rounds and powered off ($took s on the host)"
[ -n "$rounds" ] && [ "$rounds" -gt 0 ] && [ "$bad" = 0 ]
guest_ok $? "soak: every round gave the right answers ($rounds rounds, ${bad:-?} bad)"
[ "$GUEST_EXIT" = 0 ]
guest_ok $? "soak: lguest exited with status 0 (status $GUEST_EXIT)"
if grep -a -q 'segfault at\|kernel BUG\|Oops' "$GUEST_LOG"; then
	grep -a 'segfault at\|kernel BUG\|Oops' "$GUEST_LOG" | sed 's/^/# /'
	echo "not ok - soak: nothing crashed"
else
	echo "ok - soak: nothing crashed (no segfault, kernel BUG or Oops)"
fi
