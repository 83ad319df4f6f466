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

static void exit_port_write(void *opaque, u16 port, u32 val, int size)
{
	struct machine *m = opaque;

	verbose("exit port: guest wrote 0x%x (%d byte%s at 0x%x): status %d",
		val, size, size == 1 ? "" : "s", port, exit_port_status(val));
	machine_request_exit(m, exit_port_status(val));
}

void exit_port_init(struct machine *m)
{
	machine_add_ports(m, EXIT_PORT_BASE, EXIT_PORT_LEN, m, exit_port_read,
			  exit_port_write);
}
