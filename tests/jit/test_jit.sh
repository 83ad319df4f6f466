#!/bin/sh
# The translator against the interpreter on random programs: see
# tests/jit/jitdiff.c.  Default (make check): 1200 programs a seed, about
# 15 s of CPU a seed (fresh CPUs, four per program, are most of it).
# Without JIT_TEST_SEED, seeds 1 to 3 (2 found a block's end that read
# the flags its cold code had left the translator wrong about; 3 alone
# has a chain hand its registers to a block that was dropped, whose entry
# must store them first: jit.c's b->spill).
# Knobs: JIT_TEST_PROGS=n, JIT_TEST_SEED=n.  One program alone, with its
# bytes and where it first differs: build/tests/jit/jitdiff -s SEED -p N;
# hand-written bytes: build/tests/jit/jitdiff -x "b8 01 00 00 00 ... f4".
# JIT_TEST_NO_RCX=1 leaves out RCL/RCR by an immediate (a known bug).
cd "$(dirname "$0")/../.." || exit 1
# A form that reaches c->r where the write-back cache has what it lacks
# aborts rather than being made again without (emit_block()).
export LGUEST_JIT_STRICT=1
make -s build/tests/jit/jitdiff >/dev/null 2>&1 ||
	make build/tests/jit/jitdiff || {
	echo "not ok - tests/jit: jitdiff does not build"
	exit 1
}
[ -n "$JIT_TEST_SEED" ] && exec build/tests/jit/jitdiff
JIT_TEST_SEED=1 build/tests/jit/jitdiff ||
	echo "not ok - jit: jitdiff with seed 1 exits with status $?"
JIT_TEST_SEED=2 build/tests/jit/jitdiff ||
	echo "not ok - jit: jitdiff with seed 2 exits with status $?"
JIT_TEST_SEED=3 exec build/tests/jit/jitdiff
