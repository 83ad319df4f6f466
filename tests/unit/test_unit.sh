#!/bin/sh
# Runs the unit-test programs built by tests/unit/rules.mk.  Each prints its
# own TAP lines; a program that crashes is reported as a failure.
cd "$(dirname "$0")/../.." || exit 1
dir=build/tests/unit
export TINY_ELF="$dir/tiny.elf" TINY_PHYS_ELF="$dir/tiny-phys.elf"
export MB_ELF="$dir/mb.elf" MB_FLAT="$dir/mb-flat.bin"
rc=0
for t in options memory boot multiboot; do
	if [ ! -x "$dir/test_$t" ]; then
		echo "not ok - $dir/test_$t is not built (make check builds it)"
		rc=1
		continue
	fi
	"$dir/test_$t" || { echo "# test_$t exited with $?"; rc=1; }
done
exit $rc
