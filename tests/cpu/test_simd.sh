#!/bin/sh
# Differential test of MMX, SSE and SSE2: every form runs on the host CPU
# and on ours from the same registers, MXCSR and memory, and all must
# agree (see tests/cpu/simddiff.c).  Default 400 cases per form; a long
# run: CPU_TEST_CASES=20000 tests/cpu/test_simd.sh.  CPU_TEST_FILTER=addps
# picks forms by name, CPU_TEST_SEED=n another seed.
cd "$(dirname "$0")/../.." || exit 1
make -s build/tests/cpu/simddiff >/dev/null 2>&1 ||
	make build/tests/cpu/simddiff || {
	echo "not ok - tests/cpu: simddiff does not build"
	exit 1
}
exec build/tests/cpu/simddiff
