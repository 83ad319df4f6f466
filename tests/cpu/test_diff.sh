#!/bin/sh
# Differential test of the software CPU's integer instructions: every form
# runs on the host CPU (or, for forms with no 64-bit equivalent, natively
# under qemu-i386) and on our CPU, and the results must agree.  See
# tests/cpu/difftest.c.
#
# Default (make check): 500 cases per form, seed 1, well under a minute.
# A long run, one command away:
#     CPU_TEST_CASES=10000 tests/cpu/test_diff.sh     (5.5M cases, ~10 min)
# Other knobs: CPU_TEST_SEED=n (another fixed seed), CPU_TEST_FILTER=shld
# (forms whose name contains it, or a group name like "alu"),
# CPU_TEST_SHOW=n (mismatches printed per form, default 3),
# CPU_TEST_SELFCHECK=1 (judge qemu-i386 by the host instead of our CPU:
# checks the harness and the masks of undefined flags).
cd "$(dirname "$0")/../.." || exit 1
make -s build/tests/cpu/difftest build/tests/cpu/ref32 >/dev/null 2>&1 ||
	make build/tests/cpu/difftest build/tests/cpu/ref32 || {
	echo "not ok - tests/cpu: harness does not build"
	exit 1
}
if ! command -v qemu-i386 >/dev/null; then
	echo "not ok - tests/cpu: qemu-i386 is missing (scripts/install-deps.sh)"
fi
exec build/tests/cpu/difftest build/tests/cpu/ref32
