/*
 * Guest RAM and the only door into it.
 *
 * The launcher maps <mem> bytes of anonymous memory once; guest-physical
 * address 0 is the first byte of that mapping.  The loader and every device
 * reach the guest's memory through the helpers here, which check the whole
 * range first.  The CPU, which needs speed more than ceremony, gets the raw
 * base and size once (cpu_new) and does its own checks per page.
 *
 * Either side of the mapping sits a page that can never be read or written:
 * if a bug ever slips a pointer past these checks, the host faults there
 * instead of quietly touching its own heap.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memory.h"

#define HUGE_PAGE ((uintptr_t)2 << 20)

static u64 page_size(void)
{
	return (u64)sysconf(_SC_PAGESIZE);
}

static u64 mapped_size(u64 size)
{
	u64 pg = page_size();

	return (size + pg - 1) / pg * pg;
}

/*M:110
 * main() calls guest_mem_init() once, before the kernel is loaded, and the
 * loader then writes the kernel, the initrd and boot_params through the
 * same checked helpers the devices use: a malformed kernel file can no
 * more make the loader write outside RAM than a hostile guest can make a
 * device do it.  RAM starts zeroed, which is all the "BIOS" a guest gets. :*/

/*
 * One reservation for guard + RAM + guard, all inaccessible, then the middle
 * opened up.  MAP_NORESERVE: a 3 GiB guest that only ever touches 100 MiB
 * costs the host about 100 MiB (rounded up to the huge pages below, where
 * the host gives them), and untouched anonymous pages read as zero, which
 * is exactly the state a freshly powered-on PC's RAM is in for our purposes.
 *
 * RAM starts on a 2 MiB boundary and asks for the host's huge pages: a
 * guest's loads land all over its memory (a compressor's hash table, a
 * page cache), and with 4 KiB pages nearly every one of them misses the
 * host's TLB as well as its caches.  The host may say no; then it is
 * only slower.
 */
int guest_mem_init(struct guest_mem *m, u64 size)
{
	u64 pg = page_size();
	u64 len, room;
	u8 *p, *ram;

	m->base = NULL;
	m->size = 0;
	m->written = NULL;
	m->written_opaque = NULL;
	if (size == 0 || size > GUEST_MEM_MAX) {
		errno = EINVAL;
		return -1;
	}
	len = mapped_size(size);
	room = len + 2 * pg + HUGE_PAGE;
	p = mmap(NULL, room, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	ram = (u8 *)(((uintptr_t)p + pg + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
	if (ram - pg > p)
		munmap(p, (size_t)(ram - pg - p));
	if (ram + len + pg < p + room)
		munmap(ram + len + pg, (size_t)(p + room - (ram + len + pg)));
	if (mprotect(ram, len, PROT_READ | PROT_WRITE) != 0) {
		int err = errno;

		munmap(ram - pg, len + 2 * pg);
		errno = err;
		return -1;
	}
	madvise(ram, len, MADV_HUGEPAGE);
	m->base = ram;
	m->size = size;
	return 0;
}

void guest_mem_free(struct guest_mem *m)
{
	u64 pg = page_size();

	if (!m->base)
		return;
	munmap(m->base - pg, mapped_size(m->size) + 2 * pg);
	m->base = NULL;
	m->size = 0;
}

/*M:120
 * Every check of a guest address outside the CPU ends in the line below.
 * The arguments are 64-bit because a virtio descriptor's address is: a
 * 32-bit guest may still write a 64-bit address there, and it must be
 * refused, not truncated into something that happens to fit. :*/
/* Written so that no sum can wrap: a guest may hand us gpa = 0xfffff000 and
 * len = 0x2000 and hope that gpa + len comes out small. */
bool guest_range_ok(const struct guest_mem *m, u64 gpa, u64 len)
{
	return len <= m->size && gpa <= m->size - len;
}

void *guest_ptr(const struct guest_mem *m, u64 gpa, u64 len)
{
	if (!guest_range_ok(m, gpa, len))
		return NULL;
	return m->base + gpa;
}

int guest_read(const struct guest_mem *m, u64 gpa, void *buf, u64 len)
{
	void *p = guest_ptr(m, gpa, len);

	if (!p)
		return -1;
	memcpy(buf, p, len);
	return 0;
}

int guest_write(const struct guest_mem *m, u64 gpa, const void *buf, u64 len)
{
	void *p = guest_ptr(m, gpa, len);

	if (!p)
		return -1;
	memcpy(p, buf, len);
	mem_written(m, gpa, len);
	return 0;
}

void mem_written(const struct guest_mem *m, u64 gpa, u64 len)
{
	if (!m->written || !len || gpa >= m->size)
		return;
	if (len > m->size - gpa)
		len = m->size - gpa;
	m->written(m->written_opaque, gpa, len);
}

/* The guest is little-endian and so is every host we build for; memcpy
 * keeps unaligned addresses legal (and UBSan quiet). */
int guest_read32(const struct guest_mem *m, u64 gpa, u32 *val)
{
	return guest_read(m, gpa, val, sizeof(*val));
}

int guest_write32(const struct guest_mem *m, u64 gpa, u32 val)
{
	return guest_write(m, gpa, &val, sizeof(val));
}
