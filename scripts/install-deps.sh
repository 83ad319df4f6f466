#!/bin/sh
# Installs, with apt, what building and testing lguest needs on Debian 12.
# It needs root: run as root it goes ahead, run as a user it runs itself
# again through sudo, so that README's first command is the same for both
# (a fresh Debian where you are root may well have no sudo at all).  i386
# is added as a foreign architecture so that guest/build.sh can fetch
# Debian's i386 kernel and busybox.  clang and its runtimes (libFuzzer,
# the sanitizers: libclang-rt-14-dev, which --no-install-recommends would
# leave out) build the fuzz targets of tests/fuzz.
set -e
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "install-deps: needs root: run it as root (there is no sudo here)" >&2
		exit 1
	fi
	exec sudo -- "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive
dpkg --add-architecture i386
# A mirror caught mid-sync fails one index now and then: try again, and go
# on with what was fetched (a package that is really missing still stops
# the install below).
for try in 1 2 3; do
	apt-get update -q && break
	echo "install-deps: apt-get update failed (try $try of 3)" >&2
	sleep 10
done
apt-get install -y -q --no-install-recommends \
	build-essential gcc-multilib liblzma-dev \
	qemu-system-x86 qemu-user \
	cpio xz-utils kmod e2fsprogs iproute2 ca-certificates groff-base \
	libslirp-dev libseccomp-dev strace \
	clang libclang-rt-14-dev \
	python3 debootstrap \
	libcapstone-dev
