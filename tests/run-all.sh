#!/bin/sh
# Runs every test script (tests/<area>/test_*.sh, in name order) and sums up.
#
# A test script prints TAP lines: "ok - what" or "not ok - what", and
# "ok - what # SKIP why" for a check that could not run here (counted as
# skipped, never as passed).  A script that exits non-zero without printing
# a "not ok" counts as one failure of its own, and so does a script that
# prints no check at all (no "ok" or "not ok" line: it tested nothing).
# Each script has a time limit, TEST_TIMEOUT seconds (600 by default); a
# script that needs more says so in a line of its own,
#	# run-all: timeout=SECONDS (why)
# and one that runs out is killed and counted as a failure.  The last line
# is the summary a CI reader looks for: "N passed, N failed, N skipped".
#
# TESTS="cpu e2e" limits the run to those areas.
cd "$(dirname "$0")/.." || exit 1
export LGUEST="$PWD/lguest" LGUEST_ASAN="$PWD/lguest-asan"
pass=0 fail=0 skip=0 failed=""
for t in tests/*/test_*.sh; do
	area=$(basename "$(dirname "$t")")
	if [ -n "$TESTS" ]; then
		case " $TESTS " in *" $area "*) ;; *) continue ;; esac
	fi
	echo "== $t"
	out=$(mktemp)
	limit=$(sed -n 's/^# run-all: timeout=\([0-9][0-9]*\).*/\1/p' "$t" |
		head -n 1)
	limit=${limit:-${TEST_TIMEOUT:-600}}
	timeout -k 10 "$limit" sh "$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	s=$(grep '^ok ' "$out" | grep -c '# SKIP')
	f=$(grep -c '^not ok ' "$out")
	p=$(( $(grep -c '^ok ' "$out") - s ))
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "not ok - $t ran out of its $limit s and was stopped"
		f=$((f + 1))
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $t exited with status $rc"
		f=1
	elif [ $((p + s + f)) -eq 0 ]; then
		echo "not ok - $t printed no check (no ok or not ok line)"
		f=1
	fi
	[ "$f" -gt 0 ] && failed="$failed $t"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	rm -f "$out"
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
