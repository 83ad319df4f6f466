#!/bin/sh
# The arithmetic unit (src/cpu/alu.c) at operand sizes 1, 2, 4 and 8
# against the host CPU: results and every defined flag (tests/cpu/alu64.c).
# ALU64_CASES per operation and size (default 20000).
cd "$(dirname "$0")/../.." || exit 1
make -s build/tests/cpu/alu64 >/dev/null 2>&1 || make build/tests/cpu/alu64 || {
	echo "not ok - tests/cpu: alu64 does not build"
	exit 1
}
exec build/tests/cpu/alu64 "${ALU64_CASES:-20000}"
