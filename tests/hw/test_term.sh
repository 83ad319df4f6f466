#!/bin/sh
# The host terminal: raw mode, restoring it, three ^C, pipes and /dev/null.
cd "$(dirname "$0")/../.." || exit 1
exec build/tests/hw/term_test build/tests/hw/term_child
