#!/bin/sh
# Generates the fuzz targets' seed corpus into DIR/<target>/ (default
# build/fuzz/seeds): the inputs an honest guest, kernel file, peer or
# command line would give, written by build/fuzz/mkseeds (mkseeds.c), so
# that no binary is ever committed.  `make fuzz-build` builds mkseeds.
cd "$(dirname "$0")/../.." || exit 1
dir=${1:-build/fuzz/seeds}
if [ ! -x build/fuzz/mkseeds ]; then
	echo "mkcorpus: build/fuzz/mkseeds is not built (make fuzz-build)" >&2
	exit 1
fi
rm -rf "$dir"
exec build/fuzz/mkseeds "$dir"
