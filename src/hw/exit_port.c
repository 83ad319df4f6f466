/*
 * The test-exit port (see exit_port.h).
 *
 * Small kernels and CPU test suites written for QEMU end a run by writing
 * a number to isa-debug-exit, and their harnesses read the result from
 * QEMU's exit status.  QEMU's device takes the value exactly as the bus
 * delivered it -- 1, 2 or 4 bytes, whatever the access size was -- and
 * exits with (value << 1) | 1, so that a status of 0 can never be mistaken
 * for a test run's verdict.  The host then keeps only the low 8 bits of
 * any exit status (wait(2)), which is all a harness ever sees: bits 0-6 of
 * the value, shifted.  We do the same sum on the same value.
 *
 * Reads give 0, as QEMU's do.  The write is trusted with nothing: any
 * value a guest writes is a valid status.
 */
#include <stdlib.h>

#include "exit_port.h"

int exit_port_status(u32 val)
{
	return (int)(((val << 1) | 1) & 0xff);
}

static u32 exit_port_read(void *opaque, u16 port, int size)
{
	(void)opaque;
	(void)port;
	(void)size;
	return 0;
}

/*D:190
 * Besides a power-off, a reset (D:180), a kill and three ^C, a run can end
 * here: the test-exit port, present only with --exit-port.  A CPU test
 * program or a small kernel written for QEMU's isa-debug-exit writes its
 * verdict V to port 0xf4 and lguest ends at once with status
 * (V << 1) | 1, exactly the sum QEMU does, so that a harness written for
 * QEMU reads our statuses unchanged (M:150).  The write is not a guest
 * error and needs no check: every value is a status.
 */
static void exit_port_write(void *opaque, u16 port, u32 val, int size)
{
	struct machine *m = opaque;

	verbose("exit port: guest wrote 0x%x (%d byte%s at 0x%x): status %d",
		val, size, size == 1 ? "" : "s", port, exit_port_status(val));
	machine_request_exit(m, exit_port_status(val));
}
/* The run stops at the end of the OUT instruction, and stderr stays empty
 * (only --verbose speaks), which is how a harness tells this status from
 * lguest's own 1. :*/

void exit_port_init(struct machine *m)
{
	machine_add_ports(m, EXIT_PORT_BASE, EXIT_PORT_LEN, m, exit_port_read,
			  exit_port_write);
}
