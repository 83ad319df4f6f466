#!/bin/sh
# Local APIC, IO-APIC, ACPI tables and PM registers, on the stand-in CPU.
cd "$(dirname "$0")/../.." || exit 1
exec build/tests/hw/apic_test
