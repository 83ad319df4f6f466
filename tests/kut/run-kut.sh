#!/bin/sh
# Runs kvm-unit-tests (x86, built for i386 or x86_64) under QEMU's TCG
# (qemu-system-i386 or qemu-system-x86_64) and under lguest, and prints one
# line per entry: test, QEMU result, lguest result.  The suite is not ours
# and is never committed: build it yourself (git clone
# https://gitlab.com/kvm-unit-tests/kvm-unit-tests; ./configure
# --arch=i386 && make, or --arch=x86_64) and point KUT_DIR at the build.
# KUT_ARCH says which build it is (i386 unless told; the build's own
# config.mak must agree).  An x86_64 image is a Multiboot image that turns
# on long mode itself, so lguest runs both kinds the same way.
#
#   KUT_DIR=/path/to/kvm-unit-tests [KUT_ARCH=x86_64] \
#	tests/kut/run-kut.sh [entry...]
#
# The entries are those of x86/unittests.cfg that a one-CPU machine of that
# arch can run: an entry for another arch, for more than one CPU, for KVM
# only, or
# marked nodefault is listed as "n/a" with the reason, and run by neither.
# QEMU runs each entry as the suite's own x86/run does (pc-testdev,
# isa-debug-exit, pci-testdev, the entry's qemu_params); lguest runs it with
# --exit-port alone (no -cpu: our CPU is what it is; -m is honoured).  A
# result is PASS (status 1, nothing on stderr), SKIP (77), FAIL(status) or
# TIMEOUT.  Logs go to KUT_LOGS (default: a fresh directory, printed).
# KUT_QEMU=none leaves QEMU out (its column then reads "-").
#
# The exit status is 0 when every entry that passes or skips under QEMU
# passes or skips under lguest, 1 otherwise, and 2 when there is nothing to
# run (no KUT_DIR): a missing suite is never a pass.  An entry where lguest
# is right and QEMU's TCG is not is listed, with the reason, in
# tests/kut/differs; its line says "on purpose" and it does not count.
LGUEST=${LGUEST:-$(cd "$(dirname "$0")/../.." && pwd)/lguest}
ARCH=${KUT_ARCH:-i386}
case $ARCH in
i386|x86_64) ;;
*)	echo "run-kut: KUT_ARCH must be i386 or x86_64, not $ARCH" >&2
	exit 2 ;;
esac
QEMU=${KUT_QEMU:-$(command -v "qemu-system-$ARCH")}
[ "$QEMU" = none ] && QEMU=

if [ -z "$KUT_DIR" ] || [ ! -f "$KUT_DIR/x86/unittests.cfg" ]; then
	echo "run-kut: KUT_DIR must point at a kvm-unit-tests build" \
	     "(x86/unittests.cfg, x86/*.flat)" >&2
	exit 2
fi
# A build for the other arch would run the wrong entries (or none).
built=$(sed -n 's/^ARCH=//p' "$KUT_DIR/config.mak" 2>/dev/null)
if [ -n "$built" ] && [ "$built" != "$ARCH" ]; then
	echo "run-kut: $KUT_DIR is built for $built, KUT_ARCH is $ARCH" >&2
	exit 2
fi
if [ ! -x "$LGUEST" ]; then
	echo "run-kut: no lguest at $LGUEST (make lguest)" >&2
	exit 2
fi
LOGS=${KUT_LOGS:-$(mktemp -d /tmp/kut.XXXXXX)}
mkdir -p "$LOGS" || exit 2
ONLY=" $* "

# The config as one line per entry: name|file|smp|arch|accel|groups|
# timeout|test_args|qemu_params (quotes around values stripped).
entries() {
	awk '
	function flush() {
		if (name != "")
			print name "|" v["file"] "|" v["smp"] "|" v["arch"] "|" \
			      v["accel"] "|" v["groups"] "|" v["timeout"] "|" \
			      v["test_args"] v["extra_params"] "|" v["qemu_params"]
		split("", v)
	}
	/^\[/ { flush(); name = substr($0, 2, index($0, "]") - 2); next }
	/^[a-z_]+ *=/ {
		k = $0; sub(/ *=.*/, "", k)
		val = $0; sub(/^[a-z_]+ *= */, "", val)
		if (val ~ /^".*"$/ || val ~ /^'\''.*'\''$/)
			val = substr(val, 2, length(val) - 2)
		v[k] = val
	}
	END { flush() }' "$KUT_DIR/x86/unittests.cfg"
}

# verdict STATUS STDERR-FILE: a result in the suite's own terms.
verdict() {
	case $1 in
	1)	if [ -s "$2" ] && grep -qvi warning "$2"; then
			echo "FAIL(1)"
		else
			echo PASS
		fi ;;
	77)	echo SKIP ;;
	124|137) echo TIMEOUT ;;
	*)	echo "FAIL($1)" ;;
	esac
}

# mem_of QEMU_PARAMS: the -m size an entry asks for, in lguest's terms.
mem_of() {
	set -- $1
	while [ $# -gt 1 ]; do
		[ "$1" = -m ] && { echo "$2" | sed 's/^\([0-9]*\)$/\1m/'; return; }
		shift
	done
	echo 128m
}

# mib_of SIZE: lguest's memory size (128m, 4g, 512) in MiB.
mib_of() {
	case $1 in
	*[gG])	echo $(( ${1%?} * 1024 )) ;;
	*[mM])	echo "${1%?}" ;;
	*)	echo "$1" ;;
	esac
}

# on_purpose ENTRY: tests/kut/differs lists the entry for this arch.
on_purpose() {
	awk -F'|' -v a="$ARCH" -v n="$1" '$1 == a && $2 == n { f = 1 }
		END { exit !f }' "$(dirname "$0")/differs"
}

ok_result() { case $1 in PASS|SKIP) return 0 ;; esac; return 1; }

bad=0 ran=0
printf '%-44s %-12s %-12s\n' test QEMU lguest
entries | while IFS='|' read -r name file smp arch accel groups tmo args qp; do
	case $ONLY in "  ") ;; *" $name "*) ;; *) continue ;; esac
	why=
	case " $groups " in *" nodefault "*) why="nodefault" ;; esac
	[ "$accel" = kvm ] && why="kvm only"
	[ -n "$smp" ] && [ "$smp" != 1 ] && why="smp $smp"
	[ -n "$arch" ] && [ "$arch" != "$ARCH" ] && why="$arch only"
	[ -f "$KUT_DIR/x86/$file" ] || why="$file not built"
	# lguest's RAM ends below 4 GiB (the PCI hole above 3 GiB).
	mem=$(mem_of "$qp")
	[ "$(mib_of "$mem")" -gt 3072 ] 2>/dev/null &&
		why="-m $mem: more than lguest's 3 GiB"
	if [ -n "$why" ]; then
		printf '%-44s %-12s %-12s %s\n' "$name" n/a n/a "($why)"
		continue
	fi
	tmo=${tmo:-90s}
	case $tmo in *[0-9]) tmo=${tmo}s ;; esac
	eval "set -- $args"
	q=-
	if [ -n "$QEMU" ]; then
		# shellcheck disable=SC2086
		timeout -k 1s "$tmo" "$QEMU" --no-reboot -nodefaults \
			-device pc-testdev \
			-device isa-debug-exit,iobase=0xf4,iosize=0x4 \
			-display none -serial stdio -device pci-testdev \
			-machine accel=tcg -smp 1 $(eval echo "$qp") \
			-kernel "$KUT_DIR/x86/$file" ${1+-append "$*"} \
			</dev/null >"$LOGS/$name.qemu.out" \
			2>"$LOGS/$name.qemu.err"
		q=$(verdict $? "$LOGS/$name.qemu.err")
	fi
	timeout -k 1s "$tmo" "$LGUEST" --exit-port "$mem" \
		"$KUT_DIR/x86/$file" -- "$@" \
		</dev/null >"$LOGS/$name.lguest.out" 2>"$LOGS/$name.lguest.err"
	l=$(verdict $? "$LOGS/$name.lguest.err")
	note=
	if [ "$q" = - ] || ok_result "$q"; then
		ok_result "$l" || note="<-- differs"
		[ -n "$note" ] && on_purpose "$name" &&
			note="(on purpose: tests/kut/differs)"
	fi
	printf '%-44s %-12s %-12s %s\n' "$name" "$q" "$l" "$note"
done | tee "$LOGS/table"
echo "logs: $LOGS"
ran=$(awk 'NR > 1 && $2 != "n/a"' "$LOGS/table" | wc -l)
bad=$(grep -c -- '<-- differs' "$LOGS/table")
[ "$ran" -gt 0 ] || exit 2
[ "$bad" -eq 0 ]
