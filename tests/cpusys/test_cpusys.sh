#!/bin/sh
# Runs each cpusys program on the software CPU; the programs print their
# own TAP lines, the harness adds one for how the run ended.
cd "$(dirname "$0")/../.." || exit 1
B=build/tests/cpusys
for p in paging prot df intr; do
	timeout 120 "$B/run" "$B/$p.elf" || echo "not ok - $p: harness failed ($?)"
done
timeout 60 "$B/run" --expect-shutdown "$B/triple.elf" ||
	echo "not ok - triple: harness failed ($?)"
exit 0
