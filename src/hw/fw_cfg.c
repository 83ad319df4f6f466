/*
 * QEMU's firmware configuration interface (fw_cfg), its I/O-port form, as
 * far as kvm-unit-tests reads it (see fw_cfg.h).
 *
 * A guest selects an item by writing its 16-bit key to port 0x510, then
 * reads the item's bytes one at a time from port 0x511; selecting starts
 * over at the first byte, and bytes past an item's end, or of an item we
 * do not have, read as 0.  We have the few items that describe the
 * machine: the "QEMU" signature, the interface revision (1: no DMA), the
 * RAM size and the number of CPUs.  Everything else a real QEMU offers
 * (the kernel, ACPI tables, the file directory) is absent.
 */
#include <stdlib.h>
#include <string.h>

#include "fw_cfg.h"

#define FW_CFG_SIGNATURE	0x00
#define FW_CFG_ID		0x01
#define FW_CFG_RAM_SIZE		0x03
#define FW_CFG_NB_CPUS		0x05
#define FW_CFG_MAX_CPUS		0x0f

#define ITEM_MAX 8		/* the longest item's bytes */

struct fw_cfg {
	u64 ram_size;
	u8 item[ITEM_MAX];	/* the selected item, as the guest reads it */
	unsigned len, pos;
};

static void put_le(u8 *p, u64 v, unsigned len)
{
	unsigned i;

	for (i = 0; i < len; i++)
		p[i] = (u8)(v >> (8 * i));
}

static void fw_cfg_select(struct fw_cfg *f, u16 key)
{
	memset(f->item, 0, sizeof(f->item));
	f->pos = 0;
	f->len = 0;
	switch (key) {
	case FW_CFG_SIGNATURE:
		memcpy(f->item, "QEMU", 4);
		f->len = 4;
		break;
	case FW_CFG_ID:
		put_le(f->item, 1, 4);	/* the port interface, no DMA */
		f->len = 4;
		break;
	case FW_CFG_RAM_SIZE:
		put_le(f->item, f->ram_size, 8);
		f->len = 8;
		break;
	case FW_CFG_NB_CPUS:
	case FW_CFG_MAX_CPUS:
		put_le(f->item, 1, 2);
		f->len = 2;
		break;
	}
}

/* Every read takes the next byte of the item, whatever its size: the
 * interface is a byte stream. */
static u32 fw_cfg_read(void *opaque, u16 port, int size)
{
	struct fw_cfg *f = opaque;

	(void)port;
	(void)size;
	if (f->pos >= f->len)
		return 0;
	return f->item[f->pos++];
}

/*D:197
 * kvm-unit-tests' start-up code asks QEMU's firmware interface, fw_cfg,
 * how many CPUs to wait for; with no answer (a port that reads all ones)
 * it would wait for 65535 processors that never come.  So --exit-port
 * brings a small fw_cfg too: the port form (select at 0x510, read bytes
 * at 0x511) with the signature, the RAM size and one CPU, and nothing
 * else of what QEMU keeps there.
 */
static void fw_cfg_write(void *opaque, u16 port, u32 val, int size)
{
	struct fw_cfg *f = opaque;

	/* A 16-bit write selects; a byte written to the data port is
	 * ignored, as by QEMU since writes through it were retired. */
	if (port == FW_CFG_PORT && size == 2)
		fw_cfg_select(f, (u16)val);
}
/* Reads take the selected item's next byte; past its end, or for an item
 * we do not have, they give 0, as QEMU's do. :*/

void fw_cfg_init(struct machine *m)
{
	struct fw_cfg *f = calloc(1, sizeof(*f));

	if (!f)
		die("out of memory");
	f->ram_size = machine_mem(m)->size;
	machine_add_ports(m, FW_CFG_PORT, 2, f, fw_cfg_read, fw_cfg_write);
	machine_add_cleanup(m, free, f);
}
