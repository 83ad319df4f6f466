#!/bin/sh
# The cpusys system tests (paging, faults, ring changes, task gates) as
# ordinary Multiboot programs: lguest boots each one as a user would,
#	lguest --exit-port 128m prog.elf
# the program prints its TAP lines on COM1 and ends by writing its number
# of failed checks, V, to the exit port, so lguest's status is (V << 1) | 1.
# Each of the program's lines is passed on (named after the program), and
# the status must be 1 (no failure) and agree with the lines it printed.
# The triple-fault program must end the way a broken guest ends: killed,
# with the reason, and under --exit-port with the even status 6, never an
# odd one that a QEMU harness would read as the program's verdict.
cd "$(dirname "$0")/../.." || exit 1
L=${LGUEST_ASAN:-$PWD/lguest-asan}
B=build/tests/multiboot
if [ ! -x "$L" ] || [ ! -f "$B/paging.elf" ]; then
	echo "not ok - $L and $B/*.elf are built (make check builds them)"
	exit 1
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

for p in paging pae prot df features realmode vm86; do
	timeout 300 "$L" --exit-port 128m "$B/$p.elf" </dev/null \
		>"$T/raw" 2>"$T/err"
	rc=$?
	tr -d '\r' <"$T/raw" >"$T/out"
	sed -n -e "s/^ok - /ok - $p: /p" -e "s/^not ok - /not ok - $p: /p" \
		"$T/out"
	oks=$(grep -c '^ok - ' "$T/out")
	fails=$(grep -c '^not ok - ' "$T/out")
	want=$(( ((fails << 1) | 1) & 255 ))
	if [ "$rc" -eq 1 ] && [ "$oks" -gt 0 ] && [ ! -s "$T/err" ]; then
		echo "ok - $p: $oks TAP lines, exit port status 1 (V = 0)"
	elif [ "$rc" -eq "$want" ] && [ ! -s "$T/err" ]; then
		echo "not ok - $p: exit port status $rc: $fails checks failed"
	else
		echo "not ok - $p: status $rc (want $want for $fails failures)"
		sed 's/^/# /' "$T/err" | head -n 5
		tail -n 5 "$T/out" | sed 's/^/# /'
	fi
done

timeout 120 "$L" --exit-port 128m "$B/triple.elf" </dev/null \
	>"$T/raw" 2>"$T/err"
rc=$?
tr -d '\r' <"$T/raw" >"$T/out"
if [ "$rc" -eq 6 ] && grep -q '^ok - triple: about to triple fault' "$T/out" &&
   ! grep -q 'still running' "$T/out" &&
   grep -q '^lguest: guest killed: triple fault' "$T/err"; then
	echo "ok - triple: $(head -c 100 "$T/err")..., status 6 (even)"
else
	echo "not ok - triple: status $rc"
	cat "$T/out" "$T/err" | head -n 5 | sed 's/^/# /'
fi
