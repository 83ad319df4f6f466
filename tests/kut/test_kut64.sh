#!/bin/sh
# kvm-unit-tests built for x86_64 (KUT64_DIR) under lguest, against
# qemu-system-x86_64: test_kut.sh's checks for the 64-bit build, skipped
# when KUT64_DIR is not set.  A whole run takes about 20 minutes.
# run-all: timeout=2400 (every x86_64 entry under QEMU and under lguest)
exec sh "$(dirname "$0")/test_kut.sh" x86_64
