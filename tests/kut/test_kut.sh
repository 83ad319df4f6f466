#!/bin/sh
# kvm-unit-tests (the x86 suite KVM and QEMU are tested with) under lguest,
# against qemu-system-i386: only when KUT_DIR points at an i386 build of
# the suite (see run-kut.sh); otherwise one skipped check, never a pass.
# Each entry that passes or skips under QEMU must pass or skip under
# lguest (a skip counts as skipped, not passed); an entry QEMU itself
# fails is reported, and skipped.  Set KUT_LOGS to keep the runs' output.
cd "$(dirname "$0")/../.." || exit 1
if [ -z "$KUT_DIR" ]; then
	echo "ok - kvm-unit-tests # SKIP KUT_DIR is not set" \
	     "(tests/kut/run-kut.sh says how)"
	exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
KUT_LOGS=${KUT_LOGS:-$T/logs} sh tests/kut/run-kut.sh >"$T/table" 2>&1
rc=$?
sed 's/^/# /' "$T/table"
if [ "$rc" -eq 2 ]; then
	echo "not ok - kvm-unit-tests: nothing ran (KUT_DIR=$KUT_DIR)"
	exit 0
fi
awk 'NR > 1 && NF >= 3 && $2 != "n/a" && $1 != "logs:" {
	q = $2; l = $3
	if (q == "PASS" || q == "SKIP" || q == "-") {
		if (l == "PASS")
			print "ok - " $1 ": QEMU " q ", lguest " l
		else if (l == "SKIP")
			print "ok - " $1 ": QEMU " q " # SKIP the suite " \
			      "skips it on lguest"
		else
			print "not ok - " $1 ": QEMU " q ", lguest " l
	} else {
		print "ok - " $1 ": lguest " l " # SKIP QEMU fails it too (" q ")"
	}
}' "$T/table"
