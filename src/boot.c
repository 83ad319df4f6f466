/*
 * The Linux loader: bzImage or ELF vmlinux in, a guest ready to start out.
 *
 * We use the 32-bit boot protocol (Documentation/arch/x86/boot.rst): no
 * BIOS and no real-mode setup code run.  The loader does what the setup
 * code would have done for the kernel: it fills the "zero page" (struct
 * boot_params) with the setup header copied from the file, the command line,
 * the initrd and an e820 map of our RAM, and enters the protected-mode code
 * with ESI pointing at it, flat segments, paging and interrupts off.
 *
 * Guest-physical memory, as this loader lays it out:
 *
 *	0x00000000	page 0, left zero (no BIOS data, no EBDA)
 *	0x00007000	boot_params (the zero page)
 *	0x00020000	the kernel command line
 *	0x000a0000	640 KiB - 1 MiB: reserved in e820, as on a PC
 *	0x00100000	bzImage: its protected-mode code (1 MiB)
 *	0x01000000	where Debian's kernel unpacks itself and runs (16 MiB)
 *	     ...	free RAM
 *	top - initrd	the initrd, page-aligned, as high as it may go
 *
 * Debian's bzImage carries its vmlinux XZ-compressed.  Unpacking it in the
 * guest costs seconds on a software CPU, so by default we do it here, with
 * liblzma, and load the vmlinux ELF straight where it runs, keeping the
 * bzImage's setup header for boot_params.  The original launcher did the
 * same for the same reason.
 *
 * Header and boot_params fields are read and written by their byte offsets
 * in the protocol document, not through a C struct, so that no compiler
 * packing rule can move them.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot.h"
#include "hw/acpi.h"
#include "multiboot.h"

/* The setup header: the same offsets in the file and in boot_params. */
#define HDR_START		0x1f1
#define HDR_SETUP_SECTS		0x1f1	/* u8 */
#define HDR_SYSSIZE		0x1f4	/* u32, 16-byte units (2.04+) */
#define HDR_BOOT_FLAG		0x1fe	/* u16, 0xaa55 */
#define HDR_JUMP		0x200	/* u16; byte 0x201 gives header end */
#define HDR_MAGIC		0x202	/* "HdrS" */
#define HDR_VERSION		0x206	/* u16 */
#define HDR_TYPE_OF_LOADER	0x210	/* u8 */
#define HDR_LOADFLAGS		0x211	/* u8 */
#define HDR_CODE32_START	0x214	/* u32 */
#define HDR_RAMDISK_IMAGE	0x218	/* u32 */
#define HDR_RAMDISK_SIZE	0x21c	/* u32 */
#define HDR_HEAP_END_PTR	0x224	/* u16 */
#define HDR_CMD_LINE_PTR	0x228	/* u32 (2.02+) */
#define HDR_INITRD_ADDR_MAX	0x22c	/* u32 (2.03+) */
#define HDR_KERNEL_ALIGNMENT	0x230	/* u32 (2.05+) */
#define HDR_RELOCATABLE		0x234	/* u8 (2.05+) */
#define HDR_XLOADFLAGS		0x236	/* u16 (2.12+) */
#define HDR_CMDLINE_SIZE	0x238	/* u32 (2.06+) */
#define HDR_HARDWARE_SUBARCH	0x23c	/* u32 (2.07+) */
#define HDR_PAYLOAD_OFFSET	0x248	/* u32 (2.08+) */
#define HDR_PAYLOAD_LENGTH	0x24c	/* u32 (2.08+) */
#define HDR_PREF_ADDRESS	0x258	/* u64 (2.10+) */
#define HDR_INIT_SIZE		0x260	/* u32 (2.10+) */
#define HDR_LIMIT		0x290	/* boot_params has room up to here */

#define LOADED_HIGH		0x01
#define CAN_USE_HEAP		0x80
#define XLF_KERNEL_64		0x01

/* The rest of boot_params (the "zero page"). */
#define BP_EXT_MEM_K		0x002	/* u16, screen_info */
#define BP_ORIG_VIDEO_ISVGA	0x00f	/* u8, screen_info */
#define BP_ACPI_RSDP_ADDR	0x070	/* u64, protocol 2.14+ */
#define BP_ALT_MEM_K		0x1e0	/* u32 */
#define BP_E820_ENTRIES		0x1e8	/* u8 */
#define BP_E820_TABLE		0x2d0	/* 20-byte entries */
#define BP_SIZE			0x1000

#define E820_RAM		1
#define E820_RESERVED		2

/* No loader id was ever assigned to lguest; 0xff is the protocol's
 * "undefined", which the original launcher used too.  It must be non-zero:
 * the kernel ignores the initrd fields when type_of_loader is 0. */
#define LOADER_TYPE		0xff
/* The setup heap only matters to the real-mode code we never run; we still
 * declare one, the protocol document's usual 0xe000 - 0x200. */
#define HEAP_END_PTR		0xde00

#define LOW_RAM_END		0xa0000u	/* 640 KiB */
#define PAGE_MASK_4K		0xfffu


static u64 align_up(u64 v, u64 a)
{
	return (v + a - 1) / a * a;
}

/* Open a file we are told to load; a directory or a device is a mistake
 * worth naming. */
int boot_open(const char *what, const char *path, u64 *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die_errno("%s %s", what, path);
	if (fstat(fd, &st) != 0)
		die_errno("%s %s", what, path);
	if (S_ISDIR(st.st_mode))
		die("%s %s is a directory", what, path);
	if (!S_ISREG(st.st_mode))
		die("%s %s is not a regular file", what, path);
	if (st.st_size == 0)
		die("%s %s is empty", what, path);
	*size = (u64)st.st_size;
	return fd;
}

void boot_read(const char *what, const char *path, int fd, u8 *buf,
	       u64 size)
{
	u64 done = 0;

	while (done < size) {
		ssize_t n = pread(fd, buf + done, size - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die_errno("%s %s", what, path);
		if (n == 0)
			die("%s %s: shrank while being read", what, path);
		done += (u64)n;
	}
}

static void read_kernel(const char *path, struct kfile *f)
{
	u64 size;
	int fd = boot_open("kernel", path, &size);

	/* Nothing we could boot is bigger than the largest guest. */
	if (size > GUEST_MEM_MAX)
		die("kernel %s is too big to be a kernel (%llu MiB)", path,
		    (unsigned long long)(size / MiB));
	f->path = path;
	f->size = size;
	f->data = malloc(size);
	if (!f->data)
		die("kernel %s: out of memory reading it", path);
	boot_read("kernel", path, fd, f->data, size);
	close(fd);
}

/*
 * ELF: shared by a plain vmlinux and by the vmlinux we unpack from a
 * bzImage, i386 (ELF32) or x86-64 (ELF64).  The two classes differ only
 * in field widths, so their program headers are read into one form
 * first.  Each PT_LOAD goes to its physical address; the file's ranges
 * and the memory ranges are checked before a byte is copied.
 */
struct elf_seg {
	u32 type;
	u64 offset, vaddr, paddr, filesz, memsz;
};

struct elf_file {
	bool is64;
	u64 entry;
	int nseg;
	struct elf_seg *seg;	/* malloc'd */
};

static void elf_check_ident(const char *name, const u8 *d, size_t n)
{
	if (n < SELFMAG || memcmp(d, ELFMAG, SELFMAG) != 0)
		die("%s is not an ELF file", name);
	if (n < EI_NIDENT)
		die("%s is truncated: %zu bytes, shorter than an ELF header",
		    name, n);
	if ((d[EI_CLASS] != ELFCLASS32 && d[EI_CLASS] != ELFCLASS64) ||
	    d[EI_DATA] != ELFDATA2LSB)
		die("%s is not a little-endian ELF file", name);
	if (n < (d[EI_CLASS] == ELFCLASS64 ? sizeof(Elf64_Ehdr) :
					     sizeof(Elf32_Ehdr)))
		die("%s is truncated: %zu bytes, shorter than an ELF header",
		    name, n);
}

/* The header fields we use, of either class, checked. */
static void elf_read(const char *name, const u8 *d, size_t n,
		     struct elf_file *ef)
{
	u64 phoff;
	u16 machine, type, phentsize, phnum;
	int i;

	elf_check_ident(name, d, n);
	ef->is64 = d[EI_CLASS] == ELFCLASS64;
	if (ef->is64) {
		const Elf64_Ehdr *eh = (const Elf64_Ehdr *)d;

		machine = eh->e_machine;
		type = eh->e_type;
		phoff = eh->e_phoff;
		phentsize = eh->e_phentsize;
		phnum = eh->e_phnum;
		ef->entry = eh->e_entry;
	} else {
		const Elf32_Ehdr *eh = (const Elf32_Ehdr *)d;

		machine = eh->e_machine;
		type = eh->e_type;
		phoff = eh->e_phoff;
		phentsize = eh->e_phentsize;
		phnum = eh->e_phnum;
		ef->entry = eh->e_entry;
	}
	if (machine != (ef->is64 ? EM_X86_64 : EM_386))
		die("%s is an ELF file for machine %u, not %s", name, machine,
		    ef->is64 ? "x86-64" : "i386");
	if (type != ET_EXEC)
		die("%s is an ELF file of type %u, not an executable", name,
		    type);
	if (phentsize != (ef->is64 ? sizeof(Elf64_Phdr) :
				     sizeof(Elf32_Phdr)) || phnum == 0)
		die("%s has no usable program headers", name);
	if (phoff + (u64)phnum * phentsize > n)
		die("%s is truncated: its program headers end beyond the file",
		    name);
	ef->nseg = phnum;
	ef->seg = calloc(phnum, sizeof(*ef->seg));
	if (!ef->seg)
		die("%s: out of memory", name);
	for (i = 0; i < phnum; i++) {
		const u8 *p = d + phoff + (u64)i * phentsize;
		struct elf_seg *s = &ef->seg[i];

		if (ef->is64) {
			Elf64_Phdr ph;

			memcpy(&ph, p, sizeof(ph));
			*s = (struct elf_seg){ ph.p_type, ph.p_offset,
				ph.p_vaddr, ph.p_paddr, ph.p_filesz,
				ph.p_memsz };
		} else {
			Elf32_Phdr ph;

			memcpy(&ph, p, sizeof(ph));
			*s = (struct elf_seg){ ph.p_type, ph.p_offset,
				ph.p_vaddr, ph.p_paddr, ph.p_filesz,
				ph.p_memsz };
		}
	}
}

static void elf_check_segment(const struct guest_mem *mem, const char *name,
			      int i, const struct elf_seg *ph, size_t n,
			      u32 min)
{
	u64 end = ph->paddr + ph->memsz;

	if (ph->filesz > ph->memsz)
		die("%s: segment %d has more file bytes than memory", name, i);
	if (ph->offset > n || ph->filesz > n - ph->offset)
		die("%s is truncated: segment %d ends at byte %llu, the file "
		    "at %zu", name, i,
		    (unsigned long long)(ph->offset + ph->filesz), n);
	if (end < ph->paddr || !guest_range_ok(mem, ph->paddr, ph->memsz))
		die("%s: segment %d at 0x%llx-0x%llx lies outside RAM "
		    "(0-0x%llx): give more memory", name, i,
		    (unsigned long long)ph->paddr, (unsigned long long)end,
		    (unsigned long long)mem->size);
	if (ph->paddr < min)
		die("%s: segment %d at 0x%llx lies below 0x%x, where the "
		    "loader keeps the boot information", name, i,
		    (unsigned long long)ph->paddr, min);
}

/* A vmlinux's e_entry is physical (ENTRY(phys_startup_32), or _64), but
 * older kernels and other ELF kernels give the virtual address; the
 * segment that holds it tells us the difference. */
static u32 elf_entry(const char *name, const struct elf_file *ef)
{
	u64 e = ef->entry;
	int i;

	for (i = 0; i < ef->nseg; i++)
		if (ef->seg[i].type == PT_LOAD && e >= ef->seg[i].paddr &&
		    e - ef->seg[i].paddr < ef->seg[i].memsz)
			return (u32)e;
	for (i = 0; i < ef->nseg; i++)
		if (ef->seg[i].type == PT_LOAD && e >= ef->seg[i].vaddr &&
		    e - ef->seg[i].vaddr < ef->seg[i].memsz)
			return (u32)(e - ef->seg[i].vaddr + ef->seg[i].paddr);
	die("%s: entry point 0x%llx is in no loaded segment", name,
	    (unsigned long long)e);
}

/* Where the last loadable segment ends (physical). */
static u64 elf_end(const char *name, const u8 *d, size_t n)
{
	struct elf_file ef;
	u64 end = 0;
	int i;

	elf_read(name, d, n, &ef);
	for (i = 0; i < ef.nseg; i++)
		if (ef.seg[i].type == PT_LOAD &&
		    ef.seg[i].paddr + ef.seg[i].memsz > end)
			end = ef.seg[i].paddr + ef.seg[i].memsz;
	free(ef.seg);
	return end;
}

void boot_load_elf(struct guest_mem *mem, const char *name, const u8 *d,
		   size_t n, u32 min, struct elf_image *img)
{
	struct elf_file ef;
	int i, nload = 0;

	elf_read(name, d, n, &ef);
	img->lo = UINT32_MAX;
	img->hi = 0;
	img->is64 = ef.is64;
	/* Check every segment before copying any. */
	for (i = 0; i < ef.nseg; i++) {
		if (ef.seg[i].type != PT_LOAD || ef.seg[i].memsz == 0)
			continue;
		elf_check_segment(mem, name, i, &ef.seg[i], n, min);
		nload++;
	}
	if (!nload)
		die("%s has no loadable segment", name);
	for (i = 0; i < ef.nseg; i++) {
		const struct elf_seg *ph = &ef.seg[i];
		u8 *dst;

		if (ph->type != PT_LOAD || ph->memsz == 0)
			continue;
		dst = guest_ptr(mem, ph->paddr, ph->memsz);
		memcpy(dst, d + ph->offset, ph->filesz);
		memset(dst + ph->filesz, 0, ph->memsz - ph->filesz);
		if (ph->paddr < img->lo)
			img->lo = (u32)ph->paddr;
		if (ph->paddr + ph->memsz > img->hi)
			img->hi = (u32)(ph->paddr + ph->memsz);
	}
	img->entry = elf_entry(name, &ef);
	free(ef.seg);
}

/*L:160
 * The bzImage's payload, unpacked here, on the host.  A bzImage is a
 * small decompressor with the real kernel, vmlinux, packed inside it; on
 * hardware the decompressor takes a moment, but on our software CPU it
 * would run for seconds of every boot doing nothing a guest needs to see.
 * The original launcher unpacked on the host for a similar reason, and so
 * do we, with liblzma (the standard tool for the job; Debian's kernels are
 * XZ-compressed).  The payload is vmlinux (an ELF file) with the
 * relocation table appended; we load it at its link address, so the
 * relocations are not needed.  The last four bytes of the payload hold the
 * unpacked size, which we only take as a first guess.  Everything the
 * decoder is given comes from the file, so its output is capped and a
 * corrupt stream is one line of error, never a crash.  --no-unpack skips
 * all this and lets the guest's own decompressor run. :*/
#define UNXZ_LIMIT	(512 * MiB)

static u8 *unxz(const char *name, const u8 *in, size_t inlen, size_t *outlen)
{
	lzma_stream s = LZMA_STREAM_INIT;
	size_t cap = get_le32(in + inlen - 4);
	lzma_ret r;
	u8 *out;

	if (cap < MiB || cap > UNXZ_LIMIT)
		cap = 64 * MiB;
	out = malloc(cap);
	if (!out || lzma_stream_decoder(&s, UNXZ_LIMIT, 0) != LZMA_OK)
		die("%s: cannot start the XZ decoder", name);
	s.next_in = in;
	s.avail_in = inlen;
	s.next_out = out;
	s.avail_out = cap;
	while ((r = lzma_code(&s, LZMA_FINISH)) == LZMA_OK) {
		if (s.avail_out)
			continue;
		if (cap * 2 > UNXZ_LIMIT)
			die("%s: the XZ payload unpacks to more than %llu MiB",
			    name, UNXZ_LIMIT / MiB);
		out = realloc(out, cap * 2);
		if (!out)
			die("%s: out of memory unpacking the kernel", name);
		s.next_out = out + cap;
		s.avail_out = cap;
		cap *= 2;
	}
	if (r != LZMA_STREAM_END)
		die("%s: the XZ-compressed kernel inside is corrupt or "
		    "truncated (liblzma error %d)", name, (int)r);
	*outlen = cap - s.avail_out;
	lzma_end(&s);
	return out;
}

/*
 * What a bzImage's header tells us, checked once so that the rest of the
 * loader can trust it.
 */
struct bzimage {
	u16 version;
	u32 setup_size;		/* real-mode part, in the file */
	const u8 *pm;		/* protected-mode part */
	u32 pm_size;
	u32 hdr_end;		/* end of the setup header, file offset */
	u32 cmdline_max;	/* longest command line, without NUL */
	u32 initrd_max;		/* highest byte an initrd may occupy */
	u32 run_start, run_end;	/* where it unpacks itself and runs */
	const u8 *payload;	/* compressed vmlinux, or NULL */
	u32 payload_len;
};

static void bz_check_header(const struct kfile *f, struct bzimage *bz)
{
	const u8 *d = f->data;
	u16 v = get_le16(d + HDR_VERSION);

	bz->version = v;
	if (v < 0x202)
		die("kernel %s: boot protocol %u.%02u is too old; lguest "
		    "needs 2.02 or later", f->path, v >> 8, v & 0xff);
	if (get_le16(d + HDR_BOOT_FLAG) != 0xaa55)
		die("kernel %s: the setup header has no 0xAA55 boot flag",
		    f->path);
	if (!(d[HDR_LOADFLAGS] & LOADED_HIGH))
		die("kernel %s is a zImage (loaded low); lguest boots only "
		    "bzImages", f->path);
	bz->hdr_end = 0x202 + d[HDR_JUMP + 1];
	if (bz->hdr_end > HDR_LIMIT)
		bz->hdr_end = HDR_LIMIT;
	bz->cmdline_max = v >= 0x206 ? get_le32(d + HDR_CMDLINE_SIZE) : 255;
	bz->initrd_max = v >= 0x203 ? get_le32(d + HDR_INITRD_ADDR_MAX)
				    : 0x37ffffff;
}

static void bz_check_sizes(const struct kfile *f, struct bzimage *bz)
{
	const u8 *d = f->data;
	u32 sects = d[HDR_SETUP_SECTS] ? d[HDR_SETUP_SECTS] : 4;
	u64 sys;

	bz->setup_size = (sects + 1) * 512;
	if (f->size <= bz->setup_size)
		die("kernel %s is truncated: %zu bytes, less than its %u-byte "
		    "setup code", f->path, f->size, bz->setup_size);
	bz->pm = d + bz->setup_size;
	bz->pm_size = (u32)(f->size - bz->setup_size);
	sys = bz->version >= 0x204 ? (u64)get_le32(d + HDR_SYSSIZE) * 16 : 0;
	if (sys > bz->pm_size)
		die("kernel %s is truncated: its header promises %llu bytes of "
		    "protected-mode code, the file holds %u", f->path,
		    (unsigned long long)sys, bz->pm_size);
	bz->payload = NULL;
	bz->payload_len = 0;
	if (bz->version >= 0x208) {
		u64 off = get_le32(d + HDR_PAYLOAD_OFFSET);
		u64 len = get_le32(d + HDR_PAYLOAD_LENGTH);

		if (off + len > bz->pm_size)
			die("kernel %s is truncated: its compressed kernel "
			    "ends beyond the file", f->path);
		bz->payload = bz->pm + off;
		bz->payload_len = (u32)len;
	}
}

/* A relocatable 32-bit kernel unpacks itself at its load address rounded
 * up to kernel_alignment, but never below pref_address (its
 * LOAD_PHYSICAL_ADDR); a fixed one at pref_address.  It needs init_size
 * bytes there.  Before 2.10 the header says neither: guess 1 MiB and four
 * times the image. */
static void bz_run_area(const struct kfile *f, struct bzimage *bz)
{
	const u8 *d = f->data;
	u64 start = BOOT_KERNEL_ADDR, size = (u64)bz->pm_size * 4;

	if (bz->version >= 0x20a) {
		u64 pref = get_le64(d + HDR_PREF_ADDRESS);
		u32 align = get_le32(d + HDR_KERNEL_ALIGNMENT);

		size = get_le32(d + HDR_INIT_SIZE);
		start = pref;
		if (d[HDR_RELOCATABLE] && align && !(align & (align - 1)) &&
		    align_up(BOOT_KERNEL_ADDR, align) > pref)
			start = align_up(BOOT_KERNEL_ADDR, align);
	}
	if (start + size > UINT32_MAX)
		die("kernel %s wants to run at 0x%llx, beyond 4 GiB", f->path,
		    (unsigned long long)start);
	bz->run_start = (u32)start;
	bz->run_end = (u32)(start + size);
}

static void need_ram(const struct guest_mem *mem, const char *path, u64 end,
		     const char *why)
{
	if (end > mem->size)
		die("kernel %s %s up to 0x%llx: give at least %llu MiB of "
		    "memory", path, why, (unsigned long long)end,
		    (unsigned long long)(align_up(end, MiB) / MiB));
}

static bool is_xz(const u8 *p, u32 len)
{
	return p && len >= 12 && memcmp(p, "\xfd" "7zXZ", 6) == 0;
}

/*L:165
 * An x86-64 kernel unpacked on the host is entered the way the 64-bit
 * boot protocol says (and Firecracker does): already in long mode, at
 * vmlinux's startup_64, with page tables that map the kernel one to one
 * and a GDT whose 0x10 is 64-bit code and 0x18 data.  We map the whole
 * first 4 GiB with 2 MiB pages; the kernel builds its own tables at once.
 :*/
static void long_mode_tables(struct guest_mem *mem, struct boot_entry *e)
{
	static const u64 gdt[4] = {
		0, 0, 0x00af9a000000ffffull, 0x00cf92000000ffffull,
	};
	u8 *pt = guest_ptr(mem, BOOT_PML4_ADDR, BOOT_PT_END - BOOT_PML4_ADDR);
	u32 pdpt = BOOT_PML4_ADDR + 0x1000, pd = pdpt + 0x1000;
	int i;

	memset(pt, 0, BOOT_PT_END - BOOT_PML4_ADDR);
	put_le64(pt, pdpt | 3);				/* P, W */
	for (i = 0; i < 4; i++)
		put_le64(pt + 0x1000 + 8 * i, (pd + 0x1000u * i) | 3);
	for (i = 0; i < 4 * 512; i++)
		put_le64(pt + 0x2000 + 8 * i, ((u64)i << 21) | 0x83);
	guest_write(mem, BOOT_GDT_ADDR, gdt, sizeof(gdt));
	e->long64 = true;
}

/* Host-side unpacking: the vmlinux inside goes where it runs. */
static void bz_unpack(struct guest_mem *mem, const struct kfile *f,
		      const struct bzimage *bz, struct boot_entry *e,
		      struct boot_layout *l)
{
	struct elf_image img;
	size_t n;
	u8 *elf = unxz(f->path, bz->payload, bz->payload_len, &n);
	char name[512];

	snprintf(name, sizeof(name), "kernel %s (unpacked)", f->path);
	if (n < SELFMAG || memcmp(elf, ELFMAG, SELFMAG) != 0)
		die("%s is not an ELF vmlinux; try --no-unpack", name);
	/* Say "give more memory", and how much, before the per-segment
	 * check would say it less helpfully. */
	need_ram(mem, f->path, elf_end(name, elf, n), "runs");
	boot_load_elf(mem, name, elf, n, BOOT_KERNEL_ADDR, &img);
	free(elf);
	e->eip = img.entry;
	if (img.is64)
		long_mode_tables(mem, e);
	l->format = "bzImage, unpacked on the host";
	l->image_start = l->run_start = img.lo;
	l->image_end = l->run_end = img.hi;
}

static void bz_place(struct guest_mem *mem, const struct kfile *f,
		     const struct bzimage *bz, struct boot_entry *e,
		     struct boot_layout *l)
{
	need_ram(mem, f->path, (u64)BOOT_KERNEL_ADDR + bz->pm_size, "loads");
	need_ram(mem, f->path, bz->run_end, "unpacks itself and runs");
	guest_write(mem, BOOT_KERNEL_ADDR, bz->pm, bz->pm_size);
	e->eip = BOOT_KERNEL_ADDR;
	l->format = "bzImage";
	l->image_start = BOOT_KERNEL_ADDR;
	l->image_end = BOOT_KERNEL_ADDR + bz->pm_size;
	l->run_start = bz->run_start;
	l->run_end = bz->run_end;
}

/* boot_params starts as the file's setup header in a zeroed page, as the
 * protocol asks; the fields a loader owns are then filled in. */
static u8 *boot_params_init(struct guest_mem *mem, const u8 *hdr, u32 hdr_end)
{
	u8 *bp = guest_ptr(mem, BOOT_PARAMS_ADDR, BP_SIZE);

	memset(bp, 0, BP_SIZE);
	memcpy(bp + HDR_START, hdr + HDR_START, hdr_end - HDR_START);
	return bp;
}

/* The e820 map: a PC's, sized to our RAM.  The MMIO window above RAM is
 * left out, as a gap, which is where Linux looks for room for PCI. */
static int fill_e820(u8 *bp, u64 mem)
{
	static const u32 types[] = { E820_RAM, E820_RESERVED, E820_RAM };
	u64 starts[] = { 0, LOW_RAM_END, BOOT_KERNEL_ADDR };
	u64 ends[] = { LOW_RAM_END, BOOT_KERNEL_ADDR, mem };
	int i;

	for (i = 0; i < 3; i++) {
		u8 *ent = bp + BP_E820_TABLE + 20 * i;

		put_le64(ent, starts[i]);
		put_le64(ent + 8, ends[i] - starts[i]);
		put_le32(ent + 16, types[i]);
	}
	bp[BP_E820_ENTRIES] = 3;
	put_le32(bp + BP_ALT_MEM_K, (u32)((mem - MiB) / KiB));
	put_le16(bp + BP_EXT_MEM_K, (mem - MiB) / KiB > 0xfc00 ? 0xfc00 :
	      (u16)((mem - MiB) / KiB));
	return 3;
}

static void fill_loader_fields(u8 *bp)
{
	bp[HDR_TYPE_OF_LOADER] = LOADER_TYPE;
	bp[HDR_LOADFLAGS] |= LOADED_HIGH | CAN_USE_HEAP;
	put_le16(bp + HDR_HEAP_END_PTR, HEAP_END_PTR);
	put_le32(bp + HDR_CODE32_START, BOOT_KERNEL_ADDR);
	put_le32(bp + HDR_HARDWARE_SUBARCH, 0);	/* a plain PC */
	/* No VGA: with no lines or columns Linux falls back to the dummy
	 * console, and the serial console does the talking. */
	bp[BP_ORIG_VIDEO_ISVGA] = 0;
	/* The platform's ACPI tables (src/hw/acpi.c) are there: the kernel
	 * need not scan for them, though it would find them. */
	put_le64(bp + BP_ACPI_RSDP_ADDR, ACPI_RSDP_ADDR);
}

/* Whether the user's own words (those before a " -- ", which Linux hands
 * to init) hold an argument starting with key. */
static bool user_gave(const char *user, const char *key)
{
	const char *p = user;

	while (*p) {
		while (*p == ' ')
			p++;
		if (strncmp(p, key, strlen(key)) == 0)
			return true;
		if (strncmp(p, "-- ", 3) == 0 || strcmp(p, "--") == 0)
			break;
		p += strcspn(p, " ");
	}
	return false;
}

bool linux_console_is_hvc0(const char *user)
{
	const char *p = user, *last = NULL;

	while (*p) {
		while (*p == ' ')
			p++;
		if (strncmp(p, "console=", 8) == 0)
			last = p + 8;
		if (strncmp(p, "-- ", 3) == 0 || strcmp(p, "--") == 0)
			break;
		p += strcspn(p, " ");
	}
	return last && strncmp(last, "hvc0", 4) == 0 &&
	       (last[4] == '\0' || last[4] == ' ' || last[4] == ',');
}

/*L:175
 * The kernel's command line is the user's words with two defaults of
 * ours, each left out when the user gave that argument.  console=ttyS0:
 * the serial port is the user's terminal (D:150); without it Linux would
 * talk only to its dummy console, since we have no screen (see
 * fill_loader_fields()), and the user would see nothing.  panic=-1: a
 * panicking kernel reboots at once, through the i8042 reset line
 * (D:180), and lguest ends (a reset's status, or with --exit-port a
 * panic's, M:155) instead of sitting on a dead guest forever.  Our defaults go in front, so that they stay before any
 * " -- " (after it, they would be init's arguments, not the kernel's). :*/
char *linux_cmdline(const char *user)
{
	const char *console = user_gave(user, "console=") ? "" :
			      "console=ttyS0 ";
	const char *panic = user_gave(user, "panic=") ? "" : "panic=-1 ";
	size_t len;
	char *s;

	if (asprintf(&s, "%s%s%s", console, panic, user) < 0)
		abort();
	len = strlen(s);
	if (len && s[len - 1] == ' ' && !*user)
		s[len - 1] = '\0';
	return s;
}

/* With --exit-port a panic needs its own status, and reboot=panic_warm is
 * how the machine tells one from a reset (M:155); the user's own reboot=
 * wins, and then a panic is a reset as without the option. */
static char *cmdline_with_mark(const char *user, bool mark,
			       struct boot_layout *l)
{
	char *s;

	if (!mark || user_gave(user, "reboot="))
		return linux_cmdline(user);
	if (asprintf(&s, "reboot=panic_warm%s%s", *user ? " " : "", user) < 0)
		abort();
	l->panic_mark = true;
	user = s;
	s = linux_cmdline(user);
	free((char *)user);
	return s;
}

static void put_cmdline(struct guest_mem *mem, u8 *bp,
			const struct linux_args *a, u32 max,
			struct boot_layout *l)
{
	char *cmd = cmdline_with_mark(a->cmdline, a->mark_panic, l);
	const char *path = a->kernel;
	size_t len = strlen(cmd);

	if (max > BOOT_CMDLINE_MAX - 1)
		max = BOOT_CMDLINE_MAX - 1;
	if (len > max)
		die("kernel command line is %zu bytes; kernel %s takes at "
		    "most %u", len, path, max);
	guest_write(mem, BOOT_CMDLINE_ADDR, cmd, len + 1);
	put_le32(bp + HDR_CMD_LINE_PTR, BOOT_CMDLINE_ADDR);
	l->cmdline = BOOT_CMDLINE_ADDR;
	l->cmdline_len = (u32)len;
	free(cmd);
}

/*L:170
 * The initrd goes as high as it may: page-aligned, below both the top of
 * RAM and the kernel's initrd_addr_max, and above everything the kernel
 * will use, which for a bzImage includes the area it unpacks itself into.
 * High, because the kernel's early allocations grow up from its own end:
 * an initrd placed low would be in their way.  It is read straight from
 * the file into guest RAM through a checked pointer, and only its address
 * and size go into boot_params; the kernel finds it there. :*/
static void put_initrd(struct guest_mem *mem, u8 *bp, const char *path,
		       u32 initrd_max, u32 kernel_end, struct boot_layout *l)
{
	u64 size, ceiling = (u64)initrd_max + 1, start;
	int fd = boot_open("initrd", path, &size);

	if (ceiling > mem->size)
		ceiling = mem->size;
	start = size < ceiling ? (ceiling - size) & ~(u64)PAGE_MASK_4K : 0;
	if (size > ceiling || start < kernel_end)
		die("initrd %s (%llu KiB) does not fit between the kernel's "
		    "end at 0x%x and 0x%llx: give more memory", path,
		    (unsigned long long)(size / KiB), kernel_end,
		    (unsigned long long)ceiling);
	boot_read("initrd", path, fd, guest_ptr(mem, start, size), size);
	close(fd);
	put_le32(bp + HDR_RAMDISK_IMAGE, (u32)start);
	put_le32(bp + HDR_RAMDISK_SIZE, (u32)size);
	l->initrd_start = (u32)start;
	l->initrd_end = (u32)(start + size);
}

/* Common tail of both formats: boot_params, command line, initrd, e820. */
static void finish_linux(struct guest_mem *mem, const struct linux_args *a,
			 u8 *bp, u32 cmdline_max, u32 initrd_max,
			 struct boot_entry *e, struct boot_layout *l)
{
	u32 end = l->image_end > l->run_end ? l->image_end : l->run_end;

	fill_loader_fields(bp);
	put_cmdline(mem, bp, a, cmdline_max, l);
	if (a->initrd)
		put_initrd(mem, bp, a->initrd, initrd_max,
			   (u32)align_up(end, 4096), l);
	l->e820_entries = fill_e820(bp, mem->size);
	l->boot_params = BOOT_PARAMS_ADDR;
	e->esi = BOOT_PARAMS_ADDR;
}

static void boot_bzimage(struct guest_mem *mem, const struct linux_args *a,
			 const struct kfile *f, struct boot_entry *e,
			 struct boot_layout *l)
{
	struct bzimage bz;
	u8 *bp;

	bz_check_header(f, &bz);
	bz_check_sizes(f, &bz);
	bz_run_area(f, &bz);
	if (a->unpack && is_xz(bz.payload, bz.payload_len))
		bz_unpack(mem, f, &bz, e, l);
	else
		bz_place(mem, f, &bz, e, l);
	l->protocol = bz.version;
	bp = boot_params_init(mem, f->data, bz.hdr_end);
	finish_linux(mem, a, bp, bz.cmdline_max, bz.initrd_max, e, l);
}

/* A vmlinux has no setup header of its own: we write the one a bzImage of
 * its day would have carried, enough for the kernel to find its command
 * line and initrd. */
static void boot_vmlinux(struct guest_mem *mem, const struct linux_args *a,
			 const struct kfile *f, struct boot_entry *e,
			 struct boot_layout *l)
{
	u8 hdr[HDR_LIMIT] = { 0 };
	struct elf_image img;
	char name[512];
	u8 *bp;

	snprintf(name, sizeof(name), "kernel %s", f->path);
	boot_load_elf(mem, name, f->data, f->size, BOOT_KERNEL_ADDR, &img);
	e->eip = img.entry;
	if (img.is64)
		long_mode_tables(mem, e);
	l->format = img.is64 ? "ELF64 vmlinux" : "ELF vmlinux";
	l->protocol = 0;
	l->image_start = l->run_start = img.lo;
	l->image_end = l->run_end = img.hi;

	put_le16(hdr + HDR_BOOT_FLAG, 0xaa55);
	memcpy(hdr + HDR_MAGIC, "HdrS", 4);
	put_le16(hdr + HDR_VERSION, 0x20f);
	hdr[HDR_LOADFLAGS] = LOADED_HIGH;
	put_le32(hdr + HDR_INITRD_ADDR_MAX, 0x37ffffff);
	put_le32(hdr + HDR_CMDLINE_SIZE, 2047);
	bp = boot_params_init(mem, hdr, HDR_LIMIT);
	finish_linux(mem, a, bp, 2047, 0x37ffffff, e, l);
}

static void linux_file(struct guest_mem *mem, const struct linux_args *a,
		       const struct kfile *fp, struct boot_entry *e,
		       struct boot_layout *l)
{
	struct kfile f = *fp;

	if (f.size >= HDR_MAGIC + 4 &&
	    memcmp(f.data + HDR_MAGIC, "HdrS", 4) == 0) {
		if (f.size < HDR_LIMIT)
			die("kernel %s is truncated: %zu bytes, shorter than "
			    "its setup header", f.path, f.size);
		boot_bzimage(mem, a, &f, e, l);
	} else if (f.size >= SELFMAG && memcmp(f.data, ELFMAG, SELFMAG) == 0) {
		boot_vmlinux(mem, a, &f, e, l);
	} else if (f.size < HDR_MAGIC + 4 && f.size >= 2 &&
		   memcmp(f.data, "MZ", 2) == 0) {
		die("kernel %s is truncated: %zu bytes, too short for a "
		    "bzImage header", f.path, f.size);
	} else {
		die("kernel %s is neither a bzImage nor an ELF32 i386 kernel",
		    f.path);
	}
}

void boot_linux(struct guest_mem *mem, const struct linux_args *a,
		struct boot_entry *e, struct boot_layout *l)
{
	struct kfile f;

	memset(e, 0, sizeof(*e));
	memset(l, 0, sizeof(*l));
	read_kernel(a->kernel, &f);
	linux_file(mem, a, &f, e, l);
	free(f.data);
}

/*L:150
 * The loader's front door.  The kernel file is read whole, then tried as
 * each format in turn, most particular first: a Multiboot header in the
 * first 8 KiB (L:180) wins, because a Multiboot kernel may well be an ELF
 * file too; then a Linux bzImage, known by "HdrS" at 0x202 in its setup
 * header; then a bare ELF vmlinux, for which we write the setup header a
 * bzImage would have carried.  A Linux kernel takes one initrd; several
 * are Multiboot modules, and refused for Linux rather than silently
 * dropped.  Every size and offset in the file is checked before it is
 * used: a kernel file is the user's input, and a broken one ends in one
 * line of error, not in a write outside guest RAM.
 */
void boot_kernel(struct guest_mem *mem, const struct boot_args *a,
		 struct boot_entry *e, struct boot_layout *l)
{
	struct linux_args la = {
		.kernel = a->kernel,
		.initrd = a->ninitrd ? a->initrd[0] : NULL,
		.cmdline = a->cmdline,
		.unpack = a->unpack,
		.mark_panic = a->mark_panic,
	};
	struct kfile f;

	memset(e, 0, sizeof(*e));
	memset(l, 0, sizeof(*l));
	read_kernel(a->kernel, &f);
	if (!multiboot_load(mem, a, &f, e, l)) {
		if (a->ninitrd > 1)
			die("--initrd: a Linux kernel takes one initrd, %d "
			    "were given", a->ninitrd);
		linux_file(mem, &la, &f, e, l);
	}
	free(f.data);
	/* What the loader wrote through guest_ptr(), reported in one go
	 * (M:125): no code has been translated yet, but no writer is
	 * exempt. */
	mem_written(mem, 0, mem->size);
}
/* The file's copy is freed: from here on the kernel lives only in guest
 * RAM, and `lguest --verbose` prints where each part of it went. :*/

void boot_print_layout(const struct guest_mem *mem,
		       const struct boot_layout *l)
{
	verbose("guest RAM 0x00000000-0x%08llx (%llu MiB) at host %p",
		(unsigned long long)mem->size,
		(unsigned long long)(mem->size / MiB), (void *)mem->base);
	if (l->protocol)
		verbose("kernel: %s, boot protocol %u.%02u", l->format,
			l->protocol >> 8, l->protocol & 0xff);
	else
		verbose("kernel: %s", l->format);
	verbose("kernel loaded at 0x%08x-0x%08x", l->image_start,
		l->image_end);
	if (l->run_start != l->image_start || l->run_end != l->image_end)
		verbose("kernel unpacks and runs at 0x%08x-0x%08x",
			l->run_start, l->run_end);
	if (l->initrd_end && l->multiboot)
		verbose("%d modules at 0x%08x-0x%08x", l->nmodules,
			l->initrd_start, l->initrd_end);
	else if (l->initrd_end)
		verbose("initrd at 0x%08x-0x%08x (%u KiB)", l->initrd_start,
			l->initrd_end, (l->initrd_end - l->initrd_start) / 1024);
	if (l->multiboot)
		verbose("Multiboot info at 0x%08x, memory map entries %d",
			l->boot_params, l->e820_entries);
	else
		verbose("boot_params at 0x%08x, e820 entries %d",
			l->boot_params, l->e820_entries);
	verbose("command line at 0x%08x (%u bytes): %s", l->cmdline,
		l->cmdline_len,
		(const char *)guest_ptr(mem, l->cmdline, l->cmdline_len + 1));
	verbose("device window 0x%08x-0x%08x", GUEST_MMIO_BASE,
		GUEST_MMIO_END - 1);
}
