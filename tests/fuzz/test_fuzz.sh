#!/bin/sh
# The fuzz targets in `make check`: each runs for FUZZ_CHECK_SECONDS
# (default 8) from the generated seeds alone (tests/fuzz/run.sh), with
# ASan and UBSan.  Not built (no clang) is a failure, not a skip:
# scripts/install-deps.sh installs clang.  `make fuzz` runs them longer.
cd "$(dirname "$0")/../.." || exit 1
FUZZ_SECONDS=${FUZZ_CHECK_SECONDS:-8} FUZZ_KEEP=0 exec tests/fuzz/run.sh
