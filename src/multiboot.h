/*
 * Multiboot (v1): how small kernels, hobby systems and test programs ask to
 * be started, with `qemu -kernel` as everyone's model.  The loader looks for
 * the header before trying Linux; see multiboot.c.
 */
#ifndef LGUEST_MULTIBOOT_H
#define LGUEST_MULTIBOOT_H

#include "boot.h"

#define MULTIBOOT_HEADER_MAGIC	0x1badb002u
#define MULTIBOOT_BOOT_MAGIC	0x2badb002u	/* in EAX at entry */

/* If f carries a Multiboot header, load the image, its modules (one per
 * --initrd) and the information block, fill e (EAX, EBX) and l, and return
 * true.  False if there is no header.  Dies on a header it cannot honour. */
bool multiboot_load(struct guest_mem *mem, const struct boot_args *a,
		    const struct kfile *f, struct boot_entry *e,
		    struct boot_layout *l);

#endif
