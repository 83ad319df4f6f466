#!/bin/sh
# The sandbox (src/sandbox.c, and W^X in src/cpu/jit.c), checked from
# outside as an attacker would check it:
#  - once the machine is built a forbidden system call kills lguest with
#    SIGSYS: LGUEST_SANDBOX_PROBE=execve makes the main thread try
#    execve(), =thread a thread that was started before the filter (the
#    filter must cover it too); both for ./lguest and ./lguest-asan.
#    With --no-sandbox the same probe runs /bin/echo, which shows that the
#    probe is real and the filter is what stops it;
#  - a program runs to the same end with the filter as without it;
#  - --user and --chroot refuse a missing user or directory in one line;
#  - a Linux guest booted with --chroot=DIR --user=nobody and a disk runs
#    its shell and its disk, while /proc says of the lguest process:
#    seccomp filter mode, no_new_privs, nobody's uid and gid everywhere,
#    no supplementary groups, root directory DIR, and no mapping both
#    writable and executable, the translator's code being one memfd seen
#    twice (r-x and rw-); then the guest powers off with status 0.
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_NAME=sandbox
. tests/lib/guest.sh
L=${LGUEST:-$PWD/lguest}
LA=${LGUEST_ASAN:-$PWD/lguest-asan}
E=build/tests/multiboot/exitprog.elf
T=$(mktemp -d)
trap 'guest_cleanup; rm -rf "$T"' EXIT

for f in "$L" "$LA" "$E"; do
	if [ ! -e "$f" ]; then
		echo "not ok - $f is built (make check builds it)"
		exit 1
	fi
done

# run LGUEST ARGS...: exitprog under LGUEST; status in $rc, output in
# $T/out (no carriage returns) and $T/err.
run() {
	_l=$1
	shift
	timeout 60 "$_l" "$@" </dev/null >"$T/raw" 2>"$T/err"
	rc=$?
	tr -d '\r' <"$T/raw" >"$T/out"
}

for l in "$L" "$LA"; do
	n=$(basename "$l")
	for probe in execve thread; do
		LGUEST_SANDBOX_PROBE=$probe run "$l" 8m "$E"
		# 128 + SIGSYS (31): killed by the filter.
		if [ "$rc" -eq 159 ] && ! grep -q probe-ran "$T/out"; then
			echo "ok - $n: execve from the $probe probe is killed by SIGSYS"
		else
			echo "not ok - $n: execve from the $probe probe: status $rc"
			head -n 5 "$T/out" "$T/err" | sed 's/^/# /'
		fi
	done
	LGUEST_SANDBOX_PROBE=thread run "$l" --no-sandbox 8m "$E"
	grep -q "^lguest-sandbox-probe-ran" "$T/out" &&
		echo "ok - $n --no-sandbox: the same probe runs echo" ||
		echo "not ok - $n --no-sandbox: the probe did not run (status $rc)"

	run "$l" --exit-port 8m "$E" out 1 0x2a
	want=$rc
	cp "$T/out" "$T/out.filter"
	run "$l" --exit-port --no-sandbox 8m "$E" out 1 0x2a
	if [ "$want" -eq 85 ] && [ "$rc" -eq 85 ] &&
	   cmp -s "$T/out" "$T/out.filter"; then
		echo "ok - $n: exitprog ends alike with and without the filter"
	else
		echo "not ok - $n: exitprog: status $want with the filter, $rc without"
	fi
done

# Refusals, each in one line, before anything runs.
refuse() {	# refuse WHAT PATTERN ARGS...
	what=$1 pat=$2
	shift 2
	run "$L" "$@" 8m "$E"
	if [ "$rc" -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] &&
	   grep -q -e "$pat" "$T/err"; then
		echo "ok - $what: $(cat "$T/err")"
	else
		echo "not ok - $what: status $rc: $(head -n 3 "$T/err")"
	fi
}
refuse "--user of a user that does not exist" "no such user" \
	--user=no-such-user-lguest
refuse "--chroot to a missing directory" "No such file or directory" \
	--chroot="$T/none"
: >"$T/file"
refuse "--chroot to a file" "not a directory" --chroot="$T/file"
refuse "--user twice" "given twice" --user=nobody --user=nobody
if [ "$(id -u)" -ne 0 ]; then
	refuse "--user without root" "needs lguest to be started as root" \
		--user=nobody
fi

# --- A Linux guest in the sandbox, looked at from outside ---
if [ "$(id -u)" -ne 0 ]; then
	echo "ok - a guest under --chroot and --user # SKIP not root"
	exit 0
fi
nobody_gid=$(id -g nobody)
mkdir "$T/jail"
chmod 755 "$T"
head -c 1048576 /dev/zero >"$T/disk.img"
guest_start "" --chroot="$T/jail" --user=nobody --block="$T/disk.img"
if ! guest_wait_prompt; then
	echo "not ok - the guest boots to its shell with --chroot and --user"
	guest_show_log 30
	exit 1
fi
echo "ok - the guest boots to its shell with --chroot and --user"
pid=$GUEST_PID
st=/proc/$pid/status
check() {	# check WHAT CMD...
	what=$1
	shift
	if "$@"; then
		echo "ok - $what"
	else
		echo "not ok - $what"
	fi
}
check "the process is under a seccomp filter (Seccomp: 2)" \
	grep -q "^Seccomp:[[:space:]]*2$" "$st"
check "no_new_privs is set" grep -q "^NoNewPrivs:[[:space:]]*1$" "$st"
check "every uid is nobody's (65534)" \
	grep -q "^Uid:[[:space:]]*65534[[:space:]]*65534[[:space:]]*65534[[:space:]]*65534$" "$st"
check "every gid is nobody's ($nobody_gid)" \
	grep -q "^Gid:[[:space:]]*$nobody_gid[[:space:]]*$nobody_gid[[:space:]]*$nobody_gid[[:space:]]*$nobody_gid$" "$st"
check "no supplementary groups" grep -q "^Groups:[[:space:]]*$" "$st"
check "the root directory is the --chroot one" \
	test "$(readlink "/proc/$pid/root")" = "$T/jail"
awk '$2 ~ /w/ && $2 ~ /x/' "/proc/$pid/maps" >"$T/wx"
if [ -s "$T/wx" ]; then
	echo "not ok - no mapping is both writable and executable"
	sed 's/^/# /' "$T/wx"
else
	echo "ok - no mapping is both writable and executable ($(wc -l <"/proc/$pid/maps") mappings)"
fi
jit=$(grep "lguest-jit" "/proc/$pid/maps" | awk '{ print $2 }' | sort |
	tr '\n' ' ')
check "the translator's code is one memfd seen r-x and rw- ($jit)" \
	test "$jit" = "r-xs rw-s "

if guest_cmd 'printf sandboxed-disk | dd of=/dev/vda conv=sync,fsync 2>/dev/null && dd if=/dev/vda bs=14 count=1 2>/dev/null; echo' &&
   grep -q "^sandboxed-disk$" "$GUEST_CMD_OUT"; then
	echo "ok - the guest writes and reads its disk in the sandbox"
else
	echo "not ok - the guest writes and reads its disk in the sandbox"
	guest_show_log
fi
check "the host file holds what the guest wrote" \
	test "$(head -c 14 "$T/disk.img")" = "sandboxed-disk"
guest_send poweroff
if guest_wait_exit 60 && [ "$GUEST_EXIT" = 0 ]; then
	echo "ok - the guest powers off with status 0"
else
	echo "not ok - the guest powers off with status 0 (status $GUEST_EXIT)"
	guest_show_log
fi
