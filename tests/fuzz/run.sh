#!/bin/sh
# Runs each fuzz target (or those named) for FUZZ_SECONDS (default 60),
# from the generated seeds, and prints one TAP line per target:
#
#	ok - fuzz: TARGET: N execs, 0 crashes
#	not ok - fuzz: TARGET: crashed after N execs: ARTIFACT
#
# With FUZZ_KEEP=1 (make fuzz) what the fuzzer finds stays in
# build/fuzz/corpus/TARGET for the next run; otherwise it starts from the
# seeds alone, in a scratch folder.  A crash leaves its input in
# build/fuzz/crashes/ and the fuzzer's report in build/fuzz/logs/TARGET.log;
# replay it with build/fuzz/bin/fuzz_TARGET FILE.
cd "$(dirname "$0")/../.." || exit 1
secs=${FUZZ_SECONDS:-60}
targets=${*:-virtqueue virtio_blk virtio_net virtio_console virtio_rng pci \
	   boot_linux multiboot sharenet options}
fail=0

missing=
for t in $targets; do
	[ -x build/fuzz/bin/fuzz_$t ] || missing="$missing $t"
done
if [ -n "$missing" ]; then
	command -v "${FUZZ_CC:-clang}" >/dev/null ||
		echo "# clang is missing: scripts/install-deps.sh installs it"
	for t in $missing; do
		echo "not ok - fuzz: $t: build/fuzz/bin/fuzz_$t is not built" \
		     "(make fuzz-build)"
	done
	exit 1
fi
tests/fuzz/mkcorpus.sh build/fuzz/seeds || exit 1
mkdir -p build/fuzz/crashes build/fuzz/logs
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for t in $targets; do
	if [ "${FUZZ_KEEP:-0}" = 1 ]; then
		corpus=build/fuzz/corpus/$t
	else
		corpus=$scratch/$t
	fi
	mkdir -p "$corpus"
	# The loaders' refusals keep what exit() would drop (fuzz_load.h),
	# which the leak checker is told to ignore; its scan after every
	# such input (of a 64 MiB unpacking buffer) would only slow them.
	case $t in
	boot_linux|multiboot) maxlen=16384 leaks=0 ;;
	*) maxlen=4096 leaks=1 ;;
	esac
	log=build/fuzz/logs/$t.log
	TMPDIR=$scratch build/fuzz/bin/fuzz_$t -max_total_time="$secs" \
		-timeout=10 -rss_limit_mb=2048 -max_len=$maxlen \
		-detect_leaks=$leaks \
		-print_final_stats=1 -artifact_prefix=build/fuzz/crashes/$t- \
		"$corpus" build/fuzz/seeds/$t >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	crash=$(sed -n 's/.*Test unit written to //p' "$log" | head -1)
	if [ $rc -eq 0 ] && [ -z "$crash" ] && [ -n "$execs" ]; then
		echo "ok - fuzz: $t: $execs execs, 0 crashes"
	else
		fail=1
		echo "not ok - fuzz: $t: crashed after ${execs:-?} execs" \
		     "(status $rc): ${crash:-no input saved}, see $log"
		grep -m3 'ERROR\|SUMMARY\|property broken\|die()' "$log" |
			sed 's/^/# /'
	fi
done
exit $fail
