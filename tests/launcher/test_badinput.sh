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
bad "an ELF32 file marked 64-bit" "not x86-64" 64m "$T/elf64"
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

# The device options, each checked where its own code acts: with a kernel
# that loads (tiny.elf), a bad value must be refused by the device, naming
# the option, and a good one must make the device (--verbose names its PCI
# function, 1af4:1040 + virtio type) while the kernel runs to its reset
# (status 2).  A device that did nothing, or refused nothing, fails here.
dev() {		# dev WHAT NEEDLE ARGS...: a good value; NEEDLE in -v output
	what=$1 needle=$2
	shift 2
	timeout 20 $L -v 64m "$TINY" "$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -eq 2 ] && grep -q "^tiny: cmdline=" "$T/out" &&
	   tr -d '\r' <"$T/err" | grep -qF -- "$needle"; then
		echo "ok - $what: $(tr -d '\r' <"$T/err" | grep -F -- "$needle" | head -n 1)"
	else
		echo "not ok - $what: status $rc, no '$needle'"
		grep -v "^lguest: \(guest RAM\|kernel\|boot_params\|command\|entry\)" \
			"$T/err" | head -n 5 | sed 's/^/# /'
	fi
}
truncate -s 1M "$T/disk"
dev "--block makes a virtio disk" "virtio-blk: $T/disk: 2048 sectors" \
	--block="$T/disk"
dev "--block makes a virtio-blk PCI function" "1af4:1042" --block="$T/disk"
bad "--block of a directory" "--block=$T: cannot open: Is a directory" \
	4m "$TINY" --block="$T"
dev "--sharenet makes a virtio NIC on the file" \
	"--sharenet: virtio-net" --sharenet="$T/share"
[ -s "$T/share" ] && echo "ok - --sharenet made its file" ||
	echo "not ok - --sharenet made no file at $T/share"
bad "--sharenet on a directory" "--sharenet=$T: Is a directory" \
	4m "$TINY" --sharenet="$T"
dev "--rng makes a virtio entropy device" "1af4:1044" --rng
bad "--rng with a value" "--rng takes no value" 4m "$TINY" --rng=1
dev "--net=user makes a virtio NIC" "--net=user: virtio-net 52:54:00:12:34:56" \
	--net=user
bad "--net=user with an unknown option" "unknown option 'bogus=1'" \
	4m "$TINY" --net=user,bogus=1
bad "--net=user with a bad MAC" "'zz' is not a unicast MAC address" \
	4m "$TINY" --net=user,mac=zz
if [ -c /dev/net/tun ] && ip tuntap add dev lgprobe$$ mode tap \
	2>/dev/null && ip link del lgprobe$$ 2>/dev/null; then
	dev "--tunnet makes a TAP device and a NIC" "--tunnet: virtio-net" \
		--tunnet=10.213.$(($$ % 200)).1
else
	echo "ok - --tunnet makes a TAP device # SKIP no TAP device may be made here (needs root and /dev/net/tun)"
fi
E=build/tests/multiboot/exitprog.elf
if [ -f "$E" ]; then
	timeout 20 $L --exit-port 8m "$E" out 1 0x2a </dev/null >"$T/out" 2>&1
	rc=$?
	[ "$rc" -eq 85 ] && echo "ok - --exit-port makes the exit port (0x2a: 85)" ||
		echo "not ok - --exit-port: status $rc for a write of 0x2a, want 85"
else
	echo "not ok - $E is built (make check builds it)"
fi
bad "--exit-port with a value" "--exit-port takes no value" \
	4m "$TINY" --exit-port=1

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
