#!/bin/sh
# kvm-unit-tests (the x86 suite KVM and QEMU are tested with) under lguest,
# against qemu-system-i386: only when KUT_DIR points at an i386 build of
# the suite (see run-kut.sh); otherwise one skipped check, never a pass.
# Each entry that passes or skips under QEMU must pass or skip under
# lguest (a skip counts as skipped, not passed); an entry QEMU itself
# fails is reported, and skipped.  Set KUT_LOGS to keep the runs' output.
#
# With the argument x86_64 (test_kut64.sh) the same for an x86_64 build
# at KUT64_DIR, against qemu-system-x86_64; its checks are named
# "x86_64 ENTRY".
cd "$(dirname "$0")/../.." || exit 1
if [ "$1" = x86_64 ]; then
	ARCH=x86_64 VAR=KUT64_DIR DIR=$KUT64_DIR PFX="x86_64 "
else
	ARCH=i386 VAR=KUT_DIR DIR=$KUT_DIR PFX=
fi
if [ -z "$DIR" ]; then
	echo "ok - kvm-unit-tests${PFX:+ ($ARCH)} # SKIP $VAR is not set" \
	     "(tests/kut/run-kut.sh says how)"
	exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
KUT_DIR=$DIR KUT_ARCH=$ARCH KUT_LOGS=${KUT_LOGS:-$T/logs} \
	sh tests/kut/run-kut.sh >"$T/table" 2>&1
rc=$?
sed 's/^/# /' "$T/table"
if [ "$rc" -eq 2 ]; then
	echo "not ok - kvm-unit-tests${PFX:+ ($ARCH)}: nothing ran ($VAR=$DIR)"
	exit 0
fi
awk -v pfx="$PFX" 'NR > 1 && NF >= 3 && $2 != "n/a" && $1 != "logs:" {
	q = $2; l = $3; n = pfx $1
	if (q == "PASS" || q == "SKIP" || q == "-") {
		if (l == "PASS")
			print "ok - " n ": QEMU " q ", lguest " l
		else if (l == "SKIP")
			print "ok - " n ": QEMU " q " # SKIP the suite " \
			      "skips it on lguest"
		else if ($0 ~ /on purpose/)
			print "ok - " n ": QEMU " q ", lguest " l " # SKIP " \
			      "lguest differs on purpose (tests/kut/differs)"
		else
			print "not ok - " n ": QEMU " q ", lguest " l
	} else {
		print "ok - " n ": lguest " l " # SKIP QEMU fails it too (" q ")"
	}
}' "$T/table"
