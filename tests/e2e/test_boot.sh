#!/bin/sh
# End to end: boot Debian's stock kernel and our initramfs under lguest
#   ./lguest 256m guest/cache/vmlinuz --initrd=guest/cache/initrd.img
# and drive its busybox shell through the serial console, as a user would:
# the kernel is Debian's, /proc/cpuinfo shows our CPU, the shell computes,
# bytes made in the guest hash as on the host, the guest's clock follows the
# host's, and poweroff ends lguest with status 0.  What an idle guest
# costs the host is a figure, not a check that a loaded machine can fail:
# bench/run.sh measures it (idle CPU) with the other figures.
#
# E2E_VMM=qemu runs the same test against qemu-system-i386 (that is how the
# test itself is checked).  E2E_TIMEOUT (default 600 s) bounds the boot and
# each command: at first lguest took about 300 s to reach /init on a busy
# 2-core host, 190 s of it in the kernel's crypto self-tests, which print
# nothing.  E2E_STALL=N fails a boot whose console stays silent for N s
# (off by default for that reason).
# run-all: timeout=1800 (boots a real kernel; slow under load)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_VMM=${E2E_VMM:-lguest}
GUEST_NAME=e2e-boot-$GUEST_VMM
GUEST_TIMEOUT=${E2E_TIMEOUT:-600}
GUEST_STALL=${E2E_STALL:-0}
# As a user boots it: the crypto self-tests stay on.
GUEST_APPEND=panic=-1
. tests/lib/guest.sh
trap guest_cleanup EXIT

if [ "$GUEST_VMM" = lguest ] && [ ! -x "$LGUEST" ]; then
	echo "not ok - $LGUEST is built"
	exit 1
fi
guest_ensure_built || { echo "not ok - guest/build.sh"; exit 1; }

guest_start
t0=$GUEST_T0
if ! guest_wait_prompt; then
	echo "not ok - $GUEST_VMM boots the test guest to a shell prompt"
	guest_show_log 30
	exit 1
fi
echo "ok - $GUEST_VMM boots the test guest to a shell prompt ($(guest_since "$t0")s)"

# A command that fails to come back leaves no shell to talk to: stop there.
run() {
	if ! guest_cmd "$1"; then
		echo "not ok - the guest answers '$1'"
		guest_show_log
		exit 1
	fi
}

kver=$(cat guest/cache/kernel-version)
run 'uname -a'
echo "# $(cat "$GUEST_CMD_OUT")"
grep -q "^Linux .* $kver .*Debian .* i686" "$GUEST_CMD_OUT"
guest_ok $? "uname -a names Debian's kernel $kver on i686"

run 'cat /proc/cpuinfo'
sed -n 's/^\(vendor_id\|cpu family\|model name\|flags\)[[:space:]]*:/# \1:/p' \
	"$GUEST_CMD_OUT"
flags=$(sed -n 's/^flags[[:space:]]*: //p' "$GUEST_CMD_OUT" | head -n 1)
missing=""
for f in fpu tsc cx8 cmov pse pge; do
	case " $flags " in *" $f "*) ;; *) missing="$missing $f" ;; esac
done
[ -z "$missing" ]
guest_ok $? "/proc/cpuinfo flags have fpu tsc cx8 cmov pse pge${missing:+ (missing:$missing)}"
grep -q '^cpu family[[:space:]]*: 6$' "$GUEST_CMD_OUT"
guest_ok $? "/proc/cpuinfo shows a family 6 (i686) CPU"
if [ "$GUEST_VMM" = lguest ]; then
	# Our CPUID sets the hypervisor bit and has PAE, MMX, SSE, SSE2 and
	# long mode but nothing later (sys.c); NX shows only under a PAE
	# kernel.
	r=0
	for f in hypervisor pae mmx fxsr sse sse2 lm cx16; do
		case " $flags " in *" $f "*) ;; *) r=1 ;; esac
	done
	case " $flags " in *" pni "*) r=1 ;; esac
	guest_ok $r "/proc/cpuinfo shows lguest's CPU (hypervisor bit, PAE, MMX, SSE, SSE2, long mode, CX16; no SSE3)"
fi

run 'echo $(( (123456789 * 987) % 100003 + (1 << 20) - 7 / 2 ))'
want=$(( (123456789 * 987) % 100003 + (1 << 20) - 7 / 2 ))
[ "$(cat "$GUEST_CMD_OUT")" = "$want" ]
guest_ok $? "shell arithmetic gives $want"

# A linear congruential sequence (64-bit arithmetic in a 32-bit shell) and
# seq's output: generated in the guest, hashed in the guest and on the host.
lcg='x=1; i=0; while [ $i -lt 3000 ]; do x=$(( (x * 1103515245 + 12345) % 2147483648 )); echo $x; i=$((i + 1)); done'
run "($lcg; seq 1 20000) | md5sum"
host=$( (sh -c "$lcg"; seq 1 20000) | md5sum | cut -d' ' -f1)
guest=$(grep -o '^[0-9a-f]\{32\}' "$GUEST_CMD_OUT" | head -n 1)
echo "# guest md5 $guest, host md5 $host"
[ -n "$guest" ] && [ "$guest" = "$host" ]
guest_ok $? "md5sum of bytes made in the guest equals the host's"

run 'date +%s'
gdate=$(grep -o '^[0-9]\+$' "$GUEST_CMD_OUT" | head -n 1)
hdate=$(date +%s)
d=$(( ${gdate:-0} - hdate ))
[ "$d" -lt 0 ] && d=$((-d))
echo "# guest date $gdate, host date $hdate"
[ -n "$gdate" ] && [ "$d" -le 5 ]
guest_ok $? "the guest's date is within 5 s of the host's (off by ${d}s)"

guest_send poweroff
guest_wait_exit 60
r=$?
[ $r = 0 ] && [ "$GUEST_EXIT" = 0 ]
guest_ok $? "poweroff in the guest ends $GUEST_VMM with status 0 (status ${GUEST_EXIT:-none})"
[ $r = 0 ] || guest_show_log
