#!/bin/sh
# The Multiboot loader's refusals, against the real binary: a malformed
# header, a bad checksum, segments outside RAM, a module that does not
# fit, and demands we cannot meet.  Each must end lguest with status 8
# (refused, under --exit-port: even, never a QEMU harness's PASS), one
# line "lguest: <reason>" on stderr and nothing on stdout: the program
# (which would print at once) never started.  The images are copies of
# exitprog.elf and the unit tests' flat Multiboot kernel, poked.
cd "$(dirname "$0")/../.." || exit 1
L=${LGUEST_ASAN:-$PWD/lguest-asan}
E=build/tests/multiboot/exitprog.elf
FLAT=build/tests/unit/mb-flat.bin
if [ ! -x "$L" ] || [ ! -f "$E" ] || [ ! -f "$FLAT" ]; then
	echo "not ok - $L, $E and $FLAT are built (make check builds them)"
	exit 1
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

bad() {		# bad WHAT NEEDLE ARGS...
	what=$1 needle=$2
	shift 2
	timeout 20 "$L" --exit-port "$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	lines=$(wc -l <"$T/err")
	msg=$(head -n 1 "$T/err" | tr -d '\r')
	if [ "$rc" -eq 8 ] && [ "$lines" -eq 1 ] && [ ! -s "$T/out" ] &&
	   case "$msg" in "lguest: "*"$needle"*) true ;; *) false ;; esac
	then
		echo "ok - $what: $msg"
	else
		echo "not ok - $what: status $rc, $lines lines: $msg"
		cat "$T/out" "$T/err" | head -n 5 | sed 's/^/# /'
	fi
}

poke() {	# poke FILE OFFSET OCTAL-ESCAPES
	printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

le32() {	# le32 N: N as four octal escapes, little-endian
	printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) $(($1 >> 8 & 255)) \
		$(($1 >> 16 & 255)) $(($1 >> 24 & 255))
}

rd32() {	# rd32 FILE OFFSET
	od -An -t u4 -j "$2" -N 4 "$1" | tr -d ' '
}

# Where exitprog's header is, and its first program header.
hdr=$(LC_ALL=C grep -obUaP '\x02\xb0\xad\x1b' "$E" | head -n 1 | cut -d: -f1)
phoff=$(rd32 "$E" 28)
if [ -z "$hdr" ] || [ -z "$phoff" ]; then
	echo "not ok - found exitprog's Multiboot header and program headers"
	exit 1
fi

# The good image runs (and says so), so that every refusal below is the
# poke's doing.
timeout 20 "$L" --exit-port 8m "$E" out 1 0 </dev/null >"$T/out" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q "exitprog: out" "$T/out" &&
	echo "ok - the unpoked image boots" ||
	echo "not ok - the unpoked image: status $rc"

cp "$E" "$T/sum" && poke "$T/sum" $((hdr + 8)) '\001'
bad "a bad checksum" "has a bad checksum" 8m "$T/sum"
cp "$FLAT" "$T/flatsum" && poke "$T/flatsum" 8 '\000'
bad "a bad checksum (flat image)" "has a bad checksum" 8m "$T/flatsum"

# Malformed headers.
printf '\002\260\255\033\000\000\001\000\376\117\121\344' >"$T/short"
bad "a header cut before its address fields" \
	"is truncated in its Multiboot header" 8m "$T/short"
cp "$FLAT" "$T/noaddr" && poke "$T/noaddr" 4 "$(le32 3)" &&
	poke "$T/noaddr" 8 "$(le32 $(( (0 - 0x1badb002 - 3) & 0xffffffff )))"
bad "a flat image without address fields" "must be ELF" 8m "$T/noaddr"
la=$(rd32 "$FLAT" 16)
cp "$FLAT" "$T/lend" && poke "$T/lend" 20 "$(le32 $((la - 1)))"
bad "load_end_addr below load_addr" "is below load_addr" 8m "$T/lend"
cp "$FLAT" "$T/entry" && poke "$T/entry" 28 "$(le32 0x500000)"
bad "an entry outside the image" "entry 0x500000 is outside" 8m "$T/entry"
flags=$(rd32 "$E" $((hdr + 4)))
for f in 4:"video mode" 32:"demands lguest does not know"; do
	bit=${f%%:*}
	cp "$E" "$T/demand"
	poke "$T/demand" $((hdr + 4)) "$(le32 $((flags | bit)))"
	poke "$T/demand" $((hdr + 8)) \
		"$(le32 $(( (0 - 0x1badb002 - (flags | bit)) & 0xffffffff )))"
	bad "a header demanding flag $bit" "${f#*:}" 8m "$T/demand"
done

# Segments outside RAM.
cp "$E" "$T/high" && poke "$T/high" $((phoff + 12)) "$(le32 0x7f000000)"
bad "an ELF segment far above RAM" "lies outside RAM" 8m "$T/high"
cp "$E" "$T/edge" && poke "$T/edge" $((phoff + 12)) "$(le32 0x1ff000)"
bad "an ELF segment crossing the end of RAM" "lies outside RAM" 2m "$T/edge"
cp "$FLAT" "$T/flathigh"
for off in 12 16 20 24 28; do
	v=$(rd32 "$FLAT" $off)
	[ "$v" -ne 0 ] && poke "$T/flathigh" $off "$(le32 $((v + 0x7f000000)))"
done
bad "a flat image far above RAM" "lies outside RAM" 8m "$T/flathigh"

# Modules.
head -c $((1536 * 1024)) /dev/zero >"$T/bigmod"
bad "a module that does not fit" "does not fit" 2m "$E" --initrd="$T/bigmod"
bad "a second module that does not fit" "does not fit" \
	2m "$E" --initrd="$E" --initrd="$T/bigmod"
bad "a missing module" "No such file" 8m "$E" --initrd=/nonexistent
