/*
 * The Multiboot (v1) loader.
 *
 * A Multiboot image carries, 4-byte aligned in its first 8 KiB, a header:
 * the magic 0x1BADB002, flags, and a checksum that makes the three sum to
 * zero.  Flags 0-15 are demands (a loader that cannot meet one must refuse
 * the image); 16-31 are offers.  We meet 0 (modules page-aligned) and 1
 * (memory information) always, refuse 2 (a video mode: we have no display)
 * and any other demand we do not know, and take 16 (the header's address
 * fields say where to load a flat image) when present; without it the image
 * must be ELF, and its segments go to their physical addresses.
 *
 * The kernel starts in flat 32-bit protected mode, paging off, with
 * EAX = 0x2BADB002 and EBX = the physical address of the information block:
 * memory sizes and an e820-style map of our RAM, the command line (the
 * kernel's own path first, then the user's words, as QEMU passes it), the
 * loader's name, and one module per --initrd, in order, page-aligned above
 * the image, each with its file name as its string.
 *
 * The block goes in low memory, in the first free page above page 0 that
 * the image and modules leave alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "multiboot.h"

#define MB_SEARCH		8192
#define MB_F_PAGE_ALIGN		(1u << 0)
#define MB_F_MEMINFO		(1u << 1)
#define MB_F_VIDEO		(1u << 2)
#define MB_F_ADDRESS		(1u << 16)
#define MB_F_KNOWN_DEMANDS	(MB_F_PAGE_ALIGN | MB_F_MEMINFO)

/* The information block's fields we fill, and its flags for them. */
#define MBI_FLAGS		0
#define MBI_MEM_LOWER		4
#define MBI_MEM_UPPER		8
#define MBI_CMDLINE		16
#define MBI_MODS_COUNT		20
#define MBI_MODS_ADDR		24
#define MBI_MMAP_LENGTH		44
#define MBI_MMAP_ADDR		48
#define MBI_LOADER_NAME		64
#define MBI_SIZE		0x80
#define MBI_HAS_MEM		(1u << 0)
#define MBI_HAS_CMDLINE		(1u << 2)
#define MBI_HAS_MODS		(1u << 3)
#define MBI_HAS_MMAP		(1u << 6)
#define MBI_HAS_LOADER_NAME	(1u << 9)

#define MAX_MODULES		16
#define PAGE			4096u
#define LOW_END			0xa0000u
static const char loader_name[] = "lguest";

static u64 page_up(u64 v)
{
	return (v + PAGE - 1) & ~(u64)(PAGE - 1);
}

/* The header's offset in the file, or -1.  A magic with a bad checksum is
 * an image meant to be Multiboot and broken: refused, not booted as Linux. */
static long find_header(const struct kfile *f)
{
	size_t end = f->size < MB_SEARCH ? f->size : MB_SEARCH, off;

	for (off = 0; off + 12 <= end; off += 4) {
		const u8 *h = f->data + off;

		if (get_le32(h) != MULTIBOOT_HEADER_MAGIC)
			continue;
		if (get_le32(h) + get_le32(h + 4) + get_le32(h + 8) != 0)
			die("kernel %s: the Multiboot header at offset %zu has "
			    "a bad checksum", f->path, off);
		return (long)off;
	}
	return -1;
}

static void check_flags(const struct kfile *f, u32 flags)
{
	u32 unknown = flags & 0xffff & ~MB_F_KNOWN_DEMANDS;

	if (flags & MB_F_VIDEO)
		die("kernel %s asks for a video mode (Multiboot flag 2); "
		    "lguest has no display", f->path);
	if (unknown)
		die("kernel %s makes Multiboot demands lguest does not know "
		    "(flags 0x%x)", f->path, unknown);
}

/* Flag 16: a flat image; the header says where its first byte goes. */
static void load_flat(struct guest_mem *mem, const struct kfile *f, long hoff,
		      struct elf_image *img)
{
	const u8 *h = f->data + hoff;
	u32 header_addr, load, load_end, bss_end, entry;
	u64 file_off, len, end;

	if ((u64)hoff + 32 > f->size)
		die("kernel %s is truncated in its Multiboot header", f->path);
	header_addr = get_le32(h + 12);
	load = get_le32(h + 16);
	load_end = get_le32(h + 20);
	bss_end = get_le32(h + 24);
	entry = get_le32(h + 28);
	if (load > header_addr || header_addr - load > (u64)hoff)
		die("kernel %s: Multiboot load_addr 0x%x does not fit its "
		    "header_addr 0x%x at file offset %ld", f->path, load,
		    header_addr, hoff);
	file_off = (u64)hoff - (header_addr - load);
	len = load_end ? (u64)load_end - load : f->size - file_off;
	if (load_end && load_end < load)
		die("kernel %s: Multiboot load_end_addr 0x%x is below "
		    "load_addr 0x%x", f->path, load_end, load);
	if (file_off + len > f->size)
		die("kernel %s is truncated: Multiboot says %llu bytes to "
		    "load, the file has %llu", f->path,
		    (unsigned long long)len,
		    (unsigned long long)(f->size - file_off));
	end = (u64)load + len;
	if (bss_end) {
		if (bss_end < end)
			die("kernel %s: Multiboot bss_end_addr 0x%x is inside "
			    "the image", f->path, bss_end);
		end = bss_end;
	}
	if (!guest_range_ok(mem, load, end - load))
		die("kernel %s: Multiboot image at 0x%x-0x%llx lies outside "
		    "RAM (0-0x%llx): give more memory", f->path, load,
		    (unsigned long long)end, (unsigned long long)mem->size);
	if (entry < load || entry >= end)
		die("kernel %s: Multiboot entry 0x%x is outside the image "
		    "0x%x-0x%llx", f->path, entry, load,
		    (unsigned long long)end);
	guest_write(mem, load, f->data + file_off, len);
	memset(guest_ptr(mem, load + len, end - load - len), 0,
	       end - load - len);
	img->lo = load;
	img->hi = (u32)end;
	img->entry = entry;
}

/* Modules go page-aligned right above the image, in --initrd order. */
static u64 load_modules(struct guest_mem *mem, const struct boot_args *a,
			u64 at, u32 *start, u32 *end)
{
	int i;

	if (a->ninitrd > MAX_MODULES)
		die("--initrd: at most %d Multiboot modules", MAX_MODULES);
	for (i = 0; i < a->ninitrd; i++) {
		u64 size;
		int fd = boot_open("module", a->initrd[i], &size);

		at = page_up(at);
		if (!guest_range_ok(mem, at, size))
			die("module %s (%llu KiB) does not fit: it would end "
			    "at 0x%llx, RAM at 0x%llx", a->initrd[i],
			    (unsigned long long)(size / 1024),
			    (unsigned long long)(at + size),
			    (unsigned long long)mem->size);
		boot_read("module", a->initrd[i], fd,
			  guest_ptr(mem, at, size), size);
		close(fd);
		start[i] = (u32)at;
		end[i] = (u32)(at + size);
		at += size;
	}
	return at;
}

/* The first page-aligned spot in low memory, above page 0, that holds
 * len bytes and misses [lo, hi). */
static u32 place_info(const struct kfile *f, u64 len, u32 lo, u64 hi)
{
	u64 base;

	for (base = PAGE; base + len <= LOW_END; base += PAGE)
		if (base + len <= lo || base >= hi)
			return (u32)base;
	die("kernel %s: no room below 640 KiB for the Multiboot information "
	    "(%llu bytes) beside the image", f->path, (unsigned long long)len);
}

/* The information block and everything it points to, in one run:
 * block, memory map, module list, loader name, then the strings. */
static u32 write_info(struct guest_mem *mem, const struct boot_args *a,
		      const struct kfile *f, const u32 *ms, const u32 *me,
		      u32 lo, u64 hi, struct boot_layout *l)
{
	u64 len = MBI_SIZE + 3 * 24 + 16 * (u64)a->ninitrd +
		  sizeof(loader_name) + strlen(f->path) + 1 +
		  strlen(a->cmdline) + 1;
	u32 base, mmap, mods, name, str;
	u8 *p;
	int i;

	for (i = 0; i < a->ninitrd; i++)
		len += strlen(a->initrd[i]) + 1;
	base = place_info(f, len, lo, hi);
	p = guest_ptr(mem, base, len);
	memset(p, 0, len);
	mmap = base + MBI_SIZE;
	mods = mmap + 3 * 24;
	name = mods + 16 * (u32)a->ninitrd;
	str = name + sizeof(loader_name);

	put_le32(p + MBI_FLAGS, MBI_HAS_MEM | MBI_HAS_CMDLINE | MBI_HAS_MODS |
	      MBI_HAS_MMAP | MBI_HAS_LOADER_NAME);
	put_le32(p + MBI_MEM_LOWER, LOW_END / 1024);
	put_le32(p + MBI_MEM_UPPER, (u32)((mem->size - MiB) / 1024));
	{
		static const u32 type[] = { 1, 2, 1 };
		u64 from[] = { 0, LOW_END, MiB }, to[] = { LOW_END, MiB,
							    mem->size };

		for (i = 0; i < 3; i++) {
			u8 *m = p + (mmap - base) + 24 * i;

			put_le32(m, 20);	/* size of the rest of the entry */
			put_le64(m + 4, from[i]);
			put_le64(m + 12, to[i] - from[i]);
			put_le32(m + 20, type[i]);
		}
	}
	put_le32(p + MBI_MMAP_LENGTH, 3 * 24);
	put_le32(p + MBI_MMAP_ADDR, mmap);
	memcpy(p + (name - base), loader_name, sizeof(loader_name));
	put_le32(p + MBI_LOADER_NAME, name);

	put_le32(p + MBI_CMDLINE, str);
	str += (u32)sprintf((char *)p + (str - base), "%s%s%s", f->path,
			    *a->cmdline ? " " : "", a->cmdline) + 1;
	l->cmdline = get_le32(p + MBI_CMDLINE);
	l->cmdline_len = str - l->cmdline - 1;

	put_le32(p + MBI_MODS_COUNT, (u32)a->ninitrd);
	put_le32(p + MBI_MODS_ADDR, mods);
	for (i = 0; i < a->ninitrd; i++) {
		u8 *m = p + (mods - base) + 16 * i;

		put_le32(m, ms[i]);
		put_le32(m + 4, me[i]);
		put_le32(m + 8, str);
		str += (u32)sprintf((char *)p + (str - base), "%s",
				    a->initrd[i]) + 1;
	}
	return base;
}

/*L:180
 * Multiboot is how small kernels and test programs ask to be booted, and
 * QEMU's -kernel speaks it; so do we, so that the same image runs under
 * both.  The header's flags 0-15 are demands: a loader that cannot meet
 * one must refuse the image, and we do, by name (a video mode, or a bit we
 * do not know), rather than boot a kernel that expects what is not there.
 * Flags 16-31 are offers; of those we take 16, the address fields that
 * say where a flat image goes.  The modules (one per --initrd) go
 * page-aligned just above the image, and the information block, with the
 * memory map and the strings it points to, in the first low page that
 * neither the image nor the modules use: a kernel linked at 1 MiB leaves
 * all of low memory free, and one linked low is stepped around.
 */
bool multiboot_load(struct guest_mem *mem, const struct boot_args *a,
		    const struct kfile *f, struct boot_entry *e,
		    struct boot_layout *l)
{
	long hoff = find_header(f);
	u32 flags, ms[MAX_MODULES], me[MAX_MODULES];
	struct elf_image img;
	char name[512];
	u64 top;

	if (hoff < 0)
		return false;
	flags = get_le32(f->data + hoff + 4);
	check_flags(f, flags);
	if (flags & MB_F_ADDRESS) {
		load_flat(mem, f, hoff, &img);
		l->format = "Multiboot image (address fields)";
	} else {
		if (f->size < 4 || memcmp(f->data, "\177ELF", 4) != 0)
			die("kernel %s: a Multiboot image without address "
			    "fields (flag 16) must be ELF", f->path);
		snprintf(name, sizeof(name), "kernel %s", f->path);
		boot_load_elf(mem, name, f->data, f->size, 0, &img);
		l->format = "Multiboot ELF";
	}
	top = load_modules(mem, a, img.hi, ms, me);
	l->multiboot = true;
	l->image_start = l->run_start = img.lo;
	l->image_end = l->run_end = img.hi;
	l->nmodules = a->ninitrd;
	if (a->ninitrd) {
		l->initrd_start = ms[0];
		l->initrd_end = me[a->ninitrd - 1];
	}
	l->boot_params = write_info(mem, a, f, ms, me, img.lo, top, l);
	l->e820_entries = 3;
	e->eip = img.entry;
	e->eax = MULTIBOOT_BOOT_MAGIC;
	e->ebx = l->boot_params;
	return true;
}
/* boot_params is Linux's word; for a Multiboot kernel the layout keeps the
 * information block's address there, which --verbose prints. :*/
