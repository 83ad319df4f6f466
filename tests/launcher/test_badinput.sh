#!/bin/sh
# The launcher's answer to bad input: for each case of the table below,
# lguest must exit with status 1, print nothing on stdout (the guest never
# started) and exactly one line on stderr, "lguest: <problem>", that names
# the problem.  Run against the ASan build, so that a crash on the way to
# the error counts too.
cd "$(dirname "$0")/../.." || exit 1
L=${LGUEST_ASAN:-$PWD/lguest-asan}
TINY=build/tests/unit/tiny.elf
KERNEL=${LGUEST_TEST_KERNEL:-guest/cache/vmlinuz}
if [ ! -x "$L" ] || [ ! -f "$TINY" ]; then
	echo "not ok - $L and $TINY are built (make check builds them)"
	exit 1
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# bad WHAT NEEDLE ARGS...: one refusal.
bad() {
	what=$1 needle=$2
	shift 2
	timeout 20 $L "$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	lines=$(wc -l <"$T/err")
	msg=$(head -n 1 "$T/err" | tr -d '\r')
	if [ "$rc" -eq 1 ] && [ "$lines" -eq 1 ] && [ ! -s "$T/out" ] &&
	   case "$msg" in "lguest: "*"$needle"*) true ;; *) false ;; esac
	then
		echo "ok - $what: $msg"
	else
		echo "not ok - $what: status $rc, $lines lines: $msg"
		head -n 5 "$T/err" | sed 's/^/# /'
	fi
}

# Poke bytes into a copy of a file: poke FILE OFFSET OCTAL-ESCAPES
poke() {
	printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

printf 'hello, world\n' >"$T/text"
: >"$T/empty"
head -c $((3 * 1024 * 1024)) /dev/zero >"$T/initrd3m"
head -c 100 "$TINY" >"$T/short.elf"
cp "$TINY" "$T/elf64" && poke "$T/elf64" 4 '\002'
cp "$TINY" "$T/amd64.elf" && poke "$T/amd64.elf" 18 '\076'
long=$(head -c 3000 /dev/zero | tr '\0' x)

bad "no arguments" "missing <mem> and <kernel>"
bad "no kernel" "missing <kernel>" 64m
bad "a missing kernel" "kernel /nonexistent: No such file or directory" \
	64m /nonexistent
bad "a directory as kernel" "is a directory" 64m "$T"
bad "an empty kernel" "is empty" 64m "$T/empty"
bad "neither bzImage nor ELF" "neither a bzImage nor an ELF32 i386 kernel" \
	64m "$T/text"
bad "a truncated ELF kernel" "truncated" 64m "$T/short.elf"
bad "a 64-bit ELF kernel" "64-bit ELF kernel" 64m "$T/elf64"
bad "an ELF for x86-64" "not i386" 64m "$T/amd64.elf"
bad "a size that is not a number" "bad memory size 'lots'" lots "$TINY"
bad "a size with a bad suffix" "bad memory size '64t'" 64t "$TINY"
bad "a size too small" "too small" 1m "$TINY"
bad "a size too large" "too large" 4g "$TINY"
bad "an initrd that does not fit" "does not fit" \
	2m "$TINY" --initrd="$T/initrd3m"
bad "a missing initrd" "initrd /nonexistent: No such file" \
	4m "$TINY" --initrd=/nonexistent
bad "two initrds for Linux" "takes one initrd" \
	4m "$TINY" --initrd="$T/initrd3m" --initrd="$T/initrd3m"
bad "an unknown option" "unknown option --bogus" --bogus 4m "$TINY"
bad "an unknown option after the kernel" "unknown option --inird" \
	4m "$TINY" --inird=x
bad "a missing option value" "--initrd needs a value" 4m "$TINY" --initrd
bad "a value for a flag" "--verbose takes no value" --verbose=yes 4m "$TINY"
# Device values are checked by the devices (or refused as not built);
# either way the one line names the option.
bad "a bad --tunnet address" "--tunnet" 4m "$TINY" --tunnet=x
bad "a missing --block file" "--block" 4m "$TINY" --block=/nonexistent
bad "a bad --net type" "not a network type" 4m "$TINY" --net=tap
MB=build/tests/unit/mb-flat.bin
if [ -f "$MB" ]; then
	cp "$MB" "$T/mb-sum" && poke "$T/mb-sum" 8 '\000'
	bad "a Multiboot header with a bad checksum" "bad checksum" \
		8m "$T/mb-sum"
	head -c $((1536 * 1024)) /dev/zero >"$T/bigmod"
	bad "a Multiboot module that does not fit" "does not fit" \
		2m "$MB" --initrd="$T/bigmod"
else
	echo "not ok - $MB is built (make check builds it)"
fi
bad "a command line too long" "command line is 3023 bytes" 4m "$TINY" "$long"

# A device whose code is not built yet is refused by name; once it is
# built the same command fails on the missing kernel instead.
for opt in --block=/dev/null --tunnet=10.0.0.1 --sharenet="$T/s" --rng \
	   --net=user --exit-port; do
	name=${opt%%=*}
	timeout 20 "$L" 64m /nonexistent "$opt" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	msg=$(head -n 1 "$T/err" | tr -d '\r')
	case "$msg" in
	"lguest: $name: "*" is not built yet"|"lguest: kernel /nonexistent:"*)
		[ "$rc" -eq 1 ] && echo "ok - $name refused by name or built: $msg" ||
			echo "not ok - $name: status $rc: $msg" ;;
	*)	echo "not ok - $name: status $rc: $msg" ;;
	esac
done

# Root reads every file, so as root the check runs as nobody (setpriv, from
# util-linux), with a copy of the binary and the file in a folder nobody may
# pass through but not list (the tree itself may be out of nobody's reach).
cp "$TINY" "$T/noread" && chmod 000 "$T/noread"
if [ "$(id -u)" -ne 0 ]; then
	bad "an unreadable kernel" "Permission denied" 4m "$T/noread"
else
	chmod 711 "$T"
	L_SAVE=$L
	cp "$L" "$T/lguest-nobody" && chmod 755 "$T/lguest-nobody"
	L="setpriv --reuid=65534 --regid=65534 --clear-groups $T/lguest-nobody"
	bad "an unreadable kernel (as nobody)" "Permission denied" 4m "$T/noread"
	L=$L_SAVE
	chmod 700 "$T"
fi

if [ -f "$KERNEL" ]; then
	cp "$KERNEL" "$T/bz64" && poke "$T/bz64" $((0x236)) '\005'
	bad "a 64-bit bzImage" "64-bit (x86-64) kernel" 64m "$T/bz64"
	cp "$KERNEL" "$T/bzold" && poke "$T/bzold" $((0x206)) '\001\002'
	bad "boot protocol 2.01" "boot protocol 2.01 is too old" 64m "$T/bzold"
	size=$(wc -c <"$KERNEL")
	head -c $((size / 2)) "$KERNEL" >"$T/bzhalf"
	bad "a truncated bzImage" "is truncated" 64m "$T/bzhalf"
	head -c 1000 "$KERNEL" >"$T/bzhead"
	bad "a bzImage cut in its setup code" "is truncated" 64m "$T/bzhead"
	bad "a bzImage in too little memory" "give at least 33 MiB" \
		32m "$KERNEL"
else
	echo "ok - bad bzImages # SKIP no kernel at $KERNEL (run make guest)"
fi
