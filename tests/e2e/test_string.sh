#!/bin/sh
# End to end: REP MOVS and REP STOS as the stock kernel's userland runs
# them (tests/e2e/string_prog.c): every element size, up and down, within
# a page and across, overlapping.  Its output, hashes of the registers and
# memory each left, must be what the same binary prints under qemu-i386,
# the outside oracle.
# run-all: timeout=900 (boots a real kernel)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_NAME=e2e-string
. tests/lib/guest.sh
trap guest_cleanup EXIT
guest_i386_same build/tests/e2e/string_prog string '*64-byte copies*'
