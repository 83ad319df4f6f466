/*
 * Unit tests for the Multiboot loader (src/multiboot.c), through
 * boot_kernel() as main() calls it: the ELF and flat (address-field) test
 * kernels built by rules.mk are loaded and the information block read back
 * field by field; broken headers, images outside RAM and modules that do
 * not fit are each refused, in a child, with status 1 and one line.
 */
#include <stdlib.h>
#include <string.h>
#include <elf.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot.h"
#include "memory.h"
#include "expect_die.h"
#include "files.h"
#include "tap.h"


static void load_boot_kernel(struct guest_mem *m, const void *arg)
{
	struct boot_entry e;
	struct boot_layout l;

	boot_kernel(m, arg, &e, &l);
}

static void expect_die(const char *what, const struct boot_args *a, u64 mem,
		       const char *needle)
{
	expect_die_loading(what, load_boot_kernel, a, mem, needle);
}

static size_t header_at(const u8 *d, size_t len)
{
	size_t off;

	for (off = 0; off + 4 <= len && off < 8192; off += 4)
		if (get_le32(d + off) == 0x1badb002)
			return off;
	abort();
}

/* Set a header field and keep the checksum right. */
static void set_flags(u8 *h, u32 flags)
{
	put_le32(h + 4, flags);
	put_le32(h + 8, -(0x1badb002u + flags));
}

static void check_info(const struct guest_mem *m, const struct boot_entry *e,
		       const struct boot_layout *l, const char *what,
		       const char *cmdline, const char *const *mods,
		       const u8 *const *data, const size_t *sizes, int nmods)
{
	const u8 *mbi = guest_ptr(m, e->ebx, 0x80), *map, *mod;
	int i;
	bool mods_ok = true;

	ok(e->eax == 0x2badb002 && e->ebx >= 0x1000 && e->ebx < 0xa0000 &&
	   (e->ebx + 0x80 <= l->image_start || e->ebx >= l->image_end),
	   "%s: EAX magic, EBX 0x%x in low memory, clear of the image", what,
	   e->ebx);
	ok(get_le32(mbi) == 0x24d, "%s: flags mem|cmdline|mods|mmap|name", what);
	ok(get_le32(mbi + 4) == 640 && get_le32(mbi + 8) == (m->size - MiB) / 1024,
	   "%s: mem_lower 640, mem_upper %llu KiB", what,
	   (unsigned long long)(m->size - MiB) / 1024);
	ok(!strcmp(guest_ptr(m, get_le32(mbi + 16), strlen(cmdline) + 1), cmdline),
	   "%s: command line \"%s\"", what, cmdline);
	ok(!strcmp(guest_ptr(m, get_le32(mbi + 64), 7), "lguest"),
	   "%s: boot loader name", what);
	map = guest_ptr(m, get_le32(mbi + 48), 72);
	ok(get_le32(mbi + 44) == 72 && map &&
	   get_le32(map) == 20 && get_le64(map + 4) == 0 &&
	   get_le64(map + 12) == 0xa0000 &&
	   get_le32(map + 20) == 1 && get_le64(map + 28) == 0xa0000 &&
	   get_le32(map + 44) == 2 && get_le64(map + 52) == MiB &&
	   get_le64(map + 60) == m->size - MiB && get_le32(map + 68) == 1,
	   "%s: memory map of 3 entries matches RAM", what);
	ok(get_le32(mbi + 20) == (u32)nmods, "%s: %d modules", what, nmods);
	mod = guest_ptr(m, get_le32(mbi + 24), 16 * (u64)nmods);
	for (i = 0; i < nmods && mod; i++) {
		const u8 *ent = mod + 16 * i;
		u32 start = get_le32(ent), end = get_le32(ent + 4);

		if ((start & 0xfff) || end - start != sizes[i] ||
		    start < l->image_end ||
		    (i && start < get_le32(ent - 12)) ||
		    memcmp(guest_ptr(m, start, sizes[i]), data[i], sizes[i]) ||
		    strcmp(guest_ptr(m, get_le32(ent + 8), strlen(mods[i]) + 1),
			   mods[i]))
			mods_ok = false;
	}
	ok(mod && mods_ok,
	   "%s: modules page-aligned above the image, in order, with their "
	   "names", what);
}

static void test_good(const char *elf, const char *flat)
{
	static const u8 m0[] = "MOD0 first module", m1[] = "second";
	const u8 *const data[] = { m0, m1 };
	const size_t sizes[] = { sizeof(m0), sizeof(m1) };
	const char *mods[2];
	struct boot_args a = { .cmdline = "a b", .unpack = true };
	struct guest_mem m;
	struct boot_entry e;
	struct boot_layout l;
	char cmd[512];
	size_t len;
	u8 *img = slurp(flat, &len);
	size_t h;

	if (!img)
		abort();
	h = header_at(img, len);

	mods[0] = put_file("mod0", m0, sizeof(m0));
	mods[1] = put_file("mod1", m1, sizeof(m1));
	a.initrd = mods;
	a.ninitrd = 2;

	a.kernel = elf;
	guest_mem_init(&m, 8 * MiB);
	memset(m.base, 0xee, m.size);
	boot_kernel(&m, &a, &e, &l);
	snprintf(cmd, sizeof(cmd), "%s a b", elf);
	ok(l.multiboot && !strcmp(l.format, "Multiboot ELF") &&
	   l.image_start == 0x100000 && e.eip > 0x100000 && e.eip < l.image_end,
	   "Multiboot ELF at 1 MiB, entry 0x%x", e.eip);
	ok(*(u8 *)guest_ptr(&m, l.image_end - 1, 1) == 0,
	   "Multiboot ELF: bss zeroed");
	check_info(&m, &e, &l, "Multiboot ELF", cmd, mods, data, sizes, 2);
	guest_mem_free(&m);

	a.kernel = flat;
	guest_mem_init(&m, 8 * MiB);
	memset(m.base, 0xee, m.size);
	boot_kernel(&m, &a, &e, &l);
	snprintf(cmd, sizeof(cmd), "%s a b", flat);
	ok(!strcmp(l.format, "Multiboot image (address fields)") &&
	   e.eip == get_le32(img + h + 28) &&
	   l.image_start == get_le32(img + h + 16) &&
	   l.image_end == get_le32(img + h + 24) &&
	   !memcmp(guest_ptr(&m, l.image_start, len), img, len),
	   "Multiboot flat image loaded at load_addr 0x%x, entry 0x%x",
	   l.image_start, e.eip);
	ok(*(u8 *)guest_ptr(&m, l.image_start + len, 1) == 0 &&
	   *(u8 *)guest_ptr(&m, l.image_end - 1, 1) == 0,
	   "Multiboot flat image: bss_end_addr range zeroed");
	check_info(&m, &e, &l, "Multiboot flat", cmd, mods, data, sizes, 2);
	guest_mem_free(&m);

	a.ninitrd = 0;
	a.cmdline = "";
	guest_mem_init(&m, 2 * MiB);
	boot_kernel(&m, &a, &e, &l);
	ok(!strcmp(guest_ptr(&m, get_le32(guest_ptr(&m, e.ebx + 16, 4)),
			     strlen(flat) + 1), flat) &&
	   get_le32(guest_ptr(&m, e.ebx + 20, 4)) == 0,
	   "Multiboot without arguments or modules: the path alone");
	guest_mem_free(&m);
	free(img);
}

static void test_bad(const char *elf, const char *flat)
{
	struct boot_args a = { .cmdline = "", .unpack = true };
	size_t len, elen, h, eh;
	u8 *img = slurp(flat, &len), *e = slurp(elf, &elen);
	u8 *b;
	static u8 big[1536 * 1024];
	const char *mods[1];

	if (!img || !e)
		abort();
	b = malloc(len + elen);

#define BAD(what, src, n, hoff, edit, needle) do {			\
		u8 *hp = b + (hoff);					\
		memcpy(b, src, n);					\
		(void)hp;						\
		edit;							\
		a.kernel = put_file("bad", b, n);			\
		expect_die(what, &a, 8 * MiB, needle);			\
	} while (0)
	h = header_at(img, len);
	eh = header_at(e, elen);
	BAD("a bad checksum", img, len, h, put_le32(hp + 8, 0), "bad checksum");
	BAD("a video-mode demand", img, len, h, set_flags(hp, 0x10007),
	    "video mode");
	BAD("an unknown demand", img, len, h, set_flags(hp, 0x10023),
	    "does not know (flags 0x20)");
	BAD("a flat image without address fields", img, len, h,
	    set_flags(hp, 0x3), "must be ELF");
	BAD("load_addr above header_addr", img, len, h,
	    put_le32(hp + 16, get_le32(hp + 12) + 4), "does not fit its header_addr");
	BAD("load_addr before the file's start", img, len, h,
	    put_le32(hp + 16, get_le32(hp + 12) - 0x1000), "does not fit");
	BAD("load_end_addr below load_addr", img, len, h,
	    put_le32(hp + 20, get_le32(hp + 16) - 1), "below load_addr");
	BAD("load_end_addr beyond the file", img, len, h,
	    put_le32(hp + 20, get_le32(hp + 16) + (u32)len + 64), "truncated");
	BAD("bss_end_addr inside the image", img, len, h,
	    put_le32(hp + 24, get_le32(hp + 16) + 4), "inside the image");
	BAD("an entry outside the image", img, len, h,
	    put_le32(hp + 28, 0x500000), "entry 0x500000 is outside");
	BAD("a flat image beyond RAM", img, len, h,
	    (put_le32(hp + 12, get_le32(hp + 12) + 0x7f000000),
	     put_le32(hp + 16, get_le32(hp + 16) + 0x7f000000),
	     put_le32(hp + 20, get_le32(hp + 20) + 0x7f000000),
	     put_le32(hp + 24, get_le32(hp + 24) + 0x7f000000),
	     put_le32(hp + 28, get_le32(hp + 28) + 0x7f000000)), "outside RAM");
	BAD("a flat image reaching up to 4 GiB", img, len, h,
	    put_le32(hp + 24, 0xfffffff0), "outside RAM");
	BAD("an ELF segment beyond RAM", e, elen, eh,
	    ((Elf32_Phdr *)(b + ((Elf32_Ehdr *)b)->e_phoff))->p_paddr =
	    0x7f000000, "outside RAM");
	BAD("an ELF Multiboot image for x86-64", e, elen, eh,
	    ((Elf32_Ehdr *)b)->e_machine = EM_X86_64, "not i386");
#undef BAD
	a.kernel = flat;
	mods[0] = put_file("big", big, sizeof(big));
	a.initrd = mods;
	a.ninitrd = 1;
	expect_die("a module that does not fit", &a, 2 * MiB,
		   "does not fit");
	mods[0] = "/nonexistent/module";
	expect_die("a missing module", &a, 8 * MiB,
		   "module /nonexistent/module: No such file");
	free(b);
	free(img);
	free(e);
}

int main(void)
{
	const char *elf = getenv("MB_ELF"), *flat = getenv("MB_FLAT");

	files_init("mb");
	if (!elf || !flat || access(elf, R_OK) || access(flat, R_OK)) {
		ok(0, "Multiboot test kernels $MB_ELF and $MB_FLAT are built");
		return 1;
	}
	test_good(elf, flat);
	test_bad(elf, flat);
	files_done();
	return tap_done();
}
