#!/bin/sh
# The translator against the interpreter on random 64-bit programs in
# long mode: see tests/jit/jitdiff64.c.  Default (make check): 600
# programs, seed 1.  Knobs: JIT64_TEST_PROGS=n, JIT_TEST_SEED=n.  One
# program alone, with its bytes and where it first differs:
# build/tests/jit/jitdiff64 -s SEED -p N; hand-written bytes:
# build/tests/jit/jitdiff64 -x "48 b8 ... f4".
cd "$(dirname "$0")/../.." || exit 1
make -s build/tests/jit/jitdiff64 >/dev/null 2>&1 ||
	make build/tests/jit/jitdiff64 || {
	echo "not ok - tests/jit: jitdiff64 does not build"
	exit 1
}
exec build/tests/jit/jitdiff64
