#!/bin/sh
# Installs, with apt, what building and testing lguest needs on Debian 12.
# Run as root (or through sudo).  i386 is added as a foreign architecture so
# that guest/build.sh can fetch Debian's i386 kernel and busybox.
set -e
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
	libslirp-dev libseccomp-dev strace
