#!/bin/sh
# The x87 tests.  fpu_diff: every x87 form of an i686, run through
# src/cpu/fpu.c and natively on the host, compared bit for bit, then the
# #UD, #MF, fault and real-mode checks, with a coverage table.  fpu_run: a
# small x87 program through the whole software CPU against the host.
#
#   FPU_TEST_ITER=n   cases per form for fpu_diff (default 2000, about 2 s
#                     with the ASan build), random inputs for fpu_run;
#                     e.g. FPU_TEST_ITER=30000 for a long run (minutes)
#   FPU_TEST_SEED=s   another random seed for fpu_diff (default fixed)
cd "$(dirname "$0")/../.." || exit 1
rc=0
for bin in build/tests/fpu/fpu_diff build/tests/fpu/fpu_run; do
	if [ ! -x "$bin" ]; then
		echo "not ok - $bin not built"
		rc=1
		continue
	fi
	"$bin" || rc=1
done
exit $rc
