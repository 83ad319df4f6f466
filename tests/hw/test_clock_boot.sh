#!/bin/sh
# End to end: the stock Debian kernel on lguest's virtual clock.  Linux must
# calibrate its TSC against the PIT, keep the TSC as its clocksource (the
# watchdog compares it with the PIT for a few seconds of idle), and its
# date must stay with the host's.  One boot: a minute or two.
# run-all: timeout=1800 (boots a real kernel; slow under load)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$(pwd)
GUEST_NAME=clock_boot
GUEST_APPEND="${GUEST_APPEND:-panic=-1} cryptomgr.notests"
. tests/lib/guest.sh

script=$(mktemp)
initrd=$GUEST_OUTDIR/clock_boot.initrd
trap 'guest_stop; rm -f "$script" "$initrd"' EXIT

# The guest prints its date just as its second turns (busybox date has no
# %N), so the host, which notes when it sees the line, can tell the drift
# to within its polling.  Twice: after the boot, and after 5 s of idle.
cat >"$script" <<'EOF'
tick() {
	s=$(date -u +%s)
	while [ "$(date -u +%s)" = "$s" ]; do :; done
	echo "CLOCK-DATE-$1 $(date -u +%s)"
}
tick 1
sleep 5
tick 2
dmesg | grep -iE 'tsc|clocksource|calibrat' | sed 's/^/CLOCK-LOG /'
EOF

# guest_wait_for MARK, then the drift in seconds (host - guest) at the
# moment the host saw the line.
drift() {
	guest_wait_for "CLOCK-DATE-$1 " || return 1
	_host=$(guest_now)
	_guest=$(guest_console | sed -n "s/^CLOCK-DATE-$1 \([0-9]*\).*/\1/p")
	awk -v h="$_host" -v g="$_guest" 'BEGIN { printf "%.2f", h - g }'
}

guest_ensure_built || { echo "not ok - clock boot: no test guest"; exit 1; }
mkdir -p "$GUEST_OUTDIR"
guest_make_initrd "$script" "$initrd"
guest_start "$initrd" --verbose
d1=$(drift 1) || { echo "not ok - clock boot: guest booted"; guest_show_log;
		   exit 1; }
d2=$(drift 2) || { echo "not ok - clock boot: guest ran 5 s"; guest_show_log;
		   exit 1; }
guest_wait_for "LGUEST-GUEST-RUN-END" && guest_wait_exit 30
log=$(guest_console)

has() {
	printf '%s\n' "$log" | grep -q -E "$1"
}

has '^CLOCK-LOG .*tsc: (Fast TSC calibration using PIT|Detected 1000\.[0-9]+ MHz|Detected 999\.9[0-9]+ MHz)'
guest_ok $? "clock boot: Linux calibrates its TSC against the PIT"
printf '%s\n' "$log" | grep '^CLOCK-LOG .*tsc: \(Fast\|Detected\|Refined\)' |
	sed 's/^CLOCK-LOG /# /'
has '^CLOCK-LOG .*clocksource: Switched to clocksource tsc *$'
guest_ok $? "clock boot: the TSC is Linux's clocksource"
! has 'Unable to calibrate|Marking TSC unstable|TSC unstable|clocksource .* unstable'
guest_ok $? "clock boot: no failed calibration, TSC never marked unstable"

ok_drift() {
	awk -v d="$1" 'BEGIN { exit !(d >= -2 && d <= 2) }'
}
ok_drift "$d1"
guest_ok $? "clock boot: the guest's date is the host's after the boot ($d1 s)"
ok_drift "$d2"
guest_ok $? "clock boot: and after 5 s more ($d2 s)"
[ "$GUEST_EXIT" = 0 ]
guest_ok $? "clock boot: the guest powered off (status ${GUEST_EXIT:-none})"
printf '%s\n' "$log" | grep '^lguest: clock:' | sed 's/^/# /'
