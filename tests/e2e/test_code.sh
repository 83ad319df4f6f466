#!/bin/sh
# End to end: a call of a PIC thunk in another page, which the translator
# runs in line, and then other code written over the thunk and another
# page mapped where it was, and such code mapped at two addresses at once
# (tests/e2e/code_prog.c).  Each call's result must be what the code
# there says: the same binary's output under qemu-i386, the outside
# oracle.
# run-all: timeout=900 (boots a real kernel)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_NAME=e2e-code
. tests/lib/guest.sh
trap guest_cleanup EXIT
guest_i386_same build/tests/e2e/code_prog code '*code: done*'
