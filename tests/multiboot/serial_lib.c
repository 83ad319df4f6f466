/*
 * The cpusys runtime (tests/cpusys/lib.c), built for a PC instead of the
 * cpusys harness: the same file, compiled with its console port (0xe9,
 * which only the harness listens to) turned into COM1, so that the same
 * test programs print their TAP lines on lguest's serial console -- or
 * QEMU's -- and end through the exit port at 0xf4 as before.
 *
 * lib.c writes its console bytes with outb(PORT_CONSOLE, c); every outb
 * in it goes through console_outb() below, which sends console bytes to
 * COM1 and any other port where it was going.
 */
#include "../cpusys/lib.h"
#include "serial.h"

static void console_outb(u16 port, u8 v)
{
	if (port == PORT_CONSOLE)
		serial_putc((char)v);
	else
		serial_outb(port, v);
}

/* lib.h is already in, so lib.c's own #include of it is a no-op and this
 * macro, not lib.h's inline function, is what its outb() calls meet. */
#define outb(port, v) console_outb(port, v)
#include "../cpusys/lib.c"
