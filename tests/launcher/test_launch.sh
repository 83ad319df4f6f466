#!/bin/sh
# The launcher's good paths: --help and --version, the --verbose layout,
# the tiny ELF kernel entered by the 32-bit boot protocol printing, on the
# serial port, the command line and e820 count it found through ESI, and
# the Multiboot test kernels printing what their information block holds.
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

check() {	# check WHAT FILE PATTERN
	if grep -q -e "$3" "$2"; then
		echo "ok - $1"
	else
		echo "not ok - $1 (no '$3')"
		head -n 20 "$2" | sed 's/^/# /'
	fi
}

"$L" --help >"$T/help" 2>&1
rc=$?
[ $rc -eq 0 ] && echo "ok - --help exits 0" || echo "not ok - --help: $rc"
check "--help shows the usage" "$T/help" "Usage: lguest \[options\] <mem> <kernel>"
check "--help says a plain size is MiB" "$T/help" "plain"
"$L" --version >"$T/ver" 2>"$T/ver.err"
rc=$?
[ $rc -eq 0 ] && [ ! -s "$T/ver.err" ] && echo "ok - --version exits 0" ||
	echo "not ok - --version: status $rc: $(head -n 1 "$T/ver.err")"
check "--version" "$T/ver" "^lguest [0-9]"

# The layout is printed before the guest starts, whatever the CPU then does.
timeout 10 "$L" --verbose 4m "$TINY" hello </dev/null >"$T/out" 2>"$T/err"
tr -d '\r' <"$T/err" >"$T/v"
check "--verbose: RAM" "$T/v" "guest RAM 0x00000000-0x00400000 (4 MiB)"
check "--verbose: kernel" "$T/v" "kernel loaded at 0x00100000-0x00102028"
check "--verbose: boot_params" "$T/v" "boot_params at 0x00007000, e820 entries 3"
check "--verbose: command line" "$T/v" \
	"command line at 0x00020000 (28 bytes): console=ttyS0 panic=-1 hello"
check "--verbose: device window" "$T/v" "device window 0xe0000000-0xfebfffff"
check "--verbose: entry" "$T/v" "entry 0x00100000, .*esi 0x00007000"

# The tiny kernel reports what it found, then pulls the reset line.
check "tiny ELF kernel boots and reads boot_params through ESI" "$T/out" \
	"tiny: cmdline=console=ttyS0 panic=-1 hello e820=3 bss=0 bye"

# Multiboot kernels, ELF and flat, with two modules: the kernel prints what
# its information block says.
printf 'MOD0 first' >"$T/mod0"
printf 'second' >"$T/mod1"
for mb in mb.elf mb-flat.bin; do
	timeout 10 "$L" 8m build/tests/unit/$mb --initrd="$T/mod0" \
		--initrd "$T/mod1" a b </dev/null >"$T/out" 2>"$T/err"
	check "Multiboot $mb boots with its command line and modules" \
		"$T/out" "mb: cmdline=build/tests/unit/$mb a b mods=00000002 mod0=$T/mod0 data=MOD0 upper=00001c00 loader=lguest bss=00000000 bye"
done

if [ -f "$KERNEL" ]; then
	# A disk that cannot be opened ends lguest right after the layout is
	# printed, before the guest runs: no need to wait for a timeout.
	head -c 100000 /dev/urandom >"$T/initrd"
	timeout 20 "$L" -v 64m "$KERNEL" --initrd="$T/initrd" quiet \
		--block=/nonexistent </dev/null >/dev/null 2>"$T/err"
	tr -d '\r' <"$T/err" >"$T/v"
	check "--verbose: Debian kernel unpacked on the host" "$T/v" \
		"kernel: bzImage, unpacked on the host, boot protocol 2.15"
	check "--verbose: vmlinux at 16 MiB" "$T/v" \
		"kernel loaded at 0x01000000-"
	check "--verbose: initrd" "$T/v" "initrd at 0x03fe7000-0x03fff6a0 (97 KiB)"
	timeout 20 "$L" -v --no-unpack 64m "$KERNEL" --block=/nonexistent \
		</dev/null >/dev/null 2>"$T/err"
	tr -d '\r' <"$T/err" >"$T/v"
	check "--verbose --no-unpack: code at 1 MiB, runs at 16 MiB" "$T/v" \
		"kernel unpacks and runs at 0x01000000-"
else
	echo "ok - Debian kernel layout # SKIP no kernel at $KERNEL (run make guest)"
fi
