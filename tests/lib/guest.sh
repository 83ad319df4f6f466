# Shared shell helpers to boot the test guest (guest/build.sh) under lguest or
# qemu-system-i386 and talk to it through its serial console.  Sourced by
# tests/guest, tests/e2e, bench/ and the end-to-end tests of other areas.
# Plain POSIX sh: a fresh Debian 12 has no python or expect, and needs none.
#
# How a test talks to the guest:
#  - Batch: guest_run FILE runs the shell script FILE in the guest and powers
#    off.  The script goes in as /run.sh, in a small cpio appended to the
#    initramfs (the kernel unpacks concatenated archives); the guest's /init
#    prints LGUEST-GUEST-RUN-BEGIN, runs it, prints
#    "LGUEST-GUEST-RUN-END status=N" and powers off.
#  - Interactive: guest_start boots to the shell with the VMM's stdin on a
#    fifo; guest_wait_prompt waits for it; guest_cmd CMD types one command
#    line and waits for its end marker, leaving its output in
#    $GUEST_CMD_OUT (a file) and its status in $GUEST_CMD_STATUS.
#    guest_send types raw lines; guest_wait_exit waits for the VMM to exit.
#  Always guest_cleanup at the end (trap guest_cleanup EXIT).  Console logs
#  are kept in tests/out/<GUEST_NAME>.log for a look after a failure.
#
# Settings, from the environment or set before the calls:
#   GUEST_VMM      lguest (default) or qemu
#   GUEST_MEM      guest RAM, lguest syntax (default 256m)
#   GUEST_KERNEL   default guest/cache/vmlinuz
#   GUEST_INITRD   default guest/cache/initrd.img
#   GUEST_APPEND   kernel arguments after console=ttyS0 (default
#                  "panic=-1 cryptomgr.notests": the kernel's crypto
#                  self-tests take minutes on our software CPU and test none
#                  of the devices; tests/e2e/test_boot.sh keeps them, booting
#                  exactly as a user would)
#   GUEST_TIMEOUT  seconds a boot or a command may take (default 180)
#   GUEST_RUN_FILES files guest_run puts beside /run.sh in the guest's /
#   GUEST_NAME     names the console log tests/out/<name>.log (default guest)
#   LGUEST         the launcher (default ./lguest; tests/run-all.sh sets it)
#   QEMU           default qemu-system-i386 (x86_64 for GUEST_FLAVOUR=amd64)
#   GUEST_FLAVOUR  686 (default) or amd64: which of make guest's guests
#   GUEST_WRAP     words put before the VMM's command (e.g. "ip netns exec
#                  NS", to run it in a network namespace)
# Extra VMM arguments (devices) go after guest_start or guest_run's first
# argument; guest_block_arg FILE gives the right one for each VMM.

# GUEST_TOP, the top of the source tree, may be set by the caller; else it is
# found from the calling script's folder.
if [ -z "$GUEST_TOP" ]; then
	GUEST_TOP=$(cd "$(dirname "$0")" && git rev-parse --show-toplevel \
		2>/dev/null)
	[ -n "$GUEST_TOP" ] && [ -x "$GUEST_TOP/guest/build.sh" ] ||
		GUEST_TOP=$(cd "$(dirname "$0")/../.." && pwd)
fi
GUEST_VMM=${GUEST_VMM:-lguest}
GUEST_MEM=${GUEST_MEM:-256m}
# GUEST_FLAVOUR=amd64 runs a test on the x86-64 guest (guest/cache/amd64,
# FLAVOUR=amd64 guest/build.sh) instead: its 64-bit code runs in the
# interpreter, so commands get more time, and QEMU means qemu-system-x86_64.
_gdir=$GUEST_TOP/guest/cache
if [ "${GUEST_FLAVOUR:-686}" = amd64 ]; then
	_gdir=$GUEST_TOP/guest/cache/amd64
	GUEST_TIMEOUT=${GUEST_TIMEOUT:-600}
	QEMU=${QEMU:-qemu-system-x86_64}
fi
GUEST_KERNEL=${GUEST_KERNEL:-$_gdir/vmlinuz}
GUEST_INITRD=${GUEST_INITRD:-$_gdir/initrd.img}
GUEST_APPEND=${GUEST_APPEND-panic=-1 cryptomgr.notests}
GUEST_TIMEOUT=${GUEST_TIMEOUT:-180}
GUEST_NAME=${GUEST_NAME:-guest}
LGUEST=${LGUEST:-$GUEST_TOP/lguest}
QEMU=${QEMU:-qemu-system-i386}
GUEST_OUTDIR=$GUEST_TOP/tests/out
GUEST_PID=""
GUEST_EXIT=""
GUEST_SEQ=0

# Seconds since the epoch, with nanoseconds, and differences of them.
guest_now() {
	date +%s.%N
}

guest_since() {
	awk -v a="$1" -v b="$(guest_now)" 'BEGIN { printf "%.2f", b - a }'
}

# Builds guest/cache when it is missing (a fresh machine; needs the network
# to Debian's mirrors).  Its chatter goes to stderr, away from TAP output.
guest_ensure_built() {
	[ -f "$GUEST_KERNEL" ] && [ -f "$GUEST_INITRD" ] && return 0
	FLAVOUR=${GUEST_FLAVOUR:-686} "$GUEST_TOP/guest/build.sh" >&2
}

# guest_i386_prog PROG: what a test that runs an i386 program of its own in
# the guest and under qemu-i386 (the oracle) needs: PROG built, qemu-i386,
# the guest.  Says "not ok" and exits when one is missing.
guest_i386_prog() {
	make -s "$1" >/dev/null 2>&1 || make "$1" || {
		echo "not ok - $1 builds"
		exit 1
	}
	if ! command -v qemu-i386 >/dev/null; then
		echo "not ok - qemu-i386 is missing (scripts/install-deps.sh)"
		exit 1
	fi
	guest_ensure_built || { echo "not ok - guest/build.sh"; exit 1; }
}

# guest_i386_same PROG TAG WANT: PROG run in the guest and under qemu-i386
# (the outside oracle) must print the same lines starting "TAG:".  WANT is
# a shell pattern that qemu-i386's output must match first: else the
# program, not the guest, is at fault.
guest_i386_same() {
	_p=$1 _tag=$2 _want=$3 _n=${1##*/}
	guest_i386_prog "$_p"
	_w=$(qemu-i386 "$_p")
	case $_w in
	$_want) ;;
	*)	echo "not ok - under qemu-i386, $_n prints what it should"
		printf '%s\n' "$_w" | sed 's/^/# /'
		return 0 ;;
	esac
	_s=$(mktemp)
	printf '/%s\n' "$_n" >"$_s"
	GUEST_RUN_FILES=$_p
	guest_run "$_s"
	_st=$?
	rm -f "$_s"
	guest_ok $_st "the guest runs $_n and powers off"
	_g=$(guest_run_output | grep "^$_tag:")
	if [ "$_g" = "$_w" ]; then
		echo "ok - $_n prints in the guest what it prints under qemu-i386"
	else
		echo "not ok - $_n prints in the guest what it prints" \
			"under qemu-i386"
		printf '%s\n' "$_w" | sed 's/^/# want: /'
		printf '%s\n' "$_g" | sed 's/^/# got:  /'
	fi
	[ $_st = 0 ] || guest_show_log
}

# The VMM's argument for a raw disk image (virtio-blk).
guest_block_arg() {
	if [ "$GUEST_VMM" = qemu ]; then
		echo "-drive file=$1,if=virtio,format=raw"
	else
		echo "--block=$1"
	fi
}

# guest_make_initrd SCRIPT OUT: the initramfs plus /run.sh = SCRIPT.
guest_make_initrd() {
	_d=$(mktemp -d)
	cp "$1" "$_d/run.sh"
	chmod 755 "$_d/run.sh"
	for _f in $GUEST_RUN_FILES; do
		cp "$_f" "$_d/"
	done
	cp "$GUEST_INITRD" "$2"
	(cd "$_d" && ls | cpio -o -H newc -R 0:0 --quiet) >>"$2"
	rm -rf "$_d"
}

# Sets "$@" for the VMM: guest_vmm_argv INITRD [extra args]; the result is
# left in GUEST_ARGV as one string per line.
guest_vmm_argv() {
	_initrd=$1
	shift
	[ -n "$GUEST_WRAP" ] && printf '%s\n' $GUEST_WRAP
	if [ "$GUEST_VMM" = qemu ]; then
		# -nic none: no e1000 and no iPXE option ROM for the BIOS to
		# run; lguest has neither.
		_m=$(echo "$GUEST_MEM" | tr kmg KMG)
		printf '%s\n' "$QEMU" -M pc -m "$_m" -nographic -no-reboot \
			-nic none -kernel "$GUEST_KERNEL" -initrd "$_initrd" \
			"$@" -append "console=ttyS0 $GUEST_APPEND"
	else
		printf '%s\n' "$LGUEST" "$GUEST_MEM" "$GUEST_KERNEL" \
			"--initrd=$_initrd" "$@" console=ttyS0 $GUEST_APPEND
	fi
}

# guest_start [INITRD [extra VMM args]]: boots in the background, console
# to $GUEST_LOG, stdin from a fifo that guest_send writes (fd 7).
guest_start() {
	_initrd=${1:-$GUEST_INITRD}
	[ $# -gt 0 ] && shift
	guest_ensure_built || return 1
	mkdir -p "$GUEST_OUTDIR"
	# Everything live is private to this run (several make checks may
	# share the tree); guest_stop copies the log to tests/out/.
	GUEST_WORK=$(mktemp -d "${TMPDIR:-/tmp}/lguest-guest.XXXXXX")
	GUEST_LOG=$GUEST_WORK/console.log
	GUEST_FIFO=$GUEST_WORK/stdin
	GUEST_CMD_OUT=$GUEST_WORK/cmd.out
	mkfifo "$GUEST_FIFO"
	# Opened read-write, so that neither side blocks and the VMM never
	# sees end of input while the test runs.
	exec 7<>"$GUEST_FIFO"
	GUEST_ARGV=$(guest_vmm_argv "$_initrd" "$@")
	_oldifs=$IFS
	IFS='
'
	set -f
	set -- $GUEST_ARGV
	set +f
	IFS=$_oldifs
	GUEST_EXIT=""
	GUEST_T0=$(guest_now)
	"$@" <"$GUEST_FIFO" >"$GUEST_LOG" 2>&1 7>&- &
	GUEST_PID=$!
}

# Console output without the carriage returns of the tty.
guest_console() {
	tr -d '\r' <"$GUEST_LOG"
}

# guest_wait_for STRING [TIMEOUT [GREP-OPTION]]: waits until STRING (fixed,
# or a regular expression with -E as third argument) is on the console;
# fails early if the VMM exits without printing it, or (with GUEST_STALL
# set) when the console, once it has printed something, stays silent for
# GUEST_STALL seconds.
guest_wait_for() {
	_t=${2:-$GUEST_TIMEOUT}
	_how=${3:--F}
	_now=$(date +%s)
	_end=$((_now + _t))
	_size=-1
	_moved=$_now
	while :; do
		grep -a -q "$_how" -e "$1" "$GUEST_LOG" 2>/dev/null && return 0
		if ! kill -0 "$GUEST_PID" 2>/dev/null; then
			grep -a -q "$_how" -e "$1" "$GUEST_LOG" && return 0
			echo "# the VMM exited before printing '$1'"
			return 1
		fi
		_now=$(date +%s)
		if [ "$_now" -ge "$_end" ]; then
			echo "# timeout (${_t}s) waiting for '$1'"
			return 1
		fi
		if [ "${GUEST_STALL:-0}" -gt 0 ]; then
			# The kernel says nothing while it decompresses
			# itself: silence counts from its first line on.
			_s=$(wc -c <"$GUEST_LOG")
			if [ "$_s" != "$_size" ] || [ "$_s" = 0 ]; then
				_size=$_s
				_moved=$_now
			fi
			if [ $((_now - _moved)) -ge "$GUEST_STALL" ]; then
				echo "# console silent for ${GUEST_STALL}s" \
				     "waiting for '$1'"
				return 1
			fi
		fi
		sleep 0.05
	done
}

# Waits for the shell's first prompt (PS1='guest:\w# ' from guest/init).
guest_wait_prompt() {
	guest_wait_for "LGUEST-GUEST-READY" "${1:-$GUEST_TIMEOUT}" &&
		guest_wait_for 'guest:[^ ]*# ' "${1:-$GUEST_TIMEOUT}" -E
}

# Types one line on the guest's console.
guest_send() {
	printf '%s\n' "$1" >&7
}

# guest_cmd CMD [TIMEOUT]: runs CMD in the guest's shell.  The markers are
# written with an empty quote inside them so that the tty's echo of the
# command line never matches: only the output of echo does.
guest_cmd() {
	GUEST_SEQ=$((GUEST_SEQ + 1))
	_n=$GUEST_SEQ
	: >"$GUEST_CMD_OUT"
	GUEST_CMD_STATUS=""
	guest_send "echo @@BEG''IN_$_n; $1; echo @@EN''D_$_n \$?"
	_t=${2:-$GUEST_TIMEOUT}
	_end=$(($(date +%s) + _t))
	while ! grep -a -q -E "@@END_$_n [0-9]+" "$GUEST_LOG"; do
		kill -0 "$GUEST_PID" 2>/dev/null || return 1
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.05
	done
	guest_console | awk -v b="@@BEGIN_$_n" -v e="@@END_$_n " '
		$0 == b { on = 1; next }
		on && (i = index($0, e)) {
			if (i > 1) print substr($0, 1, i - 1)
			split(substr($0, i + length(e)), f, " ")
			print f[1] > "/dev/stderr"
			exit
		}
		on { print }' >"$GUEST_CMD_OUT" 2>"$GUEST_WORK/status"
	GUEST_CMD_STATUS=$(cat "$GUEST_WORK/status")
	[ -n "$GUEST_CMD_STATUS" ]
}

# guest_wait_exit [TIMEOUT]: waits for the VMM to end; its status goes in
# GUEST_EXIT.  Fails (and kills it) on timeout.
guest_wait_exit() {
	_t=${1:-$GUEST_TIMEOUT}
	_end=$(($(date +%s) + _t))
	while kill -0 "$GUEST_PID" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$_end" ]; then
			guest_stop
			return 1
		fi
		sleep 0.05
	done
	wait "$GUEST_PID"
	GUEST_EXIT=$?
	GUEST_PID=""
	return 0
}

# Ends the VMM if it still runs, closes the fifo, removes the private files
# and leaves the console log in tests/out/<GUEST_NAME>.log, where GUEST_LOG
# then points (read what you need before stopping if other runs of the same
# test may share the tree).  Safe to call twice.
guest_stop() {
	if [ -n "$GUEST_PID" ] && kill -0 "$GUEST_PID" 2>/dev/null; then
		kill "$GUEST_PID" 2>/dev/null
		sleep 0.2
		kill -9 "$GUEST_PID" 2>/dev/null
		wait "$GUEST_PID" 2>/dev/null
	fi
	GUEST_PID=""
	exec 7>&-
	[ -n "$GUEST_WORK" ] && [ -d "$GUEST_WORK" ] || return 0
	if [ -f "$GUEST_LOG" ]; then
		cp "$GUEST_LOG" "$GUEST_OUTDIR/.$GUEST_NAME.log.$$" &&
			mv "$GUEST_OUTDIR/.$GUEST_NAME.log.$$" \
				"$GUEST_OUTDIR/$GUEST_NAME.log"
		GUEST_LOG=$GUEST_OUTDIR/$GUEST_NAME.log
	fi
	rm -rf "$GUEST_WORK"
	GUEST_WORK=""
}

# For a test's EXIT trap.
guest_cleanup() {
	guest_stop
}

# Host CPU time (user + system, in clock ticks) a process has used.  The
# command name in /proc/PID/stat may hold spaces: cut after its ')'.
guest_cpu_ticks() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null |
		awk '{ print $12 + $13 }'
}

# Resident set size of a process, in KiB.
guest_rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# guest_run SCRIPT [extra VMM args]: boots, runs SCRIPT (a file) in the
# guest, waits for power-off.  Succeeds when the end marker was printed and
# the VMM exited; GUEST_RUN_STATUS is the script's status, and
# guest_run_output prints what it wrote.
guest_run() {
	guest_ensure_built || return 1
	mkdir -p "$GUEST_OUTDIR"
	_ird=$(mktemp "${TMPDIR:-/tmp}/lguest-initrd.XXXXXX")
	guest_make_initrd "$1" "$_ird"
	shift
	guest_start "$_ird" "$@"
	GUEST_RUN_STATUS=""
	_ok=0
	guest_wait_for "LGUEST-GUEST-RUN-END status=" || _ok=1
	guest_wait_exit 30 || _ok=1
	GUEST_RUN_STATUS=$(guest_console |
		sed -n 's/^LGUEST-GUEST-RUN-END status=\([0-9]*\).*/\1/p' |
		head -n 1)
	GUEST_RUN_OUTPUT=$(guest_console |
		sed -n '/^LGUEST-GUEST-RUN-BEGIN/,/^LGUEST-GUEST-RUN-END/p' |
		sed '1d;$d')
	guest_stop
	rm -f "$_ird"
	[ -n "$GUEST_RUN_STATUS" ] && return $_ok
	return 1
}

# What the last guest_run's script printed (between the markers).
guest_run_output() {
	printf '%s\n' "$GUEST_RUN_OUTPUT"
}

# TAP helpers.
guest_ok() {
	if [ "$1" = 0 ]; then
		echo "ok - $2"
	else
		echo "not ok - $2"
	fi
}

# Prints the last lines of the console log as TAP comments (after a failure).
guest_show_log() {
	[ -f "$GUEST_LOG" ] || return 0
	echo "# last ${1:-20} lines of the console ($GUEST_OUTDIR/$GUEST_NAME.log):"
	guest_console | tail -n "${1:-20}" | sed 's/^/#   /'
}
