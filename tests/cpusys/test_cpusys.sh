#!/bin/sh
# Runs each cpusys program on the software CPU; the programs print their
# own TAP lines, the harness adds one for how the run ended.  They run with
# the translator (the default); pae runs a second time on the interpreter
# alone (LGUEST_JIT=0), since its NX checks are about the fetch paths, which
# differ between the two.
cd "$(dirname "$0")/../.." || exit 1
B=build/tests/cpusys
for p in paging pae prot df intr features realmode vm86 sse; do
	timeout 120 "$B/run" "$B/$p.elf" || echo "not ok - $p: harness failed ($?)"
done
LGUEST_JIT=0 timeout 120 "$B/run" "$B/pae.elf" >"$B/pae-interp.out"
st=$?
sed 's/^\(ok\|not ok\) - /\1 - interpreter: /' "$B/pae-interp.out"
[ $st = 0 ] || echo "not ok - pae on the interpreter: harness failed ($st)"
timeout 60 "$B/run" --expect-shutdown "$B/triple.elf" ||
	echo "not ok - triple: harness failed ($?)"
timeout 120 "$B/rep_budget" >"$B/rep_budget.out"
st=$?
cat "$B/rep_budget.out"
[ $st = 0 ] || grep -q "^not ok" "$B/rep_budget.out" ||
	echo "not ok - rep_budget: harness failed ($st)"
exit 0
