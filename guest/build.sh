#!/bin/sh
# Builds the test guest that every boot test and benchmark uses: Debian 12's
# stock i386 kernel (linux-image-686) and a static busybox, fetched with apt,
# plus an initramfs of ours whose /init (guest/init) loads the virtio and ext4
# modules and then runs a test's commands or gives a shell.
#
# FLAVOUR picks the kernel: 686 (the default, two-level paging) or 686-pae
# (linux-image-686-pae: PAE page tables and NX, what tests/e2e/test_pae.sh
# boots).  The default flavour's outputs are in guest/cache/, another
# flavour's in guest/cache/<flavour>/ (same names); the .deb files of all
# flavours share guest/cache/debs/.
#
# Outputs, all in guest/cache/ (git ignores it; nothing here is committed):
#   vmlinuz          the bzImage, as Debian ships it
#   initrd.img       our initramfs: an uncompressed cpio (newc)
#   initrd.img.gz    the same, gzip-compressed (kept for comparison)
#   busybox          the static i386 busybox (guest/mkdisk.sh puts it on disks)
#   kernel-version   e.g. 6.1.0-50-686
#   modules/         the kernel's whole /lib/modules/<version>, with the
#                    modules.dep that depmod made for it
#
# Why the initramfs is not compressed: the guest has to decompress it on its
# own (emulated) CPU, and the kernel unpacks a plain cpio much faster than it
# inflates gzip.  Measured under qemu-system-i386 TCG, see guest/README.md.
#
# Running it again does only what is missing (delete guest/cache/ to start
# over).  GUEST_FORCE=1 rebuilds the initramfs even if it looks up to date.
# Needs: apt-get with the i386 architecture added (scripts/install-deps.sh
# does that), dpkg-deb, depmod and modprobe (kmod), cpio, gzip.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
FLAVOUR=${FLAVOUR:-686}
debs="$here/cache/debs"
arch=i386
case $FLAVOUR in
686) cache="$here/cache" ;;
686-pae) cache="$here/cache/$FLAVOUR" ;;
amd64)
	cache="$here/cache/$FLAVOUR"
	arch=amd64
	;;
*)
	echo "guest/build.sh: unknown FLAVOUR '$FLAVOUR' (686, 686-pae or" \
	     "amd64)" >&2
	exit 1
	;;
esac
mkdir -p "$cache" "$debs"
shown="guest/${cache#"$here/"}"

die() {
	echo "guest/build.sh: $*" >&2
	exit 1
}

need() {
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || PATH="$PATH:/sbin:/usr/sbin" \
			command -v "$t" >/dev/null 2>&1 ||
			die "'$t' not found: run scripts/install-deps.sh (as root)"
	done
}

need apt-get apt-cache dpkg dpkg-deb cpio gzip
export PATH="$PATH:/sbin:/usr/sbin"
need depmod modprobe

if ! dpkg --print-foreign-architectures | grep -qx i386; then
	die "the i386 architecture is not enabled in dpkg; run (as root)" \
	    "scripts/install-deps.sh, or: dpkg --add-architecture i386 &&" \
	    "apt-get update"
fi

# The metapackage names the real image package, e.g. linux-image-6.1.0-50-686
# (or linux-image-6.1.0-50-686-pae for FLAVOUR=686-pae).
resolve_kernel_package() {
	suffix="\\(:$arch\\)\\{0,1\\}\$"
	apt-cache depends "linux-image-$FLAVOUR:$arch" 2>/dev/null |
		sed -n "s/^ *Depends: \\(linux-image-[0-9][^:]*-$FLAVOUR\\)$suffix/\\1/p" |
		head -n 1
}

# apt-get download writes into the current directory.  It works as any user
# (apt then warns that it cannot sandbox the download, which is harmless), but
# only once the package lists exist: that part needs root.
have_deb() {
	for f in "$debs/${1%%:*}_"*"_${1##*:}.deb"; do
		[ -f "$f" ] && return 0
	done
	return 1
}

fetch() {
	pkg=$1
	have_deb "$pkg" && return 0
	echo "guest/build.sh: fetching $pkg"
	(cd "$debs" && apt-get download -q "$pkg") 2>&1 |
		grep -v 'unsandboxed' || true
	have_deb "$pkg" || {
		if [ "$(id -u)" != 0 ]; then
			die "could not download $pkg; as non-root this works" \
			    "only after root ran scripts/install-deps.sh (apt-get update)"
		fi
		die "could not download $pkg (is apt-get update done, is i386 enabled?)"
	}
}

kpkg=$(resolve_kernel_package)
if [ -z "$kpkg" ]; then
	if [ "$(id -u)" != 0 ]; then
		die "apt knows no linux-image-$FLAVOUR:$arch; ask root to run" \
		    "scripts/install-deps.sh (it adds i386 and runs apt-get update)"
	fi
	echo "guest/build.sh: apt knows no linux-image-$FLAVOUR:$arch," \
	     "running apt-get update"
	apt-get update -q >/dev/null
	kpkg=$(resolve_kernel_package)
	[ -n "$kpkg" ] || die "apt still knows no linux-image-$FLAVOUR:$arch"
fi
kver=${kpkg#linux-image-}

fetch "$kpkg:$arch"
fetch "busybox-static:$arch"

# Unpack the kernel package once, and make the modules.dep it lacks.
kroot="$cache/kernel-root"
if [ ! -f "$kroot/boot/vmlinuz-$kver" ]; then
	rm -rf "$kroot"
	mkdir -p "$kroot"
	dpkg-deb -x "$debs/${kpkg}_"*"_$arch.deb" "$kroot"
fi
if [ ! -f "$kroot/lib/modules/$kver/modules.dep" ]; then
	depmod -b "$kroot" "$kver"
fi
bbroot="$cache/busybox-root"
if [ ! -x "$bbroot/bin/busybox" ]; then
	rm -rf "$bbroot"
	mkdir -p "$bbroot"
	dpkg-deb -x "$debs/busybox-static_"*"_$arch.deb" "$bbroot"
fi

# Replace outputs only when they change, and by rename: guests may be booting
# from them while this runs.
install_file() {
	cmp -s "$1" "$2" && return 0
	cp "$1" "$2.new"
	mv "$2.new" "$2"
}
install_file "$kroot/boot/vmlinuz-$kver" "$cache/vmlinuz"
install_file "$bbroot/bin/busybox" "$cache/busybox"
echo "$kver" >"$cache/kernel-version.tmp"
install_file "$cache/kernel-version.tmp" "$cache/kernel-version"
rm -f "$cache/kernel-version.tmp"
ln -sfn "kernel-root/lib/modules/$kver" "$cache/modules"

# The modules the guest loads, in an order that satisfies every dependency,
# computed here on the host by kmod from the modules.dep that depmod made
# (softdeps included: ext4 asks for crc32c first).  crc32c-intel needs
# SSE4.2, which our CPU does not have: it would only fail to load, so the
# generic crc32c is named explicitly instead.
WANTED="crc32c_generic virtio_pci virtio_blk virtio_net virtio_console \
virtio-rng ext4"
module_order() {
	for m in $WANTED; do
		modprobe -d "$kroot" -S "$kver" --show-depends "$m" ||
			die "modprobe cannot resolve module $m"
	done | sed -n 's|^insmod [^ ]*/lib/modules/[^/]*/\([^ ]*\) *$|\1|p' |
		grep -v crc32c-intel | awk '!seen[$0]++'
}

# Rebuild the initramfs only when an input changed.
stamp="$cache/initrd.stamp"
want_stamp=$(printf '%s\n' "$kver" "$WANTED" | cat - "$here/init" "$0" |
	cksum)
if [ "${GUEST_FORCE:-0}" != 1 ] && [ -f "$cache/initrd.img" ] &&
   [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ]; then
	echo "guest/build.sh: $shown is up to date (kernel $kver)"
	exit 0
fi

ir="$cache/initramfs-root"
rm -rf "$ir"
mkdir -p "$ir/bin" "$ir/sbin" "$ir/etc" "$ir/proc" "$ir/sys" "$ir/dev" \
	"$ir/tmp" "$ir/run" "$ir/root" "$ir/newroot" "$ir/lib/modules/$kver"
cp "$bbroot/bin/busybox" "$ir/bin/busybox"
# One symlink per applet, as busybox --install would make inside the guest;
# the list comes from the busybox binary itself (run by qemu-i386 when the
# host cannot run i386 code, else directly), or a fixed core list.
applets=$( ("$ir/bin/busybox" --list || qemu-i386 "$ir/bin/busybox" --list ||
	   qemu-x86_64 "$ir/bin/busybox" --list) 2>/dev/null || true)
[ -n "$applets" ] || applets="sh ash mount umount insmod modprobe poweroff \
reboot halt setsid cttyhack cat echo ls mkdir sleep base64 switch_root sync \
uname md5sum date dd grep sed awk seq head tail wc tr cp mv rm ln ps kill dmesg"
for a in $applets; do
	case $a in busybox) continue ;; esac
	ln -s busybox "$ir/bin/$a"
done
cp "$here/init" "$ir/init"
chmod 755 "$ir/init"

module_order >"$ir/etc/modules.load"
[ -s "$ir/etc/modules.load" ] || die "no modules to load?"
while read -r m; do
	mkdir -p "$ir/lib/modules/$kver/$(dirname "$m")"
	cp "$kroot/lib/modules/$kver/$m" "$ir/lib/modules/$kver/$m"
done <"$ir/etc/modules.load"
cp "$kroot/lib/modules/$kver/modules.order" \
	"$kroot/lib/modules/$kver/modules.builtin" \
	"$kroot/lib/modules/$kver/modules.builtin.modinfo" \
	"$ir/lib/modules/$kver/"
# A modules.dep for the modules we ship, so that busybox modprobe works in
# the guest too.
depmod -b "$ir" "$kver"
echo "lguest-guest" >"$ir/etc/hostname"
: >"$ir/etc/lguest-initramfs"
# The kernel opens /dev/console for /init before anything is mounted; only
# root can make the node, and /init copes without it (it reopens the console
# once devtmpfs is up), so a non-root build just goes without.
mknod -m 600 "$ir/dev/console" c 5 1 2>/dev/null || true

(cd "$ir" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) \
	>"$cache/initrd.img.new"
mv "$cache/initrd.img.new" "$cache/initrd.img"
gzip -9 -n -c "$cache/initrd.img" >"$cache/initrd.img.gz"
echo "$want_stamp" >"$stamp"
echo "guest/build.sh: built $shown/vmlinuz and $shown/initrd.img" \
	"(kernel $kver, $(wc -l <"$ir/etc/modules.load") modules," \
	"$(($(wc -c <"$cache/initrd.img") / 1024)) KiB)"
