/*
 * What a PC BIOS leaves behind, for a Multiboot kernel (see bios.h).
 *
 * Under QEMU a Multiboot kernel is started by SeaBIOS, and finds the
 * machine as the BIOS left it: the 8259 pair initialised with IRQ 0-7 at
 * vectors 0x08-0x0f and IRQ 8-15 at 0x70-0x77, the 8254's channel 0
 * ticking at 18.2 Hz, and a real-mode interrupt vector table at address 0
 * whose hardware interrupt handlers acknowledge the 8259.  Multiboot
 * promises none of it, but kernels that go back to real mode rely on it:
 * kvm-unit-tests' realmode test waits with STI; HLT for the timer to wake
 * it.  Linux's 32-bit boot protocol starts with interrupts off and
 * programs everything itself, so a Linux boot gets none of this.
 *
 * We have no BIOS to run, so we leave the same state directly: the 8259s
 * and the 8254 are programmed through the bus, as firmware programs them,
 * and the vector table points at three small handlers placed at the top
 * of the BIOS area (F000:FF00): IRET, and EOI-then-IRET for each 8259.
 */
#include <string.h>

#include "bios.h"

#define BIOS_SEG	0xf000u
#define STUB_BASE	0xfff00u	/* F000:FF00 */
#define STUB_IRET	0x00		/* offsets from STUB_BASE */
#define STUB_MASTER	0x10
#define STUB_SLAVE	0x20
#define STUBS_LEN	0x30
#define IVT_LEN		0x400

/* The handlers, 16-bit code. */
static const u8 stub_iret[] = { 0xcf };			/* iret */
static const u8 stub_master[] = {
	0x50,			/* push %ax */
	0xb0, 0x20,		/* mov $0x20, %al: non-specific EOI */
	0xe6, 0x20,		/* out %al, $0x20 */
	0x58,			/* pop %ax */
	0xcf,			/* iret */
};
static const u8 stub_slave[] = {
	0x50,			/* push %ax */
	0xb0, 0x20,		/* mov $0x20, %al */
	0xe6, 0xa0,		/* out %al, $0xa0: the slave first, */
	0xe6, 0x20,		/* out %al, $0x20: then the master */
	0x58,			/* pop %ax */
	0xcf,			/* iret */
};

static bool overlaps(u32 a, u32 alen, u32 b, u32 bend)
{
	return a < bend && b < a + alen;
}

static void write_ivt(struct guest_mem *mem)
{
	u8 stubs[STUBS_LEN] = { 0 };
	u32 v, off;

	memcpy(stubs + STUB_IRET, stub_iret, sizeof(stub_iret));
	memcpy(stubs + STUB_MASTER, stub_master, sizeof(stub_master));
	memcpy(stubs + STUB_SLAVE, stub_slave, sizeof(stub_slave));
	if (guest_write(mem, STUB_BASE, stubs, sizeof(stubs)) != 0)
		return;
	for (v = 0; v < 256; v++) {
		off = (STUB_BASE & 0xffff) + STUB_IRET;
		if (v >= 0x08 && v < 0x10)
			off = (STUB_BASE & 0xffff) + STUB_MASTER;
		else if (v >= 0x70 && v < 0x78)
			off = (STUB_BASE & 0xffff) + STUB_SLAVE;
		guest_write32(mem, v * 4, BIOS_SEG << 16 | off);
	}
}

/* ICW1-4 for one 8259: edge-triggered, cascaded, 8086 mode; then the
 * mask. */
static void init_8259(struct machine *m, u16 port, u8 base, u8 cascade,
		      u8 mask)
{
	machine_io_out(m, port, 0x11, 1);
	machine_io_out(m, port + 1, base, 1);
	machine_io_out(m, port + 1, cascade, 1);
	machine_io_out(m, port + 1, 0x01, 1);
	machine_io_out(m, port + 1, mask, 1);
}

/*D:198
 * A Multiboot kernel is started as SeaBIOS starts it under QEMU, which
 * is to say after a BIOS: the 8259s at vectors 0x08 and 0x70 with the
 * lines a BIOS serves unmasked, the 8254's channel 0 running at 18.2 Hz,
 * and an interrupt vector table whose handlers acknowledge the 8259, so
 * that a kernel that drops back to real mode and waits with HLT is woken
 * by the timer, as kvm-unit-tests' realmode test expects.  A table or
 * handler that would land on the kernel's own image is left out: the
 * image wins, as it would if it were loaded over the BIOS's table.
 */
void bios_multiboot_state(struct machine *m, u32 image_start, u32 image_end)
{
	struct guest_mem *mem = machine_mem(m);

	if (!overlaps(0, IVT_LEN, image_start, image_end) &&
	    !overlaps(STUB_BASE, STUBS_LEN, image_start, image_end))
		write_ivt(mem);
	/* SeaBIOS's masks: the timer, keyboard, cascade and floppy on the
	 * master; the RTC, mouse, FPU and first disk on the slave. */
	init_8259(m, 0x20, 0x08, 0x04, 0xb8);
	init_8259(m, 0xa0, 0x70, 0x02, 0x8e);
	/* Channel 0: rate generator, LSB then MSB, count 0 (65536). */
	machine_io_out(m, 0x43, 0x34, 1);
	machine_io_out(m, 0x40, 0x00, 1);
	machine_io_out(m, 0x40, 0x00, 1);
}
/* Through the bus, so the 8259 and 8254 models know nothing of this: it
 * is what firmware would have written to their ports. :*/
