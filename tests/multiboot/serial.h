/*
 * COM1 output for the Multiboot test programs, as a PC kernel does it: wait
 * until the 16550's transmit holding register is empty (LSR bit 5), then
 * write the byte.  A UART that never says "empty" is waited for only so
 * long, so that a broken one garbles output instead of hanging the test.
 */
#ifndef MULTIBOOT_SERIAL_H
#define MULTIBOOT_SERIAL_H

#define COM1		0x3f8
#define COM1_LSR	(COM1 + 5)
#define LSR_THRE	0x20

static inline unsigned char serial_inb(unsigned short port)
{
	unsigned char v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void serial_outb(unsigned short port, unsigned char v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void serial_putc(char c)
{
	int spins = 1000000;

	if (c == '\n')
		serial_putc('\r');
	while (!(serial_inb(COM1_LSR) & LSR_THRE) && --spins)
		;
	serial_outb(COM1, (unsigned char)c);
}

#endif
