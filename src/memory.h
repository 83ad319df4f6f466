/*
 * Guest RAM: one contiguous host mapping of <mem> bytes, guest-physical
 * address 0 at its start.  "Guest physical == launcher virtual with an
 * offset", as the original put it.
 *
 * Everything outside the CPU that touches guest memory (the loader, every
 * device) goes through the helpers below, which check the whole range
 * against the size first.  A guest hands us addresses and lengths; these are
 * the only door through which such a value becomes a host pointer.
 *
 * The mapping has an inaccessible guard page on either side, so a bug that
 * slips past a check faults in the host instead of reading a neighbour.
 */
#ifndef LGUEST_MEMORY_H
#define LGUEST_MEMORY_H

#include "types.h"

/* The smallest guest we accept holds a kernel loaded at 1 MiB. */
#define GUEST_MEM_MIN (2 * MiB)
/* A 32-bit guest: RAM must end below the device window. */
#define GUEST_MEM_MAX (3 * GiB)
/* The window above RAM where PCI BARs and other MMIO live. */
#define GUEST_MMIO_BASE 0xe0000000u
#define GUEST_MMIO_END  0xfec00000u	/* exclusive */

/*M:100
 * The machine's tour starts with guest memory, the one thing every part
 * shares.  Guest-physical address 0 is base[0] of a single host mapping,
 * so a guest address becomes a host pointer by one addition, once a check
 * has said that the whole range lies inside.  The CPU is given base and
 * size once (cpu_new()) and does its own checks, page by page, through its
 * TLB; the loader and every device come through the helpers below.  That
 * is why no device ever holds a guest address it has not checked: the
 * only way to turn one into a pointer is guest_ptr(), and it says NULL. :*/
struct guest_mem {
	u8 *base;	/* host address of guest-physical 0 */
	u64 size;	/* bytes of RAM */
	/* Told of every write to RAM that mem_written() reports: the
	 * machine points it at the CPU, whose translator keeps code made
	 * from RAM (cpu_mem_written()).  NULL: nobody to tell yet. */
	void (*written)(void *opaque, u64 gpa, u64 len);
	void *written_opaque;
};

/* Map size bytes of zeroed RAM (with guard pages).  Returns 0, or -1 with
 * errno set. */
int guest_mem_init(struct guest_mem *m, u64 size);
void guest_mem_free(struct guest_mem *m);

/* True if [gpa, gpa+len) lies wholly inside RAM (no wrap-around). */
bool guest_range_ok(const struct guest_mem *m, u64 gpa, u64 len);

/* Host pointer for [gpa, gpa+len), or NULL if any byte is outside RAM. */
void *guest_ptr(const struct guest_mem *m, u64 gpa, u64 len);

/*M:125
 * The CPU translates guest code into host code and keeps it until the
 * bytes it came from change.  It sees its own writes; every other writer
 * (a device's DMA, the loader) must report what it wrote, through
 * mem_written(), before the guest can learn of the write: for a device,
 * before the used ring says the request is done (V:155).  guest_write()
 * reports by itself; whoever writes through a guest_ptr() pointer calls
 * mem_written() for the range.  Only the part inside RAM is reported. :*/
void mem_written(const struct guest_mem *m, u64 gpa, u64 len);

/* Copy to and from guest memory.  Return 0, or -1 if outside RAM (nothing
 * is copied then).  guest_write() reports the range (mem_written()). */
int guest_read(const struct guest_mem *m, u64 gpa, void *buf, u64 len);
int guest_write(const struct guest_mem *m, u64 gpa, const void *buf, u64 len);

/* Little-endian 32-bit loads and stores.  Return 0, or -1 outside RAM. */
int guest_read32(const struct guest_mem *m, u64 gpa, u32 *val);
int guest_write32(const struct guest_mem *m, u64 gpa, u32 val);

#endif
