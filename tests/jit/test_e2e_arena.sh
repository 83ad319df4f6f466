#!/bin/sh
# End to end: the translator's arena (src/cpu/jit.c, "The arena") grows
# while the guest translates more than it holds, and gives its memory back
# once the guest idles.  One boot of the test guest with the smallest
# first limit (LGUEST_JIT_ARENA=256k: Linux's boot fills that within a few
# million instructions), then:
#  - the guest works: it reaches its shell and computes what the host
#    computes (md5sum of the same text), so code in a grown arena runs
#    right;
#  - after 4 s at the prompt (the machine trims after 2 s without a whole
#    slice of work), the arena's mapping holds at most 8 MiB (the boot
#    writes over 100 MiB of code; without the trim it keeps tens of MiB);
#  - at poweroff, --verbose says the limit grew and the arena was emptied
#    while idle, and lguest ends with status 0.
# ARENA_TIMEOUT (default 300 s) bounds the boot.
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_TIMEOUT=${ARENA_TIMEOUT:-300}
GUEST_NAME=jit-arena
. tests/lib/guest.sh
trap guest_cleanup EXIT

if [ ! -x "$LGUEST" ]; then
	echo "not ok - $LGUEST is built"
	exit 1
fi
guest_ensure_built || { echo "not ok - guest/build.sh"; exit 1; }

# The Rss of one view of the arena (both map the same pages), in KiB.
arena_rss_kb() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { jit = ($6 ~ /lguest-jit/ && $2 ~ /x/) }
	     jit && /^Rss:/ { kb += $2 }
	     END { print kb + 0 }' "/proc/$1/smaps"
}

LGUEST_JIT_ARENA=256k
export LGUEST_JIT_ARENA
guest_start "$GUEST_INITRD" --verbose
unset LGUEST_JIT_ARENA
if ! guest_wait_prompt; then
	echo "not ok - a 256 KiB first arena: boots to a shell prompt"
	guest_show_log 30
	exit 1
fi
echo "ok - a 256 KiB first arena: boots to a shell prompt"

want=$(seq 1 3000 | md5sum | cut -d' ' -f1)
guest_cmd "seq 1 3000 | md5sum"
got=$(cut -d' ' -f1 "$GUEST_CMD_OUT" | tr -d '\r' | head -n 1)
[ "$got" = "$want" ]
guest_ok $? "the guest computes what the host does (md5 $got, host $want)"

sleep 4
kb=$(arena_rss_kb "$GUEST_PID")
echo "# arena resident after 4 s idle: $kb KiB"
[ "$kb" -gt 0 ] && [ "$kb" -le 8192 ]
guest_ok $? "an idle guest's arena holds at most 8 MiB ($kb KiB)"

guest_send poweroff
guest_wait_exit 60
[ "$GUEST_EXIT" = 0 ]
guest_ok $? "poweroff ends lguest with status 0 (status ${GUEST_EXIT:-none})"
stats=$(guest_console | grep -a 'lguest: translator:')
echo "# ${stats:-no translator line}"
grown=$(printf '%s\n' "$stats" | sed -n 's/.*, \([0-9]*\) times grown.*/\1/p')
idle=$(printf '%s\n' "$stats" | sed -n 's/.*(\([0-9]*\) while idle).*/\1/p')
[ "${grown:-0}" -ge 1 ]
guest_ok $? "the arena's limit grew (${grown:-?} times)"
[ "${idle:-0}" -ge 1 ]
guest_ok $? "the arena was emptied while the guest idled (${idle:-?} times)"
guest_stop
