#!/bin/sh
# End to end: the TSC as the stock kernel's userland reads it
# (tests/e2e/tsc_prog.c): no two reads alike, none below the one before,
# also across translated blocks that a jump leaves early.  Its output must
# be what the same binary prints under qemu-i386 on the host's TSC, the
# outside oracle: a count of 0 on each line.
# run-all: timeout=900 (boots a real kernel)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_NAME=e2e-tsc
. tests/lib/guest.sh
trap guest_cleanup EXIT
guest_i386_same build/tests/e2e/tsc_prog tsc \
	'*alike in a row: 0 *read before: 0 *the first: 0 *'
