#!/bin/sh
# The virtio and PCI device tests (tests/virtio/test_virtio.c); a crash of
# the program (an ASan report included) is a failure.
cd "$(dirname "$0")/../.." || exit 1
t=build/tests/virtio/test_virtio
if [ ! -x "$t" ]; then
	echo "not ok - $t is not built (make check builds it)"
	exit 1
fi
"$t"
