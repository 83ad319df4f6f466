#!/bin/sh
# Installs, with apt, what building and testing lguest needs on Debian 12.
# Run as root (or through sudo).  i386 is added as a foreign architecture so
# that guest/build.sh can fetch Debian's i386 kernel and busybox.
set -e
export DEBIAN_FRONTEND=noninteractive
dpkg --add-architecture i386
apt-get update -q
apt-get install -y -q --no-install-recommends \
	build-essential gcc-multilib liblzma-dev \
	qemu-system-x86 qemu-user \
	cpio xz-utils kmod e2fsprogs iproute2 ca-certificates groff-base \
	libslirp-dev
