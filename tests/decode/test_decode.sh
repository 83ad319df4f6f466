#!/bin/sh
# The decoder against Capstone in 16-, 32- and 64-bit code: every opcode of
# the one- and two-byte maps under all ModRM bytes and a few prefixes, then
# random instructions (DECODE_CASES per mode, default 200000).  Lengths,
# ModRM bytes and displacements must agree; where only one decoder accepts
# the bytes, the form must be on decodetest.c's list of known differences.
cd "$(dirname "$0")/../.." || exit 1
make -s build/tests/decode/decodetest >/dev/null 2>&1 ||
	make build/tests/decode/decodetest || {
	echo "not ok - tests/decode: decodetest does not build" \
	     "(libcapstone-dev: scripts/install-deps.sh)"
	exit 1
}
exec build/tests/decode/decodetest "${DECODE_CASES:-200000}"
