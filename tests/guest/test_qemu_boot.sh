#!/bin/sh
# Checks the test guest itself, under qemu-system-i386 (software emulation,
# no KVM): it builds, it boots, it runs a test's commands handed over each
# supported way, its shell can be driven through the console, and it powers
# off so that qemu exits.  Our own boots start from a guest known good here.
# The boot times are printed as TAP comments.
# run-all: timeout=1800 (boots a real kernel; slow under load)
cd "$(dirname "$0")/../.." || exit 1
GUEST_TOP=$PWD
GUEST_VMM=qemu
. tests/lib/guest.sh
trap guest_cleanup EXIT

if ! command -v "$QEMU" >/dev/null; then
	echo "not ok - $QEMU is installed (scripts/install-deps.sh)"
	exit 1
fi
guest_ensure_built
guest_ok $? "guest/build.sh made guest/cache/vmlinuz and initrd.img"
[ -f "$GUEST_KERNEL" ] || exit 1

# 1. A script baked into the initramfs as /run.sh.
GUEST_NAME=qemu-boot-run
script=$(mktemp)
cat >"$script" <<'EOF'
echo "marker-$((6 * 7))-ok"
grep -c -E '^(virtio_pci|virtio_blk|virtio_net|virtio_console|virtio_rng|ext4|crc32c_generic) ' /proc/modules | sed 's/^/modules=/'
grep -E ' (/proc|/sys|/dev) ' /proc/mounts | cut -d' ' -f2 | sort | tr '\n' ' ' | sed 's/^/mounts=/;s/$/\n/'
exit 3
EOF
t0=$(guest_now)
guest_run "$script"
rc=$?
secs=$(guest_since "$t0")
guest_ok $rc "qemu boots the guest, runs /run.sh and powers off (${secs}s)"
[ $rc = 0 ] || guest_show_log
out=$(guest_run_output)
echo "$out" | grep -qx "marker-42-ok"
guest_ok $? "the script's marker is on the console"
echo "$out" | grep -qx "modules=7"
guest_ok $? "virtio_pci, virtio_blk, virtio_net, virtio_console, virtio_rng, ext4, crc32c_generic loaded"
echo "$out" | grep -qx "mounts=/dev /proc /sys "
guest_ok $? "proc, sys and devtmpfs mounted"
[ "$GUEST_RUN_STATUS" = 3 ]
guest_ok $? "the script's exit status (3) is reported"
[ "$GUEST_EXIT" = 0 ]
guest_ok $? "qemu exits with status 0 after the guest's poweroff"
rm -f "$script"

# 2. A script passed base64 on the kernel command line (lguest.run=).
GUEST_NAME=qemu-boot-cmdline
b64=$(printf 'echo "cmdline-$((40 + 2))-ok"\n' | base64 -w0)
save=$GUEST_APPEND
GUEST_APPEND="$GUEST_APPEND lguest.run=$b64"
guest_start "$GUEST_INITRD" </dev/null
guest_wait_for "LGUEST-GUEST-RUN-END status=0" && guest_wait_exit 30
rc=$?
guest_console | grep -qx "cmdline-42-ok" && [ $rc = 0 ]
rc=$?
guest_stop
GUEST_APPEND=$save
guest_ok $rc "a script given as lguest.run=<base64> runs"
[ $rc = 0 ] || guest_show_log

# 3. The interactive shell, driven through the serial console.
GUEST_NAME=qemu-boot-shell
guest_start
t0=$GUEST_T0
guest_wait_prompt
rc=$?
guest_ok $rc "the shell prompt appears on the console ($(guest_since "$t0")s)"
if [ $rc = 0 ]; then
	guest_cmd 'echo $((7 * 6)); false'
	[ "$(cat "$GUEST_CMD_OUT")" = 42 ] && [ "$GUEST_CMD_STATUS" = 1 ]
	guest_ok $? "a command typed on the console runs, output and status read back"
	guest_send poweroff
	guest_wait_exit 30 && [ "$GUEST_EXIT" = 0 ]
	guest_ok $? "poweroff typed in the shell ends qemu with status 0"
else
	guest_show_log
fi
guest_stop
