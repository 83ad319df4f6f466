#!/bin/sh
# End to end: the interrupt hardware and ACPI as Debian's kernel uses them.
# Four boots of the test guest to its shell prompt, each answering a few
# questions and powering off:
#  - as it comes: the kernel finds the ACPI tables, routes every interrupt
#    through the IO-APIC (PCI on pins 16-19), ticks on the local APIC
#    timer in TSC-deadline mode (high-resolution), and so needs no PIT at
#    all (the APIC timer runs in every C-state, ARAT); logs no APIC or
#    ACPI error, and powers off through ACPI S5 with status 0;
#  - with `lapic=notscdeadline`: the kernel calibrates the APIC timer
#    against the PIT, which it finds on IO-APIC pin 2, and ticks on the
#    APIC timer's one-shot mode;
#  - with `noapic` (and no TSC-deadline, so that the PIT is in use): the
#    IO-APIC is left alone, the 8259 pair takes the lines through LINT0
#    (virtual wire), the local APIC timer still ticks;
#  - with `nolapic`: no local APIC at all, the 8259 pair and the PIT.
# Each must reach its shell and power off with status 0.
# APIC_TIMEOUT (default 300 s) bounds each boot.
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_TIMEOUT=${APIC_TIMEOUT:-300}
. tests/lib/guest.sh
trap guest_cleanup EXIT

if [ ! -x "$LGUEST" ]; then
	echo "not ok - $LGUEST is built"
	exit 1
fi
guest_ensure_built || { echo "not ok - guest/build.sh"; exit 1; }

# The guest's answers, one tagged line each, for the checks below.
probe="grep -E '^ *[0-9]+:|LOC:|NMI:|ERR:' /proc/interrupts | sed 's/^/IRQ /'; sleep 1; grep LOC: /proc/interrupts | sed 's/^/IRQ2 /'; sed -n 's/^flags[[:space:]]*: /FLAGS /p' /proc/cpuinfo; grep -E 'Clock Event Device|event_handler' /proc/timer_list | sed 's/^/TL /'; dmesg | grep -iE 'apic|acpi' | grep -iE 'error|warn|fail|bug|spurious' | grep -vE 'MMCONFIG|pci=nocrs' | sed 's/^/BAD /'"

# boot NAME EXTRA-KERNEL-ARGS: to the shell prompt, the probe, poweroff.
# The probe's output is left in $out.
boot() {
	what="'${2:-no arguments}'"
	GUEST_NAME=e2e-apic-$1
	GUEST_APPEND="panic=-1 cryptomgr.notests $2"
	out=""
	guest_start "$GUEST_INITRD" --verbose
	if ! guest_wait_prompt; then
		echo "not ok - $what: boots to a shell prompt"
		guest_show_log 30
		guest_stop
		return 1
	fi
	echo "ok - $what: boots to a shell prompt"
	if guest_cmd "$probe"; then
		out=$(cat "$GUEST_CMD_OUT")
	else
		echo "not ok - $what: the guest answers"
		guest_show_log
	fi
	guest_send poweroff
	guest_wait_exit 60
	[ "$GUEST_EXIT" = 0 ]
	guest_ok $? "$what: poweroff ends lguest with status 0 (status ${GUEST_EXIT:-none})"
	guest_stop
	printf '%s\n' "$out" | grep '^BAD ' | sed 's/^/# /'
	! printf '%s\n' "$out" | grep -q '^BAD '
	guest_ok $? "$what: no APIC or ACPI errors in dmesg"
	[ -n "$out" ]
}

has() {
	printf '%s\n' "$out" | grep -qE "$1"
}

loc() {
	printf '%s\n' "$out" | sed -n "s/^$1 *LOC: *\([0-9]*\).*/\1/p"
}

if boot apic ""; then
	! has '^IRQ +0:'
	guest_ok $? "the kernel needs no PIT (TSC-deadline and ARAT)"
	has '^IRQ +[0-9]+: .*IO-APIC +1[6-9]-fasteoi +virtio'
	guest_ok $? "PCI (virtio) interrupts come through IO-APIC pins 16-19"
	l1=$(loc IRQ)
	l2=$(loc IRQ2)
	echo "# local timer interrupts: ${l1:-?}, a second later ${l2:-?}"
	[ "${l2:-0}" -gt $(( ${l1:-0} + 100 )) ]
	guest_ok $? "the local APIC timer ticks (LOC rose by $(( ${l2:-0} - ${l1:-0} )) in 1 s)"
	printf '%s\n' "$out" | grep '^TL ' |
		grep -A1 'Clock Event Device: lapic-deadline' |
		grep -q 'event_handler: *hrtimer_interrupt'
	guest_ok $? "the kernel runs high-resolution timers on the APIC timer's TSC-deadline mode"
	has '^FLAGS .* apic( |$)'
	guest_ok $? "/proc/cpuinfo has the apic flag"
	grep -q 'acpi: S5 requested: powered off' \
		"$GUEST_OUTDIR/$GUEST_NAME.log"
	guest_ok $? "the kernel powered off through ACPI S5"
fi

if boot pit lapic=notscdeadline; then
	has '^IRQ +0: .*IO-APIC +2-edge +timer'
	guest_ok $? "notscdeadline: the PIT is on IO-APIC pin 2"
	printf '%s\n' "$out" | grep '^TL ' |
		grep -A1 'Clock Event Device: lapic$' |
		grep -q 'event_handler: *hrtimer_interrupt'
	guest_ok $? "notscdeadline: high-resolution timers on the APIC timer's one-shot mode"
	[ "$(loc IRQ2)" -gt "$(loc IRQ)" ]
	guest_ok $? "notscdeadline: the local APIC timer ticks"
fi

if boot noapic "noapic lapic=notscdeadline"; then
	has '^IRQ +0: .*XT-PIC .*timer'
	guest_ok $? "noapic: the PIT is on the 8259"
	! has 'IO-APIC'
	guest_ok $? "noapic: nothing on the IO-APIC"
	[ "$(loc IRQ2)" -gt "$(loc IRQ)" ]
	guest_ok $? "noapic: the local APIC timer still ticks"
fi

if boot nolapic nolapic; then
	has '^IRQ +0: .*XT-PIC .*timer'
	guest_ok $? "nolapic: the PIT is on the 8259"
	[ "$(loc IRQ2)" = 0 ]
	guest_ok $? "nolapic: no local timer interrupts"
	! has '^FLAGS .* apic( |$)'
	guest_ok $? "nolapic: no apic flag in /proc/cpuinfo"
fi
