#!/bin/sh
# Platform unit tests: PIC, PIT, RTC, UART, i8042, the bus, the run loop.
cd "$(dirname "$0")/../.." || exit 1
exec build/tests/hw/hw_test
