#!/bin/sh
# Builds a real Debian 12 (bookworm) i386 system on an ext4 disk image, the
# test of real userland: systemd, dpkg, apt, perl and gcc, as Debian ships
# them.  The test guest of guest/build.sh is a kernel and a static busybox;
# this is what a user would actually run in it.
#
#   guest/debian.sh [OUT.img]        default guest/cache/debian.img
#
# How, and why this way:
#  1. First stage on the host: debootstrap --foreign unpacks the packages
#     into a folder (guest/cache/debian-root).  It needs root (device nodes,
#     ownership) and Debian's mirror, like apt for the kernel.
#  2. The folder becomes an ext4 image (mke2fs -d: no loop device needed)
#     with our stage-two script as its /lguest-stage2.sh.
#  3. Second stage inside lguest: Debian's own kernel and our initramfs
#     boot the image as root with init=/lguest-stage2.sh, which runs
#     debootstrap --second-stage (every package's maintainer scripts: perl,
#     dpkg, hundreds of processes) and then sets the system up for the
#     tests: serial autologin for root, DHCP on the first NIC, fstab.
#     This step is itself the hardest test of the CPU we have: it is where
#     a translator bug once killed perl and dpkg-deb (tests/debian).
#  4. The image is renamed into place only when stage two said it
#     succeeded, so a half-built system is never used.
#
# Knobs: DEBIAN_MIRROR (default http://deb.debian.org/debian), LGUEST (the
# launcher, default ./lguest), DEBIAN_STAGE2_TIMEOUT (seconds, default
# 10800: under load it took over an hour), DEBIAN_SIZE (MiB, default
# 3072; the image is sparse).
# Run it again and it does nothing if the image is there; delete the image
# (and guest/cache/debian-root) to start over.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
cache="$here/cache"
out=${1:-$cache/debian.img}
root="$cache/debian-root"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
lguest=${LGUEST:-$top/lguest}
timeout_s=${DEBIAN_STAGE2_TIMEOUT:-10800}
size=${DEBIAN_SIZE:-3072}
export PATH="$PATH:/sbin:/usr/sbin"

die() {
	echo "guest/debian.sh: $*" >&2
	exit 1
}

[ -f "$out" ] && { echo "guest/debian.sh: $out is there"; exit 0; }
[ "$(id -u)" -eq 0 ] || die "debootstrap needs root: run it as root"
for t in debootstrap mke2fs timeout; do
	command -v "$t" >/dev/null 2>&1 ||
		die "'$t' not found: run scripts/install-deps.sh"
done
[ -x "$lguest" ] || die "$lguest is not built: run make"
[ -f "$cache/vmlinuz" ] && [ -f "$cache/initrd.img" ] || "$here/build.sh"

# 1. The first stage, once (its folder is kept for rebuilding the image).
if [ ! -f "$root/debootstrap/debootstrap" ] &&
   [ ! -f "$root/etc/lguest-stage1" ]; then
	rm -rf "$root"
	echo "guest/debian.sh: debootstrap, first stage (host)"
	debootstrap --foreign --arch=i386 --variant=minbase \
		--include=systemd-sysv,udev,dbus,perl,gcc,libc6-dev,iproute2,procps \
		bookworm "$root" "$mirror"
	: >"$root/etc/lguest-stage1"
fi

# 2. The stage-two script, then the image.
cat >"$root/lguest-stage2.sh" <<'EOF'
#!/bin/sh
# Second stage of guest/debian.sh, run as PID 1 inside lguest.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc 2>/dev/null
echo "LGUEST-STAGE2-BEGIN"
if /debootstrap/debootstrap --second-stage; then
	echo lguest-debian >/etc/hostname
	printf '127.0.0.1\tlocalhost\n127.0.1.1\tlguest-debian\n' >/etc/hosts
	echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' >/etc/fstab
	echo "deb http://deb.debian.org/debian bookworm main" \
		>/etc/apt/sources.list
	passwd -d root
	d=/etc/systemd/system/serial-getty@ttyS0.service.d
	mkdir -p $d
	printf '[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,38400,9600 %%I $TERM\n' \
		>$d/autologin.conf
	printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n' \
		>/etc/systemd/network/20-wired.network
	systemctl enable systemd-networkd
	# A test's script, put in /run by our initramfs: root's login
	# shell on the serial console runs it and powers off.
	cat >>/root/.profile <<'EOP'
if [ -f /run/run.sh ] && [ "$(tty)" = /dev/ttyS0 ] &&
   [ ! -e /run/lguest-ran ]; then
	: >/run/lguest-ran
	# On a line of its own: a getty's prompt may be there before it.
	echo
	echo "LGUEST-GUEST-RUN-BEGIN uptime=$(cut -d' ' -f1 /proc/uptime)"
	sh /run/run.sh
	echo "LGUEST-GUEST-RUN-END status=$?"
	systemctl poweroff
fi
EOP
	apt-get clean
	: >/etc/lguest-stage2
	echo "LGUEST-STAGE2-STATUS=0"
else
	echo "LGUEST-STAGE2-STATUS=$?"
fi
sync
# Twice forced: reboot(2) at once, no systemd needed.  (SysRq's o does not
# do: without ACPI's power-off the kernel just carries on.)
poweroff -f -f
EOF
chmod 755 "$root/lguest-stage2.sh"
rm -f "$root/etc/lguest-stage2"
work="$out.part"
rm -f "$work"
echo "guest/debian.sh: making $work (${size} MiB, sparse)"
mke2fs -q -F -t ext4 -L debian-root -d "$root" "$work" "${size}M"

# 3. The second stage, inside lguest.
log="$cache/debian-stage2.log"
echo "guest/debian.sh: second stage inside lguest (log: $log)"
rc=0
timeout "$timeout_s" "$lguest" 1g "$cache/vmlinuz" \
	--initrd="$cache/initrd.img" --block="$work" \
	panic=-1 root=/dev/vda rw init=/lguest-stage2.sh >"$log" 2>&1 || rc=$?
if ! grep -q '^LGUEST-STAGE2-STATUS=0' "$log" || [ "$rc" -ne 0 ]; then
	grep -a 'segfault\|BUG\|Oops\|LGUEST-STAGE2\|E: \|W: ' "$log" |
		tail -n 20 >&2
	die "the second stage failed (lguest status $rc); see $log"
fi
if grep -a -q 'segfault at\|kernel BUG\|Oops' "$log"; then
	grep -a 'segfault at\|kernel BUG\|Oops' "$log" >&2
	die "the second stage finished, but something crashed; see $log"
fi
mv "$work" "$out"
echo "guest/debian.sh: built $out"
