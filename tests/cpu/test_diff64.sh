#!/bin/sh
# The 64-bit half of the differential CPU test: every integer form (with
# and without REX.W, r8-r15, REX byte registers, RIP-relative and 32-bit
# addressing) and the MMX/SSE/SSE2 forms 64-bit mode reaches with REX run
# on the host CPU and on ours in long mode, from the same registers,
# RFLAGS, MXCSR and memory; all must agree (see tests/cpu/diff64.c).
# Default 300 cases per form (well under a minute); a long run:
#     CPU_TEST_CASES=20000 tests/cpu/test_diff64.sh
# CPU_TEST_FILTER=shld picks forms by name, CPU_TEST_SEED=n another seed,
# CPU_TEST_SHOW=n mismatches printed per form (default 3).
cd "$(dirname "$0")/../.." || exit 1
make -s build/tests/cpu/diff64 >/dev/null 2>&1 ||
	make build/tests/cpu/diff64 || {
	echo "not ok - tests/cpu: diff64 does not build"
	exit 1
}
exec build/tests/cpu/diff64
