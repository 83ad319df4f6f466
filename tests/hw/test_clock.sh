#!/bin/sh
# The virtual clock and the run loop's timing (a few seconds: some tests
# run against the host's real clock).
cd "$(dirname "$0")/../.." || exit 1
exec build/tests/hw/clock_test
