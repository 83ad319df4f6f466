#!/bin/sh
# A host disk that fails under a guest that did nothing wrong: the request
# fails with an I/O error in the guest, lguest says so in one line per
# disk, runs on, and powers off with status 0; what the guest was told
# had been written is in the file.  Two disks, two ways to fail:
#   vda  a file on a 1 MiB tmpfs, 2 MiB long and sparse: writing it all
#        meets ENOSPC (needs root for the mount; skipped otherwise);
#   vdb  a 96 MiB sparse file with lguest under RLIMIT_FSIZE of 80 MiB (the
#        translator's 64 MiB memfd must fit under it too): a write past
#        80 MiB meets EFBIG (and SIGXFSZ, which must not kill lguest).
# On each, the guest first writes blocks it checksums, then makes the
# write that fails, then writes again where the disk still has room (on
# the full tmpfs: a block it had written before, whose page is there).
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_NAME=virtio-diskfail
. tests/lib/guest.sh
T=$(mktemp -d)
mnt=""
trap 'guest_stop; [ -n "$mnt" ] && umount "$mnt"; rm -rf "$T"' EXIT

if [ ! -x "$LGUEST" ]; then
	echo "not ok - $LGUEST is built"
	exit 1
fi
if ! command -v prlimit >/dev/null 2>&1; then
	echo "ok - a failing disk # SKIP no prlimit (util-linux)"
	exit 0
fi
guest_ensure_built || { echo "not ok - guest/build.sh"; exit 1; }

full=""
mkdir "$T/small"
if [ "$(id -u)" -eq 0 ] &&
   mount -t tmpfs -o size=1m lguest-diskfail "$T/small" 2>/dev/null; then
	mnt=$T/small
	full=yes
fi
truncate -s 2M "$T/small/vda.img"
truncate -s 96M "$T/vdb.img"

cat >"$T/run.sh" <<'EOF'
# good DISK BLOCK: a 4 KiB block of random bytes, written and flushed;
# prints its checksum as the host will compute it.
good() {
	dd if=/dev/urandom of=/tmp/r bs=4096 count=1 2>/dev/null
	if dd if=/tmp/r of=/dev/$1 bs=4096 seek=$2 conv=fsync,notrunc \
		oflag=direct 2>/dev/null; then
		echo "$1-good-$2 $(md5sum </tmp/r | cut -d' ' -f1)"
	else
		echo "$1-good-$2 failed"
	fi
}
good vda 0
good vda 1
dd if=/dev/urandom of=/dev/vda bs=65536 seek=1 count=31 conv=fsync \
	oflag=direct 2>/dev/null && echo "vda-fill no error" ||
	echo "vda-fill io-error"
good vda 1
good vdb 0
dd if=/dev/urandom of=/dev/vdb bs=4096 seek=22528 count=1 conv=fsync \
	oflag=direct 2>/dev/null && echo "vdb-past no error" ||
	echo "vdb-past io-error"
good vdb 1
EOF
cat >"$T/lguest" <<EOF
#!/bin/sh
exec prlimit --fsize=83886080 -- "$LGUEST" "\$@"
EOF
chmod +x "$T/lguest"
LGUEST=$T/lguest
guest_run "$T/run.sh" --block="$T/small/vda.img" --block="$T/vdb.img" \
	</dev/null
rc=$?
guest_ok $rc "the guest runs its writes and powers off"
[ $rc = 0 ] || guest_show_log 30
guest_ok "$([ "$GUEST_EXIT" = 0 ]; echo $?)" \
	"lguest ends with status 0 (status $GUEST_EXIT)"
out=$(guest_run_output | tr -d '\r')
log=$(guest_console)

# checksum of block N of FILE
sum() {
	dd if="$1" bs=4096 skip="$2" count=1 2>/dev/null | md5sum |
		cut -d' ' -f1
}
good_block() {	# good_block DISK FILE N
	line=$(echo "$out" | grep "^$1-good-$3 " | tail -n 1)
	if [ "$line" = "$1-good-$3 $(sum "$2" "$3")" ]; then
		echo "ok - $1 block $3: written, flushed, and in the file"
	else
		echo "not ok - $1 block $3: guest says '$line', file has $(sum "$2" "$3")"
	fi
}
# one_line DISK REASON: exactly one line from lguest about DISK's failure.
one_line() {
	n=$(echo "$log" | grep -c "^lguest: --block=.*$1.img: .* failed: $2; the guest got an I/O error, and no write it was told had completed is lost")
	if [ "$n" -eq 1 ]; then
		echo "ok - lguest says once that a write to $1 failed ($2)"
	else
		echo "not ok - lguest's lines about $1 failing ($2): $n"
		echo "$log" | grep "^lguest:" | sed 's/^/# /'
	fi
}

good_block vdb "$T/vdb.img" 0
echo "$out" | grep -qx "vdb-past io-error" &&
	echo "ok - vdb: a write past RLIMIT_FSIZE is an I/O error in the guest" ||
	echo "not ok - vdb: a write past RLIMIT_FSIZE: $(echo "$out" | grep vdb-past)"
good_block vdb "$T/vdb.img" 1
one_line vdb "File too large"

if [ -z "$full" ]; then
	echo "ok - vda on a full tmpfs # SKIP not root, or no tmpfs mount"
	exit 0
fi
good_block vda "$T/small/vda.img" 0
echo "$out" | grep -qx "vda-fill io-error" &&
	echo "ok - vda: filling a full file system is an I/O error in the guest" ||
	echo "not ok - vda: filling a full file system: $(echo "$out" | grep vda-fill)"
good_block vda "$T/small/vda.img" 1
one_line vda "No space left on device"
