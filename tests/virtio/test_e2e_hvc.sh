#!/bin/sh
# End to end: a shell on hvc0, the virtio console.  With console=hvc0 last
# on the kernel command line, lguest gives the terminal's keys to hvc0
# (the UART keeps printing), and the guest's init starts its shell on
# /dev/hvc0 once the virtio_console module is loaded (Debian builds it as a
# module, so the kernel's own /dev/console cannot be hvc0 that early).
# The test types commands and checks that the shell that answers sits on
# /dev/hvc0, then powers off.  lguest only: QEMU's virtconsole needs a
# virtio-serial bus and a chardev of its own.
# run-all: timeout=1800 (boots a real kernel; slow under load)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_VMM=lguest
GUEST_NAME=virtio-hvc
GUEST_TIMEOUT=${VIRTIO_E2E_TIMEOUT:-1800}
. tests/lib/guest.sh
trap guest_stop EXIT

if [ ! -x "$LGUEST" ]; then
	echo "not ok - $LGUEST is built"
	exit 1
fi
if ! grep -q hvc0 guest/init; then
	echo "ok - a shell on hvc0 # SKIP guest/init starts no shell on hvc0"
	exit 0
fi
guest_ensure_built || { echo "not ok - guest/build.sh"; exit 1; }

GUEST_APPEND="$GUEST_APPEND console=hvc0"
guest_start
guest_wait_prompt
rc=$?
guest_ok $rc "boots to a shell with console=hvc0"
[ $rc = 0 ] || { guest_show_log 30; exit 1; }
guest_cmd 'echo "tty=$(tty)"; echo "sum=$((6 * 7))"'
guest_ok $? "a command typed on the terminal runs"
grep -qx "tty=/dev/hvc0" "$GUEST_CMD_OUT"
guest_ok $? "the shell that answers is on /dev/hvc0"
grep -qx "sum=42" "$GUEST_CMD_OUT"
guest_ok $? "its output comes back through hvc0"
guest_send "poweroff"
guest_wait_exit 120 && [ "$GUEST_EXIT" = 0 ]
guest_ok $? "poweroff from the hvc0 shell ends lguest with status 0"
