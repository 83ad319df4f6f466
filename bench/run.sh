#!/bin/sh
# Benchmarks lguest against qemu-system-i386 (software emulation, TCG) on the
# same kernel and initramfs (guest/build.sh), the VMMs taking turns in each
# round, and prints a table of medians with the ratio lguest/QEMU:
#
#   launch to shell prompt      boot the guest to its shell (guest/init's
#                               prompt seen on the console)
#   amd64 guest: prompt, cpu    (-b "prompt64 cpu64") the same boot and
#                               cpubench (built for x86-64) in the amd64
#                               guest of make guest, QEMU being
#                               qemu-system-x86_64; prompt64 measures idle
#                               CPU, wakeups and memory overhead there too
#                               (a tickless kernel, unlike the 686 one)
#   launch to exit              a guest whose init powers off at once
#                               (rdinit=/poweroff-now)
#   stock boot (boot)           launch to exit without cryptomgr.notests:
#                               the kernel's crypto self-tests run, /init
#                               loads its modules, runs an empty script
#                               and powers off; a self-test that fails
#                               makes the run wrong
#   cpubench in the guest       bench/cpubench.c built as static i386, run
#                               in the guest, timed on the host from its
#                               start marker to its last line; also run
#                               natively (x86-64) for the physical limit
#   /dev/urandom (urandom)      64 MiB from /dev/urandom (the kernel's
#                               ChaCha20) onto a virtio disk, fsync'd,
#                               timed by the guest's clock; checked by
#                               the guest's md5sum of the disk against the
#                               host's of the image, which must not
#                               compress
#   gzip, sha256, xz            gzip -9, sha256sum (busybox) and xz -9 -T1
#                               (Debian's xz-utils:i386, fetched with apt
#                               into bench/out/debs, in a cpio of its own;
#                               a 1 GiB guest: xz -9 needs 674 MiB) of
#                               DATA_MB (default 64) MiB of the guest
#                               kernel's modules, concatenated in name
#                               order, copied from a read-only virtio disk
#                               to tmpfs first; timed by the guest's
#                               clock; the sha256 of the output must equal
#                               that of the same binary's output on the
#                               host (kept in bench/out/expect-*)
#   shell loop (shell)          200,000 iterations of a busybox sh loop
#                               (test and $((i + 1))), by the guest's clock
#   disk write, read            256 MiB sequential on a virtio disk (dd,
#                               1 MiB blocks, O_DIRECT; the write ends
#                               with fsync), timed by the guest's clock;
#                               the read four times over; and the same
#                               256 MiB read by 4 dd's at once (64 MiB
#                               each, O_DIRECT, four times over): several
#                               requests in flight
#   network, guest to host      32 MiB over TCP from the guest (busybox nc,
#                               from tmpfs) to a host receiver, over a TAP
#                               device (lguest --tunnet; QEMU -netdev tap
#                               with virtio-net-pci), timed on the host
#                               from the first byte to EOF
#   network, host to guest      128 MiB over TCP from a host HTTP server to
#                               the guest's wget (to /dev/null), timed by
#                               the guest's clock
#   network, guest to guest     32 MiB over TCP from one guest's nc (from
#                               tmpfs) to another's (to /dev/null), on one
#                               segment: lguest --sharenet, QEMU's socket
#                               netdev (listen/connect, virtio-net-pci),
#                               timed by the sender's clock
#   idle CPU                    host CPU use (every thread, user and
#                               system, in ns from schedstat) of a guest
#                               idle at its prompt, over IDLE_S seconds
#                               (default 20) from 3 s after the prompt
#   idle wakeups                the VMM's context switches (every thread)
#                               per second in that window: how often the
#                               idle guest wakes the host
#   memory overhead             after that window: the VMM's resident
#                               memory minus the guest RAM it has touched
#                               (the Rss of the mapping of guest RAM); a
#                               shared mapping of the same file range seen
#                               twice (lguest's translator maps its code
#                               twice, W^X) counts once
#
# A run whose answer is wrong is not timed: the table counts it under
# WRONG ANSWERS.  Higher is better only for the disk and network lines.
# The network runs in a network namespace made for each guest (the TAP
# device, the host's end in bench/net_host.py, the VMM): nothing leaves
# it.  It needs root and python3; without them those lines stay empty.
# Results go to the terminal and are appended to BENCHMARKS.md with the
# date, the machine and the command (never overwriting older runs).
#
#   bench/run.sh [-n RUNS] [-s SCALE] [-m "lguest qemu"]
#                [-b "prompt exit boot cpu urandom gzip sha256 xz shell
#                     disk net g2g prompt64 cpu64"]
#                [--no-record]
#
# RUNS rounds (default 3), cpubench SCALE (default 2), the VMMs to run
# (default both; "qemu" alone validates the harness while lguest cannot
# boot yet), the benchmarks to run (default all but the amd64 ones;
# prompt also measures idle CPU and memory).  The table has the rows of
# the benchmarks run.  xz is by far the longest: xz -9 of 64 MiB takes
# 46 s of CPU natively, and lguest (e88c037) was still at it after 9
# minutes on a loaded 2-CPU machine; DATA_MB=4 took 54 s on a quieter
# one.  Needs gcc with -m32 (gcc-multilib), qemu-system-i386, and
# apt-get for xz.
# Logs: bench/out/.  BENCH_TIMEOUT (default 600 s) bounds each boot;
# BENCH_STALL=N gives up on a console silent for N s (default off);
# IDLE_S sets the idle window (default 20 s); DATA_MB the size of the
# data of gzip, sha256 and xz (default 64, as issue 16 asks; smaller for
# a quick look).  xz's guest may take 6 times BENCH_TIMEOUT.
cd "$(dirname "$0")/.." || exit 1
GUEST_TOP=$PWD
GUEST_NAME=bench
GUEST_TIMEOUT=${BENCH_TIMEOUT:-600}
GUEST_STALL=${BENCH_STALL:-0}
. tests/lib/guest.sh

runs=3
scale=2
vmms="lguest qemu"
benches="prompt exit boot cpu urandom gzip sha256 xz shell disk net g2g"
record=1
cmdline="bench/run.sh $*"
while [ $# -gt 0 ]; do
	case $1 in
	-n) runs=$2; shift 2 ;;
	-s) scale=$2; shift 2 ;;
	-m) vmms=$2; shift 2 ;;
	-b) benches=$2; shift 2 ;;
	--no-record) record=0; shift ;;
	-h|--help) sed -n '2,/^cd /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
done

out=$GUEST_TOP/bench/out
GUEST_OUTDIR=$out
mkdir -p "$out"
res=$out/results.txt
: >"$res"
trap guest_cleanup EXIT

die() {
	echo "bench/run.sh: $*" >&2
	exit 1
}

guest_ensure_built || die "guest/build.sh failed"
case " $vmms " in *" lguest "*)
	[ -x "$LGUEST" ] || make lguest >&2 || die "cannot build ./lguest" ;;
esac

# The CPU benchmark, as i386 (for the guests: no SSE, x87 doubles) and as
# x86-64 (the host's own speed).
gcc -m32 -march=i686 -mfpmath=387 -static -O2 -o "$out/cpubench32" \
	bench/cpubench.c || die "gcc -m32 -static failed (gcc-multilib?)"
gcc -O2 -o "$out/cpubench64" bench/cpubench.c || die "gcc failed"

# Initramfs variants: the stock one (shell), one whose init powers off at
# once, and one that runs cpubench.  Each is the stock archive with a small
# cpio appended.
append_cpio() {
	(cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet)
}
st=$out/stage
rm -rf "$st"
mkdir -p "$st/off" "$st/cpu/bench"
printf '#!/bin/sh\nexec /bin/poweroff -f\n' >"$st/off/poweroff-now"
chmod 755 "$st/off/poweroff-now"
cp "$out/cpubench32" "$st/cpu/bench/cpubench"
printf 'echo BENCH-START\n/bench/cpubench %s\n' "$scale" >"$st/cpu/run.sh"
mkdir -p "$st/disk"
disk_mb=256
# The reads go over the disk four times: one pass took 0.1 to 0.16 s, in
# which /proc/uptime's 10 ms steps made a ratio good to 10% at best.
disk_passes="1 2 3 4"
cat >"$st/disk/run.sh" <<EOF
up() { cut -d' ' -f1 /proc/uptime; }
[ -b /dev/vda ] || echo DISK-w-FAIL no /dev/vda
t0=\$(up)
dd if=/dev/zero of=/dev/vda bs=1M count=$disk_mb oflag=direct conv=fsync ||
	echo DISK-w-FAIL
echo DISK-w-TIME \$t0 \$(up)
t0=\$(up)
for p in $disk_passes; do
	dd if=/dev/vda of=/dev/null bs=1M count=$disk_mb iflag=direct \\
		2>/dev/null || echo DISK-r-FAIL
done
echo DISK-r-TIME \$t0 \$(up)
t0=\$(up)
for i in 0 1 2 3; do
	for p in $disk_passes; do
		dd if=/dev/vda of=/dev/null bs=1M \\
			skip=\$((i * $disk_mb / 4)) count=$((disk_mb / 4)) \\
			iflag=direct 2>/dev/null || echo DISK-pr-FAIL
	done &
done
wait
echo DISK-pr-TIME \$t0 \$(up)
EOF
mkdir -p "$st/net"
net_mb=32
# Host to guest runs at 250 MB/s and more: 32 MiB took 0.12 s, which the
# guest's clock (10 ms steps) measured to 10%; 128 MiB goes to 2%.
net_rx_mb=128
cat >"$st/net/run.sh" <<EOF
up() { cut -d' ' -f1 /proc/uptime; }
ip link set eth0 up
ip addr add 10.10.0.2/24 dev eth0 2>/dev/null
dd if=/dev/zero of=/tmp/big bs=1M count=$net_mb 2>/dev/null
nc 10.10.0.1 5001 </tmp/big || echo NET-TX-FAIL
rm /tmp/big
t0=\$(up)
wget -q -O /dev/null http://10.10.0.1:5002/ || echo NET-RX-FAIL
echo NET-RX-TIME \$t0 \$(up)
EOF
mkdir -p "$st/g2ga" "$st/g2gb"
cat >"$st/g2ga/run.sh" <<EOF
ip link set eth0 up
ip addr add 10.12.0.1/24 dev eth0
nc -l -p 5000 >/dev/null || echo G2G-RX-FAIL
EOF
cat >"$st/g2gb/run.sh" <<EOF
up() { cut -d' ' -f1 /proc/uptime; }
ip link set eth0 up
ip addr add 10.12.0.2/24 dev eth0
dd if=/dev/zero of=/tmp/big bs=1M count=$net_mb 2>/dev/null
i=0
until ping -c 1 -W 1 10.12.0.1 >/dev/null; do
	i=\$((i + 1))
	[ \$i -gt 120 ] && break
done
sleep 1
t0=\$(up)
nc 10.12.0.1 5000 </tmp/big || echo G2G-FAIL
echo G2G-TIME \$t0 \$(up)
EOF
{ cat "$GUEST_INITRD"; append_cpio "$st/g2ga"; } >"$out/initrd-g2ga.img"
{ cat "$GUEST_INITRD"; append_cpio "$st/g2gb"; } >"$out/initrd-g2gb.img"
{ cat "$GUEST_INITRD"; append_cpio "$st/disk"; } >"$out/initrd-disk.img"
{ cat "$GUEST_INITRD"; append_cpio "$st/net"; } >"$out/initrd-net.img"
{ cat "$GUEST_INITRD"; append_cpio "$st/off"; } >"$out/initrd-off.img"
{ cat "$GUEST_INITRD"; append_cpio "$st/cpu"; } >"$out/initrd-cpu.img"

# The work guests really do (issue 16): the stock boot with the kernel's
# crypto self-tests, a disk filled from /dev/urandom, gzip -9, sha256sum
# and xz -9 of the same data, a shell loop.  Each guest script prints
# TAG-TIME <t0> <t1> (its /proc/uptime around the work) and TAG-SUM
# <value>, what the host checks the work against: a wrong answer is
# recorded as wrong, never as a time.
mkdir -p "$st/boot"
printf ':\n' >"$st/boot/run.sh"
urandom_mb=64
mkdir -p "$st/urandom"
cat >"$st/urandom/run.sh" <<EOS
up() { cut -d' ' -f1 /proc/uptime; }
t0=\$(up)
dd if=/dev/urandom of=/dev/vda bs=1M count=$urandom_mb iflag=fullblock \\
	conv=fsync 2>/dev/null || echo URANDOM-FAIL
echo URANDOM-TIME \$t0 \$(up)
echo 3 >/proc/sys/vm/drop_caches
set -- \$(md5sum /dev/vda)
echo URANDOM-SUM \$1
EOS
shell_n=200000
mkdir -p "$st/shell"
cat >"$st/shell/run.sh" <<EOS
up() { cut -d' ' -f1 /proc/uptime; }
t0=\$(up)
i=0
while [ \$i -lt $shell_n ]; do
	i=\$((i + 1))
done
echo SHELL-TIME \$t0 \$(up)
echo SHELL-SUM \$i
EOS
{ cat "$GUEST_INITRD"; append_cpio "$st/boot"; } >"$out/initrd-boot.img"
{ cat "$GUEST_INITRD"; append_cpio "$st/urandom"; } >"$out/initrd-urandom.img"
{ cat "$GUEST_INITRD"; append_cpio "$st/shell"; } >"$out/initrd-shell.img"

# gzip, sha256sum, xz: DATA_MB MiB (default 64) of the guest kernel's own
# modules, concatenated in name order, on a read-only virtio disk that the
# guest copies to its tmpfs before the clock starts.  The same bytes for
# both VMMs and every run on the same kernel; their sha256 goes in the
# table.  gzip and sha256sum are the guest's busybox; xz is Debian's
# xz-utils for i386 with its libraries, in a cpio of its own (busybox's xz
# only decompresses).  The expected outputs come from the very same
# binaries run on the host (natively, or under qemu-i386), once per data.
data_mb=${DATA_MB:-64}
data=$out/data-${data_mb}m.img
need_data=0 need_xz=0
case " $benches " in *" gzip "*|*" sha256 "*|*" xz "*) need_data=1 ;; esac
case " $benches " in *" xz "*) need_xz=1 ;; esac

# Runs an i386 program from ROOT (its own loader and libraries) on the host.
run_i386() {	# run_i386 ROOT PROGRAM ARGS...
	_r=$1 _p=$2
	shift 2
	if "$_r/lib/ld-linux.so.2" --library-path "$_r/lib/i386-linux-gnu" \
		"$_r$_p" --version >/dev/null 2>&1; then
		"$_r/lib/ld-linux.so.2" --library-path "$_r/lib/i386-linux-gnu" \
			"$_r$_p" "$@"
	else
		qemu-i386 -L "$_r" "$_r$_p" "$@"
	fi
}

# xz-utils:i386 and what it links against, downloaded with apt into
# bench/out/debs (not guest/cache: that belongs to guest/build.sh).
xz_root() {
	_d=$out/debs
	mkdir -p "$_d"
	for _p in xz-utils liblzma5 libc6; do
		ls "$_d/${_p}_"*_i386.deb >/dev/null 2>&1 && continue
		(cd "$_d" && apt-get download -q "$_p:i386") 2>&1 |
			grep -v unsandboxed >&2
		ls "$_d/${_p}_"*_i386.deb >/dev/null 2>&1 ||
			die "cannot download $_p:i386 (apt-get update? i386 enabled?)"
	done
	rm -rf "$out/xz-debs"
	mkdir -p "$out/xz-debs"
	for _f in "$_d"/*_i386.deb; do
		dpkg-deb -x "$_f" "$out/xz-debs" || die "dpkg-deb -x $_f failed"
	done
	_l=lib/i386-linux-gnu
	mkdir -p "$st/xz/usr/bin" "$st/xz/$_l"
	cp "$out/xz-debs/usr/bin/xz" "$st/xz/usr/bin/xz"
	for _f in ld-linux.so.2 libc.so.6 liblzma.so.5; do
		cp -L "$out/xz-debs/$_l/$_f" "$st/xz/$_l/$_f" ||
			die "xz-utils:i386: no $_l/$_f"
	done
	ln -s i386-linux-gnu/ld-linux.so.2 "$st/xz/lib/ld-linux.so.2"
}

# data_script TAG COMMAND: the guest script for one data benchmark; the
# command reads /tmp/data and writes /tmp/out, whose sha256 is the check.
data_script() {
	mkdir -p "$st/$1"
	cat >"$st/$1/run.sh" <<EOS
up() { cut -d' ' -f1 /proc/uptime; }
dd if=/dev/vda of=/tmp/data bs=1M 2>/dev/null || echo DATA-FAIL
t0=\$(up)
$2 || echo DATA-FAIL
echo DATA-TIME \$t0 \$(up)
set -- \$(sha256sum /tmp/out)
echo DATA-SUM \$1
EOS
}

# expect_sum NAME BINARY COMMAND...: the sha256 of what COMMAND writes for
# the data, kept in bench/out by data, tool and binary (xz -9 takes a
# minute on the host).
expect_sum() {
	_n=$1 _b=$2
	shift 2
	_f=$out/expect-$_n-$data_sum-$(cksum <"$_b" | cut -d' ' -f1)
	if [ ! -s "$_f" ]; then
		echo "bench: $_n of the data on the host, for the check" >&2
		"$@" <"$data" >"$_f.out" &&
			sha256sum <"$_f.out" | cut -d' ' -f1 >"$_f.new" &&
			mv "$_f.new" "$_f"
		rm -f "$_f.out" "$_f.new"
	fi
	cat "$_f" 2>/dev/null
}

if [ $need_data = 1 ]; then
	if [ ! -f "$data" ] || [ "$(wc -c <"$data")" != $((data_mb * 1048576)) ]
	then
		(cd guest/cache/modules && find kernel -name '*.ko' |
			LC_ALL=C sort | xargs cat 2>/dev/null) |
			head -c $((data_mb * 1048576)) >"$data.new"
		[ "$(wc -c <"$data.new")" = $((data_mb * 1048576)) ] ||
			die "the guest's modules hold less than $data_mb MiB"
		mv "$data.new" "$data"
	fi
	data_sum=$(sha256sum "$data" | cut -d' ' -f1)
	data_script gzip "gzip -9 </tmp/data >/tmp/out"
	data_script sha256 "sha256sum </tmp/data >/tmp/out"
	bb=guest/cache/busybox
	expect_gzip=$(expect_sum gzip "$bb" "$bb" gzip -9)
	[ -n "$expect_gzip" ] || die "busybox gzip -9 failed on the host"
	# sha256sum's output is the sum and "  -": the host's sum of the
	# data, in that form, checks the guest's busybox and CPU at once.
	expect_sha256=$(printf '%s  -\n' "$data_sum" | sha256sum | cut -d' ' -f1)
	{ cat "$GUEST_INITRD"; append_cpio "$st/gzip"; } >"$out/initrd-gzip.img"
	{ cat "$GUEST_INITRD"; append_cpio "$st/sha256"; } >"$out/initrd-sha256.img"
fi
if [ $need_xz = 1 ]; then
	xz_root
	data_script xz "/usr/bin/xz -9 -T1 </tmp/data >/tmp/out"
	expect_xz=$(expect_sum xz "$st/xz/usr/bin/xz" run_i386 "$st/xz" \
		/usr/bin/xz -9 -T1)
	[ -n "$expect_xz" ] || die "xz-utils:i386 failed on the host"
	{ cat "$GUEST_INITRD"; append_cpio "$st/xz"; } >"$out/initrd-xz.img"
fi

# The x86-64 guest (make guest's amd64 flavour), for prompt64 and cpu64:
# its kernel and initramfs, cpubench built static for it, and QEMU's
# x86-64 system emulator beside ours.
K64=guest/cache/amd64/vmlinuz
I64=guest/cache/amd64/initrd.img
QEMU64=${QEMU_SYSTEM64:-qemu-system-x86_64}
case " $benches " in *" prompt64 "*|*" cpu64 "*)
	[ -f "$K64" ] && [ -f "$I64" ] ||
		die "no amd64 guest: run make guest (FLAVOUR=amd64 guest/build.sh)"
	gcc -O2 -static -o "$out/cpubench64s" bench/cpubench.c ||
		die "gcc -static failed"
	mkdir -p "$st/cpu64/bench"
	cp "$out/cpubench64s" "$st/cpu64/bench/cpubench"
	cp "$st/cpu/run.sh" "$st/cpu64/run.sh"
	{ cat "$I64"; append_cpio "$st/cpu64"; } >"$out/initrd-cpu64.img"
	;;
esac

# Run "$@" with the amd64 guest as the guest (and QEMU as x86-64).
with_amd64() {
	_k=$GUEST_KERNEL _i=$GUEST_INITRD _q=$QEMU _m=$GUEST_MEM
	GUEST_KERNEL=$K64 GUEST_INITRD=$I64 QEMU=$QEMU64 GUEST_MEM=512m
	"$@"
	GUEST_KERNEL=$_k GUEST_INITRD=$_i QEMU=$_q GUEST_MEM=$_m
}

# Launch to the amd64 guest's prompt (lguest runs its 64-bit code in the
# interpreter), then the idle guest as bench_prompt measures it.  Debian's
# amd64 kernel is tickless (NO_HZ): idle, it wakes only for the timers it
# has, so this is the figure an idle lguest can reach.
bench_prompt64() {
	GUEST_VMM=$1
	GUEST_NAME=bench-$1-shell64
	with_amd64 guest_start
	if with_amd64 guest_wait_prompt >/dev/null; then
		record "$1" prompt64 "$(guest_since "$GUEST_T0")"
		with_amd64 measure_idle "$1" 64
		guest_send poweroff
		guest_wait_exit 120
	fi
	guest_stop
}

# cpubench, built for x86-64, in the amd64 guest.
bench_cpu64() {
	GUEST_VMM=$1
	GUEST_NAME=bench-$1-cpu64
	with_amd64 guest_start "$out/initrd-cpu64.img" </dev/null
	if guest_wait_for BENCH-START >/dev/null; then
		t=$(guest_now)
		if guest_wait_for "cpubench checksum" >/dev/null; then
			record "$1" cpu64 "$(guest_since "$t")"
		fi
	fi
	guest_wait_exit 120
	guest_stop
}

record() {
	echo "$1 $2 $3" >>"$res"
}

# Memory: total Rss minus the Rss of the largest mapping about the size
# of guest RAM (GUEST_MEM: the guest's RAM as the VMM mapped it), in KiB.
# The pages of a shared mapping are counted once per file range (device,
# inode, offset, size), however many times the process maps that range.
mem_overhead_kb() {
	mem_kb=$(echo "$GUEST_MEM" | awk '{ n = $0 + 0; u = tolower(substr($0, length($0)));
		print (u == "g") ? n * 1048576 : (u == "m") ? n * 1024 : n }')
	awk -v mem="$mem_kb" '
		/^[0-9a-f]+-[0-9a-f]+ / {
			key = ($2 ~ /s/ && $5 != 0) ? $4 ":" $5 ":" $3 : "" }
		/^Size:/ { size = $2; if (key != "") key = key ":" size }
		/^Rss:/ { if (key != "" && (key in seen)) next
			  if (key != "") seen[key] = 1
			  total += $2
			  if (size >= mem && size <= mem + 65536 && $2 > ram)
				  ram = $2 }
		END { if (ram > 0) print total - ram }' "/proc/$1/smaps" 2>/dev/null
}

# The context switches of every thread of a process so far.
ctx_switches() {
	cat /proc/"$1"/task/*/status 2>/dev/null | awk '
		/^(voluntary|nonvoluntary)_ctxt_switches:/ { n += $2 }
		END { print n + 0 }'
}

# Nanoseconds every thread of a process has run so far (schedstat): the
# clock ticks of /proc/PID/stat are 10 ms, a twentieth of all a guest
# at 1% runs in a 20 s window.  (A thread that ends inside the window
# takes its time with it; an idle VMM starts and ends none.)
cpu_ns() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null |
		awk '{ n += $1 } END { printf "%.0f\n", n }'
}

# Host CPU use of the guest, in percent of one CPU, and the VMM's context
# switches per second, over IDLE_S seconds: "PCT WAKEUPS".
idle_s=${IDLE_S:-20}
idle_pct() {
	c0=$(cpu_ns "$GUEST_PID")
	s0=$(ctx_switches "$GUEST_PID")
	w0=$(guest_now)
	sleep "$idle_s"
	c1=$(cpu_ns "$GUEST_PID")
	s1=$(ctx_switches "$GUEST_PID")
	awk -v c0="$c0" -v c1="$c1" -v s="$((s1 - s0))" \
		-v w0="$w0" -v w1="$(guest_now)" \
		'BEGIN { printf "%.2f %.0f", 100 * (c1 - c0) / 1e9 / (w1 - w0),
			 s / (w1 - w0) }'
}

# The guest at its prompt, idle: from 3 s on, host CPU and wakeups over
# the window, then the memory overhead, recorded as idle_cpu$2,
# idle_wakeups$2 and mem_overhead$2.
measure_idle() {
	sleep 3
	set -- "$1" "$2" $(idle_pct)
	record "$1" "idle_cpu$2" "$3"
	record "$1" "idle_wakeups$2" "$4"
	o=$(mem_overhead_kb "$GUEST_PID")
	[ -n "$o" ] && record "$1" "mem_overhead$2" \
		"$(awk -v k="$o" 'BEGIN { printf "%.1f", k / 1024 }')"
}

bench_prompt() {
	GUEST_VMM=$1
	GUEST_NAME=bench-$1-shell
	guest_start
	if ! guest_wait_prompt >/dev/null; then
		guest_stop
		return
	fi
	record "$1" prompt "$(guest_since "$GUEST_T0")"
	# Debian's 686 kernel is built HZ_PERIODIC: it ticks at 250 Hz even
	# when idle, whatever the timer hardware offers, so the window sees
	# 5000 timer interrupts and the work the guest does for each.
	# (This was an assertion of tests/e2e, where a loaded machine
	# failed it; here it is the figure it is.)
	measure_idle "$1" ""
	guest_send poweroff
	guest_wait_exit 60
	guest_stop
}

bench_exit() {
	GUEST_VMM=$1
	GUEST_NAME=bench-$1-exit
	save=$GUEST_APPEND
	GUEST_APPEND="$GUEST_APPEND rdinit=/poweroff-now"
	guest_start "$out/initrd-off.img" </dev/null
	GUEST_APPEND=$save
	if guest_wait_exit && [ "$GUEST_EXIT" = 0 ]; then
		record "$1" exit "$(guest_since "$GUEST_T0")"
	fi
	guest_stop
}

# Sequential write then read of the whole virtio disk, in 1 MiB blocks with
# O_DIRECT (the guest's page cache out of the way), the write ending with
# fsync; then four readers at once, each a quarter of the disk.
# Timed by the guest (/proc/uptime, 10 ms steps: its clock follows the
# host's under both VMMs); MB/s = 10^6 bytes/s.
bench_disk() {
	GUEST_VMM=$1
	GUEST_NAME=bench-$1-disk
	truncate -s 0 "$out/disk.img"
	truncate -s "${disk_mb}M" "$out/disk.img"
	guest_start "$out/initrd-disk.img" \
		$(guest_block_arg "$out/disk.img") </dev/null
	guest_wait_for "LGUEST-GUEST-RUN-END" >/dev/null
	guest_wait_exit 60
	for d in w r pr; do
		grep -a -q "DISK-$d-FAIL" "$GUEST_LOG" && continue
		guest_console | awk -v d="$d" -v mb="$disk_mb" -v vmm="$1" \
			-v passes="$(echo $disk_passes | wc -w)" '
			$1 == "DISK-" d "-TIME" && $3 > $2 {
				printf "%s disk_%s %.1f\n", vmm, d,
				       mb * (d == "w" ? 1 : passes) * \
				       1.048576 / ($3 - $2) }' >>"$res"
	done
	guest_stop
}

bench_cpu() {
	GUEST_VMM=$1
	GUEST_NAME=bench-$1-cpu
	guest_start "$out/initrd-cpu.img" </dev/null
	if guest_wait_for BENCH-START >/dev/null; then
		t=$(guest_now)
		if guest_wait_for "cpubench checksum" >/dev/null; then
			record "$1" cpu "$(guest_since "$t")"
			sum=$(guest_console | sed -n 's/^cpubench checksum \([0-9a-f]*\).*/\1/p')
			record "$1" cpu_sum "$sum"
		fi
	fi
	guest_wait_exit 60
	guest_stop
}

# timed_record VMM METRIC TAG WANT: from the guest's console, records
# METRIC as TAG-TIME's span when TAG-SUM says WANT and nothing said
# TAG-FAIL; a run that finished with another answer is recorded as wrong.
timed_record() {
	_span=$(guest_console | awk -v t="$3-TIME" '
		$1 == t && NF == 3 && $3 >= $2 { printf "%.2f", $3 - $2; exit }')
	_got=$(guest_console | awk -v t="$3-SUM" '$1 == t { print $2; exit }')
	[ -n "$_span" ] || return
	if [ "$_got" = "$4" ] && ! grep -a -q "$3-FAIL" "$GUEST_LOG"; then
		record "$1" "$2" "$_span"
	else
		record "$1" wrong "$2"
	fi
}

# The stock boot: no cryptomgr.notests, so the kernel tests its crypto
# (RSA, SHA, AES...) as every Debian boot does, then /init loads its
# modules, runs an empty script and powers off.  Launch to exit, on the
# host's clock; a self-test that failed makes the run wrong.
bench_boot() {
	GUEST_VMM=$1
	GUEST_NAME=bench-$1-boot
	save=$GUEST_APPEND
	GUEST_APPEND=$(echo "$GUEST_APPEND" | sed 's/ *cryptomgr\.notests//')
	guest_start "$out/initrd-boot.img" </dev/null
	GUEST_APPEND=$save
	if guest_wait_exit && [ "$GUEST_EXIT" = 0 ]; then
		t=$(guest_since "$GUEST_T0")
		if grep -a -q "LGUEST-GUEST-RUN-END status=0" "$GUEST_LOG" &&
		   ! grep -a -q -E "alg: .*fail" "$GUEST_LOG"; then
			record "$1" boot "$t"
		else
			record "$1" wrong boot
		fi
	fi
	guest_stop
}

# urandom_mb MiB from /dev/urandom (the kernel's ChaCha20) onto a virtio
# disk, fsync'd, on the guest's clock.  The check: the guest's md5sum of
# the disk read back equals the host's of the image, and the image does
# not compress (gzip -1 keeps over 99% of it): random bytes reached it.
bench_urandom() {
	GUEST_VMM=$1
	GUEST_NAME=bench-$1-urandom
	img=$out/urandom.img
	truncate -s 0 "$img"
	truncate -s "${urandom_mb}M" "$img"
	guest_start "$out/initrd-urandom.img" $(guest_block_arg "$img") \
		</dev/null
	guest_wait_for "LGUEST-GUEST-RUN-END" >/dev/null
	guest_wait_exit 60
	want=$(md5sum <"$img" | cut -d' ' -f1)
	z=$(gzip -1 -c "$img" | wc -c)
	[ "$z" -gt $((urandom_mb * 1048576 / 100 * 99)) ] || want=compressible
	timed_record "$1" urandom URANDOM "$want"
	guest_stop
}

# gzip -9, sha256sum or xz -9 of the data (xz -9 needs 674 MiB: a 1 GiB
# guest), checked against the same program's output on the host.
bench_data() {	# bench_data VMM gzip|sha256|xz
	GUEST_VMM=$1
	GUEST_NAME=bench-$1-$2
	save=$GUEST_MEM
	to=$GUEST_TIMEOUT
	[ "$2" = xz ] && GUEST_MEM=1g to=$((GUEST_TIMEOUT * 6))
	disk="--block=$data,ro"
	[ "$1" = qemu ] && disk="-drive file=$data,if=virtio,format=raw,readonly=on"
	guest_start "$out/initrd-$2.img" $disk </dev/null
	GUEST_MEM=$save
	guest_wait_for "LGUEST-GUEST-RUN-END" "$to" >/dev/null
	guest_wait_exit 60
	eval "want=\$expect_$2"
	timed_record "$1" "$2" DATA "$want"
	guest_stop
}

# A busybox sh loop of shell_n iterations (test and arithmetic, all
# builtins), on the guest's clock; it must end with i = shell_n.
bench_shell() {
	GUEST_VMM=$1
	GUEST_NAME=bench-$1-shell-loop
	guest_start "$out/initrd-shell.img" </dev/null
	guest_wait_for "LGUEST-GUEST-RUN-END" >/dev/null
	guest_wait_exit 60
	timed_record "$1" shell SHELL "$shell_n"
	guest_stop
}

# The guest on a TAP device, host side 10.10.0.1, in a network namespace
# of its own: the VMM runs in it through a wrapper (tests/lib starts the
# VMM by path), and so do the two ends on the host.
net_wait_ready() {
	for _i in $(seq 100); do
		grep -q NET-HOST-READY "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

bench_net() {
	GUEST_VMM=$1
	GUEST_NAME=bench-$1-net
	ns=lguest-bench-$$
	command -v python3 >/dev/null || return
	ip netns add "$ns" 2>/dev/null || return
	nsx="ip netns exec $ns"
	$nsx ip link set lo up
	$nsx python3 bench/net_host.py sink 5001 >"$out/net-sink.txt" 2>&1 &
	$nsx python3 bench/net_host.py http 5002 $((net_rx_mb * 1048576)) \
		>"$out/net-http.txt" 2>&1 &
	net_wait_ready "$out/net-sink.txt" && net_wait_ready "$out/net-http.txt"
	save_l=$LGUEST save_q=$QEMU
	for v in lguest qemu; do
		[ $v = lguest ] && vmm=$LGUEST || vmm=$QEMU
		printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$ns" \
			"$vmm" >"$out/$v-in-ns"
		chmod 755 "$out/$v-in-ns"
	done
	LGUEST=$out/lguest-in-ns QEMU=$out/qemu-in-ns
	if [ "$1" = qemu ]; then
		$nsx ip tuntap add qtap0 mode tap
		$nsx ip addr add 10.10.0.1/24 dev qtap0
		$nsx ip link set qtap0 up
		guest_start "$out/initrd-net.img" -netdev \
			tap,id=n0,ifname=qtap0,script=no,downscript=no \
			-device virtio-net-pci,netdev=n0 </dev/null
	else
		guest_start "$out/initrd-net.img" --tunnet=10.10.0.1 </dev/null
	fi
	LGUEST=$save_l QEMU=$save_q
	guest_wait_for "LGUEST-GUEST-RUN-END" >/dev/null
	guest_wait_exit 60
	awk -v vmm="$1" -v want=$((net_mb * 1048576)) '
		$1 == "NET-SINK" && $2 == want && $3 > 0 {
			printf "%s net_tx %.2f\n", vmm, $2 / $3 / 1e6 }' \
		"$out/net-sink.txt" >>"$res"
	if ! grep -a -q NET-RX-FAIL "$GUEST_LOG"; then
		guest_console | awk -v vmm="$1" -v mb="$net_rx_mb" '
			$1 == "NET-RX-TIME" && $3 > $2 {
				printf "%s net_rx %.2f\n", vmm,
				       mb * 1.048576 / ($3 - $2) }' >>"$res"
	fi
	guest_stop
	ip netns pids "$ns" 2>/dev/null | xargs -r kill -9
	ip netns del "$ns"
}

# Two guests on one segment, each in a network namespace of their own (QEMU's
# socket netdev listens on the namespace's loopback): A listens, B sends.
g2g_args() {	# g2g_args VMM a|b FILE
	if [ "$1" = qemu ]; then
		[ "$2" = a ] && s=listen || s=connect
		printf '%s\n' -netdev "socket,id=s0,$s=127.0.0.1:7701" \
			-device virtio-net-pci,netdev=s0
	else
		echo "--sharenet=$3"
	fi
}

bench_g2g() {
	GUEST_VMM=$1
	ns=lguest-bench-g2g-$$
	ip netns add "$ns" 2>/dev/null || return
	ip netns exec "$ns" ip link set lo up
	rm -f "$out/g2g.net"
	save_l=$LGUEST save_q=$QEMU
	for v in lguest qemu; do
		[ $v = lguest ] && vmm=$LGUEST || vmm=$QEMU
		printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$ns" \
			"$vmm" >"$out/$v-in-ns"
		chmod 755 "$out/$v-in-ns"
	done
	LGUEST=$out/lguest-in-ns QEMU=$out/qemu-in-ns
	GUEST_NAME=bench-$1-g2g-a
	guest_start "$out/initrd-g2ga.img" $(g2g_args "$1" a "$out/g2g.net") \
		</dev/null
	a_pid=$GUEST_PID a_log=$GUEST_LOG a_work=$GUEST_WORK
	exec 8>&7	# A's console stays open while B has fd 7
	sleep 1		# QEMU: the listening side first
	GUEST_NAME=bench-$1-g2g-b
	guest_start "$out/initrd-g2gb.img" $(g2g_args "$1" b "$out/g2g.net") \
		</dev/null
	LGUEST=$save_l QEMU=$save_q
	guest_wait_for "LGUEST-GUEST-RUN-END" >/dev/null
	if ! grep -a -q G2G-FAIL "$GUEST_LOG"; then
		guest_console | awk -v vmm="$1" -v mb="$net_mb" '
			$1 == "G2G-TIME" && $3 > $2 {
				printf "%s net_g2g %.2f\n", vmm,
				       mb * 1.048576 / ($3 - $2) }' >>"$res"
	fi
	guest_stop
	GUEST_PID=$a_pid GUEST_LOG=$a_log GUEST_WORK=$a_work
	GUEST_NAME=bench-$1-g2g-a
	exec 7>&8 8>&-
	guest_stop
	rm -f "$out/g2g.net"
	ip netns pids "$ns" 2>/dev/null | xargs -r kill -9
	ip netns del "$ns"
}

round=0
while [ $round -lt "$runs" ]; do
	round=$((round + 1))
	# Alternate who goes first, so neither always meets a warm cache.
	order=$vmms
	[ $((round % 2)) = 0 ] && order=$(echo "$vmms" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }')
	# (who, not v: bench_net and bench_g2g loop over v.)
	for who in $order; do
		echo "bench: round $round/$runs, $who" >&2
		for b in $benches; do
			case $b in
			prompt|exit|cpu|disk|net|g2g|prompt64|cpu64|boot|urandom|\
			shell)
				"bench_$b" "$who" ;;
			gzip|sha256|xz) bench_data "$who" "$b" ;;
			*) die "unknown benchmark $b" ;;
			esac
		done
	done
	t=$(guest_now)
	"$out/cpubench64" "$scale" >"$out/native.txt" &&
		record native cpu "$(guest_since "$t")"
done
native_sum=$(sed -n 's/^cpubench checksum \([0-9a-f]*\).*/\1/p' "$out/native.txt")

# The median of one VMM's values for one metric, or "-".
median() {
	awk -v v="$1" -v m="$2" '$1 == v && $2 == m { print $3 }' "$res" |
		sort -g | awk '{ a[NR] = $1 }
		END { if (!NR) { print "-"; exit }
		      if (NR % 2) print a[(NR + 1) / 2]
		      else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

count() {
	awk -v v="$1" -v m="$2" '$1 == v && $2 == m' "$res" | wc -l
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "-" || b == "-" || b + 0 == 0) print "-"
		else printf "%.2f\n", a / b }'
}

table() {
	nat=$(median native cpu)
	echo "| metric | lguest | QEMU TCG | lguest/QEMU |"
	echo "|---|---|---|---|"
	for m in prompt exit boot cpu urandom gzip sha256 xz shell disk_w \
		 disk_r disk_pr net_tx net_rx net_g2g idle_cpu idle_wakeups \
		 mem_overhead prompt64 idle_cpu64 idle_wakeups64 \
		 mem_overhead64 cpu64; do
		# Only the rows of the benchmarks this run was asked for.
		case $m in
		idle_*64|mem_*64) b=prompt64 ;;
		idle_*|mem_*) b=prompt ;;
		disk_*) b=disk ;;
		net_g2g) b=g2g ;;
		net_*) b=net ;;
		*) b=$m ;;
		esac
		case " $benches " in *" $b "*) ;; *) continue ;; esac
		case $m in
		prompt) what="launch to shell prompt (s)" ;;
		exit) what="launch to exit, init powers off at once (s)" ;;
		boot) what="stock boot with the crypto self-tests, launch to poweroff (s)" ;;
		cpu) what="cpubench -s $scale in the guest (s)" ;;
		urandom) what="$urandom_mb MiB from /dev/urandom to a virtio disk, fsync'd (s)" ;;
		gzip) what="gzip -9 of $data_mb MiB, busybox (s)" ;;
		sha256) what="sha256sum of $data_mb MiB, busybox (s)" ;;
		xz) what="xz -9 of $data_mb MiB, xz-utils, 1 GiB guest (s)" ;;
		shell) what="busybox sh loop, $shell_n iterations (s)" ;;
		disk_w) what="virtio disk write, $disk_mb MiB O_DIRECT, fsync'd (MB/s)" ;;
		disk_r) what="virtio disk read, $disk_mb MiB O_DIRECT, 4 passes (MB/s)" ;;
		disk_pr) what="virtio disk read, 4 readers at once, $disk_mb MiB O_DIRECT, 4 passes (MB/s)" ;;
		net_tx) what="TCP guest to host over TAP, $net_mb MiB (MB/s)" ;;
		net_rx) what="TCP host to guest over TAP, $net_rx_mb MiB (MB/s)" ;;
		net_g2g) what="TCP guest to guest (sharenet; QEMU: socket), $net_mb MiB (MB/s)" ;;
		idle_cpu) what="idle guest, host CPU over $idle_s s (%)" ;;
		idle_wakeups) what="idle guest, VMM context switches per second" ;;
		mem_overhead) what="memory overhead of an idle guest (MiB)" ;;
		prompt64) what="amd64 guest: launch to shell prompt (s; QEMU: qemu-system-x86_64)" ;;
		idle_cpu64) what="amd64 guest: idle, host CPU over $idle_s s (%)" ;;
		idle_wakeups64) what="amd64 guest: idle, VMM context switches per second" ;;
		mem_overhead64) what="amd64 guest: memory overhead when idle (MiB)" ;;
		cpu64) what="amd64 guest: cpubench -s $scale, x86-64 build (s)" ;;
		esac
		l=$(median lguest $m)
		q=$(median qemu $m)
		echo "| $what | $l ($(count lguest $m)/$runs) | $q ($(count qemu $m)/$runs) | $(ratio "$l" "$q") |"
	done
	case " $benches " in *" cpu "*)
	echo "| cpubench slowdown vs native x86-64 ($nat s) | $(ratio "$(median lguest cpu)" "$nat") | $(ratio "$(median qemu cpu)" "$nat") | |"
	esac
	[ $need_data = 1 ] &&
		echo "| data of gzip, sha256sum, xz | $data_mb MiB of the guest kernel's modules, sha256 $data_sum | | |"
	for v in lguest qemu; do
		w=$(awk -v v=$v '$1 == v && $2 == "wrong" { print $3 }' "$res" |
			sort | uniq -c | awk '{ printf "%s%s x%d", s, $2, $1; s = ", " }')
		[ -n "$w" ] && echo "| WRONG ANSWERS, $v (not timed) | $w | | |"
	done
	for v in lguest qemu; do
		s=$(awk -v v=$v '$1 == v && $2 == "cpu_sum" { print $3 }' "$res" | sort -u | tr '\n' ' ')
		[ -n "$s" ] || continue
		if [ "$s" = "$native_sum " ]; then
			echo "| cpubench checksum, $v | matches native ($native_sum) | | |"
		else
			echo "| cpubench checksum, $v | MISMATCH: $s vs native $native_sum | | |"
		fi
	done
}

table >"$out/table.md"
cat "$out/table.md"
echo "(medians of $runs runs; (k/$runs) counts the runs that succeeded; logs in bench/out/)"

if [ $record = 1 ]; then
	[ -f BENCHMARKS.md ] || cat >BENCHMARKS.md <<'EOF'
# Benchmarks

lguest against qemu-system-i386 (TCG, no KVM) on the same Debian 12 kernel
and initramfs, measured by `bench/run.sh` (see the comment at its top for
what each line measures).  Each run appends a section; older ones stay.
EOF
	{
		echo
		echo "## $(date -u '+%Y-%m-%d %H:%M UTC')"
		echo
		echo "- machine: $(uname -srm), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "- lguest $(git describe --always --dirty 2>/dev/null); $($QEMU --version | head -n 1); kernel $(cat guest/cache/kernel-version)"
		echo "- command: \`${DATA_MB:+DATA_MB=$DATA_MB }$cmdline\` (VMMs: $vmms; guest RAM $GUEST_MEM; kernel arguments: console=ttyS0 $GUEST_APPEND)"
		echo
		cat "$out/table.md"
	} >>BENCHMARKS.md
	echo "appended to BENCHMARKS.md"
fi
