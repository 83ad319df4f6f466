#!/bin/sh
# Durability under SIGKILL: every write the guest was told had completed
# after a flush is in the disk's file, whenever lguest dies.
#
# The guest writes numbered 4 KiB blocks to /dev/vda, each with O_DIRECT
# and then fsync (busybox dd oflag=direct conv=fsync: the fsync of a block
# device sends virtio-blk a FLUSH), and prints "durable-done N" only when
# dd has returned.  The test lets it run, kills lguest with SIGKILL at a
# moment that has nothing to do with the guest's, and then reads the file:
# every block the guest reported must be there, in full.  The disk's I/O
# thread is traced meanwhile (strace, when the host has it), to check that
# the last block reported went to the file and was followed by an
# fdatasync() that succeeded: the flush is a real one.  (That the guest
# heard of the flush only after it is the order of blk.c's I/O threads:
# the completion is queued after execute() returns.)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_NAME=virtio-durable
. tests/lib/guest.sh
T=$(mktemp -d)
tracer=""
trap 'kill $tracer 2>/dev/null; guest_stop; rm -rf "$T"' EXIT

if [ ! -x "$LGUEST" ]; then
	echo "not ok - $LGUEST is built"
	exit 1
fi
guest_ensure_built || { echo "not ok - guest/build.sh"; exit 1; }

head -c 8388608 /dev/zero >"$T/disk.img"
cat >"$T/run.sh" <<'EOF'
n=0
while [ $n -lt 2000 ]; do
	printf 'lguest-durable-%06d\n' $n >/tmp/b
	if ! dd if=/tmp/b of=/dev/vda bs=4096 seek=$n count=1 \
		conv=sync,fsync,notrunc oflag=direct 2>/dev/null; then
		echo "durable-failed $n"
		break
	fi
	echo "durable-done $n"
	n=$((n + 1))
done
EOF
guest_make_initrd "$T/run.sh" "$T/initrd"
guest_start "$T/initrd" --block="$T/disk.img" </dev/null
if ! guest_wait_for "durable-done 5"; then
	echo "not ok - the guest writes and flushes numbered blocks"
	guest_show_log
	exit 1
fi
echo "ok - the guest writes and flushes numbered blocks"

# Trace every thread of lguest from here on (the I/O thread does the
# writes and flushes, the run loop the completions).
if command -v strace >/dev/null 2>&1; then
	tids=$(ls "/proc/$GUEST_PID/task" | sed 's/^/-p /')
	# shellcheck disable=SC2086
	strace -qq -f -e trace=pwritev,pwritev2,pwrite64,fdatasync,fsync \
		-o "$T/trace" $tids 2>/dev/null &
	tracer=$!
fi
# Let it write some more, then kill it at an unrelated moment.
guest_wait_for "durable-done 40" || true
sleep "0.$(od -An -N1 -tu1 /dev/urandom | tr -d ' ')"
kill -9 "$GUEST_PID"
wait "$GUEST_PID" 2>/dev/null
rc=$?
GUEST_PID=""
[ -n "$tracer" ] && sleep 0.5 && kill "$tracer" 2>/dev/null
[ "$rc" -eq 137 ] && echo "ok - lguest was killed by SIGKILL mid-run" ||
	echo "not ok - lguest was killed by SIGKILL mid-run (status $rc)"

last=$(guest_console | sed -n 's/^durable-done \([0-9]*\)$/\1/p' | tail -n 1)
if guest_console | grep -q "durable-failed"; then
	echo "not ok - no write failed in the guest"
	guest_show_log
fi
missing=""
n=0
while [ "$n" -le "${last:-0}" ]; do
	want=$(printf 'lguest-durable-%06d' "$n")
	got=$(dd if="$T/disk.img" bs=4096 skip="$n" count=1 2>/dev/null |
		head -c 21)
	[ "$got" = "$want" ] || missing="$missing $n"
	n=$((n + 1))
done
if [ -n "$last" ] && [ -z "$missing" ]; then
	echo "ok - all $((last + 1)) blocks the guest reported are in the file"
else
	echo "not ok - blocks the guest reported (0..$last) missing:$missing"
fi

if [ -z "$tracer" ]; then
	echo "ok - the flush is an fdatasync # SKIP no strace"
	exit 0
fi
# The last reported block's write, then an fdatasync that succeeded.
off=$((last * 4096))
awk -v off="$off" '
	/pwrite/ && $0 ~ (", " off "\\)") { w = NR }
	/fdatasync\(.*= 0/ && w && NR > w { f = NR }
	END { exit !(w && f) }' "$T/trace"
if [ $? -eq 0 ]; then
	echo "ok - block $last's write at $off was followed by an fdatasync() that succeeded"
else
	echo "not ok - no write at $off followed by fdatasync() in the trace"
	grep -c . "$T/trace" | sed 's/^/# trace lines: /'
	tail -n 5 "$T/trace" | sed 's/^/# /'
fi
