/*
 * Two small ports: the POST port 0x80 and the boot-time mark.
 *
 * Port 0x80 takes BIOS POST codes on a PC; Linux writes to it as a short
 * I/O delay (outb_p).  Writes are ignored, reads give all ones.
 *
 * The boot-time mark (BOOT_MARK_PORT, see pc.h) is Firecracker's idea: a
 * guest's init writes BOOT_MARK_MAGIC there when it is up, and lguest
 * prints how long since it was launched and how many guest instructions
 * that took, so a test or benchmark can time a boot without parsing the
 * guest's console.  "Launched" is the moment the process started running
 * code, taken by a constructor before main().
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../cpu/cpu.h"
#include "debugport.h"
#include "pc.h"

struct debugport {
	struct machine *m;
	bool print;
};

static u64 launch_ns;

static u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

__attribute__((constructor)) static void note_launch(void)
{
	launch_ns = mono_ns();
}

static u32 post_read(void *opaque, u16 port, int size)
{
	(void)opaque;
	(void)port;
	(void)size;
	return 0xffffffff;
}

static void post_write(void *opaque, u16 port, u32 val, int size)
{
	(void)opaque;
	(void)port;
	(void)val;
	(void)size;
}

/*D:195
 * The boot-time mark: how a benchmark times a boot without reading the
 * guest's console.  The guest's init writes 123 to port 0x440 just before
 * its shell starts, and with --boot-time lguest prints the host time since
 * the process was launched (taken by a constructor before main(), so the
 * loading of the kernel counts) and the guest instructions run so far.
 * The first is what a user waits; the second does not depend on how busy
 * the host was, so two boots can be compared even on a loaded machine.
 */
static void mark_write(void *opaque, u16 port, u32 val, int size)
{
	struct debugport *d = opaque;
	u64 ns = mono_ns() - launch_ns;

	(void)port;
	(void)size;
	if ((val & 0xff) != BOOT_MARK_MAGIC || !(d->print || lguest_verbose))
		return;
	fprintf(stderr, "lguest: boot-time mark: %llu.%03llu ms since launch, "
		"%llu guest instructions\r\n",
		(unsigned long long)(ns / 1000000),
		(unsigned long long)(ns / 1000 % 1000),
		(unsigned long long)cpu_icount(machine_cpu(d->m)));
}
/* Without --boot-time (or --verbose) the mark is ignored, so an init that
 * always writes it costs a normal run nothing. :*/

void debugport_init(struct machine *m, bool print_boot_time)
{
	struct debugport *d = calloc(1, sizeof(*d));

	if (!d)
		die("out of memory");
	d->m = m;
	d->print = print_boot_time;
	machine_add_ports(m, 0x80, 1, d, post_read, post_write);
	machine_add_ports(m, BOOT_MARK_PORT, 1, d, post_read, mark_write);
	machine_add_cleanup(m, free, d);
}
