/*
 * Unit tests for the Linux loader (src/boot.c).
 *
 * Good kernels are loaded in this process and guest memory is inspected:
 * where the code landed, boot_params field by field, the e820 map, the
 * command line and the initrd.  Bad ones are loaded in a child, which must
 * die() with exit status 1 and one line on stderr naming the problem.
 *
 * Kernels: the tiny ELF vmlinux built by rules.mk ($TINY_ELF), a small
 * bzImage this file writes, and Debian's real bzImage when guest/cache has
 * it (or $LGUEST_TEST_KERNEL names one); the last is skipped, and says so,
 * when absent.
 */
#include <elf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot.h"
#include "memory.h"
#include "expect_die.h"
#include "files.h"
#include "tap.h"


static void load_boot_linux(struct guest_mem *m, const void *arg)
{
	struct boot_entry e;
	struct boot_layout l;

	boot_linux(m, arg, &e, &l);
}

/* Load in a child that must die: status 1, one line "lguest: ...". */
static void expect_die(const char *what, const struct linux_args *a, u64 mem,
		       const char *needle)
{
	expect_die_loading(what, load_boot_linux, a, mem, needle);
}

static void load(struct guest_mem *m, u64 size, const struct linux_args *a,
		 struct boot_entry *e, struct boot_layout *l)
{
	if (guest_mem_init(m, size))
		abort();
	/* Dirty RAM, so that "zeroed by the loader" is really tested. */
	memset(m->base, 0xee, m->size);
	boot_linux(m, a, e, l);
}

static void test_cmdline(void)
{
	static const struct {
		const char *user, *want;
	} t[] = {
		{ "", "console=ttyS0 panic=-1" },
		{ "quiet", "console=ttyS0 panic=-1 quiet" },
		{ "console=hvc0 quiet", "panic=-1 console=hvc0 quiet" },
		{ "quiet console=ttyS1,115200",
		  "panic=-1 quiet console=ttyS1,115200" },
		{ "netconsole=@/eth0",
		  "console=ttyS0 panic=-1 netconsole=@/eth0" },
		{ "ro -- console=x panic=1",
		  "console=ttyS0 panic=-1 ro -- console=x panic=1" },
		{ "panic=10", "console=ttyS0 panic=10" },
		{ "panic=0 console=tty0", "panic=0 console=tty0" },
		{ "panic_on_warn=1", "console=ttyS0 panic=-1 panic_on_warn=1" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		char *s = linux_cmdline(t[i].user);

		ok(strcmp(s, t[i].want) == 0, "command line \"%s\" -> \"%s\"",
		   t[i].user, s);
		free(s);
	}
}

static void test_console_hvc0(void)
{
	static const struct {
		const char *user;
		bool hvc0;
	} t[] = {
		{ "", false },
		{ "quiet", false },
		{ "console=hvc0", true },
		{ "console=ttyS0 console=hvc0 quiet", true },
		{ "console=hvc0 console=ttyS0", false },
		{ "console=hvc0,115200", true },
		{ "console=hvc1", false },
		{ "console=hvc00", false },
		{ "console=ttyS0 -- console=hvc0", false },
		{ "xconsole=hvc0", false },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(t); i++)
		ok(linux_console_is_hvc0(t[i].user) == t[i].hvc0,
		   "\"%s\": the guest's console is %shvc0", t[i].user,
		   t[i].hvc0 ? "" : "not ");
}

/* boot_params facts every Linux load must show. */
static void check_common(const struct guest_mem *m,
			 const struct boot_entry *e,
			 const struct boot_layout *l, const char *what,
			 const char *cmdline)
{
	const u8 *bp = guest_ptr(m, BOOT_PARAMS_ADDR, 4096);
	const u8 *ent = bp + 0x2d0;
	const char *cl = guest_ptr(m, BOOT_CMDLINE_ADDR, strlen(cmdline) + 1);

	ok(e->esi == BOOT_PARAMS_ADDR && l->boot_params == BOOT_PARAMS_ADDR &&
	   e->eax == 0 && e->ebx == 0, "%s: ESI = boot_params at 0x%x", what,
	   BOOT_PARAMS_ADDR);
	ok(memcmp(bp + 0x202, "HdrS", 4) == 0 && get_le16(bp + 0x1fe) == 0xaa55,
	   "%s: boot_params carries the setup header", what);
	ok(bp[0x210] == 0xff, "%s: type_of_loader 0xff", what);
	ok((bp[0x211] & 0x81) == 0x81, "%s: loadflags LOADED_HIGH|CAN_USE_HEAP",
	   what);
	ok(get_le16(bp + 0x224) == 0xde00, "%s: heap_end_ptr 0xde00", what);
	ok(get_le32(bp + 0x228) == BOOT_CMDLINE_ADDR && cl &&
	   strcmp(cl, cmdline) == 0, "%s: cmd_line_ptr -> \"%s\"", what,
	   cmdline);
	ok(get_le32(bp + 0x23c) == 0 && bp[0x0f] == 0 && bp[0x06] == 0 &&
	   bp[0x07] == 0 && bp[0x0e] == 0,
	   "%s: hardware_subarch PC, no VGA in screen_info", what);
	ok(bp[0x1ef] == 0 && bp[0] == 0 && bp[0x1e9] == 0,
	   "%s: the rest of the zero page is zero", what);
	ok(bp[0x1e8] == 3 &&
	   get_le64(ent) == 0 && get_le64(ent + 8) == 0xa0000 &&
	   get_le32(ent + 16) == 1 &&
	   get_le64(ent + 20) == 0xa0000 && get_le64(ent + 28) == 0x60000 &&
	   get_le32(ent + 36) == 2 &&
	   get_le64(ent + 40) == 0x100000 && get_le64(ent + 48) == m->size - MiB &&
	   get_le32(ent + 56) == 1 && get_le64(ent + 60) == 0,
	   "%s: e820 = 640 KiB RAM, 384 KiB reserved, RAM from 1 MiB to %llu "
	   "MiB", what, (unsigned long long)(m->size / MiB));
	ok(get_le32(bp + 0x1e0) == (m->size - MiB) / 1024,
	   "%s: alt_mem_k = RAM above 1 MiB", what);
}

static void check_initrd(const struct guest_mem *m, const struct boot_layout *l,
			 const u8 *data, size_t len, u32 below, const char *what)
{
	const u8 *bp = guest_ptr(m, BOOT_PARAMS_ADDR, 4096);
	u32 start = get_le32(bp + 0x218);
	const u8 *p = guest_ptr(m, start, len);

	ok(start == l->initrd_start && get_le32(bp + 0x21c) == len &&
	   (start & 0xfff) == 0 && start + len <= m->size &&
	   start + len > m->size - 4096 && start + len <= below &&
	   start >= l->run_end && start >= l->image_end,
	   "%s: initrd page-aligned at the top, 0x%x+0x%zx, above the kernel",
	   what, start, len);
	ok(p && memcmp(p, data, len) == 0, "%s: initrd contents in place",
	   what);
}

static void test_elf(void)
{
	const char *path = getenv("TINY_ELF");
	const char *phys = getenv("TINY_PHYS_ELF");
	struct linux_args a = { .cmdline = "hello", .unpack = true };
	struct guest_mem m;
	struct boot_entry e;
	struct boot_layout l;
	size_t len, ilen = MiB + 123;
	u8 *elf, *initrd = malloc(ilen), *bad;
	const Elf32_Ehdr *eh;
	Elf32_Phdr *ph;
	size_t i;

	if (!path || !(elf = slurp(path, &len))) {
		ok(0, "tiny ELF kernel $TINY_ELF is built");
		return;
	}
	for (i = 0; i < ilen; i++)
		initrd[i] = (u8)(i * 7 + 3);
	a.kernel = path;
	a.initrd = put_file("initrd.img", initrd, ilen);
	load(&m, 4 * MiB, &a, &e, &l);
	eh = (const Elf32_Ehdr *)elf;
	ph = (Elf32_Phdr *)(elf + eh->e_phoff);
	ok(eh->e_entry == 0xc0100000 && e.eip == 0x100000,
	   "ELF: virtual entry 0x%x becomes physical 0x%x", eh->e_entry, e.eip);
	ok(memcmp(guest_ptr(&m, ph[0].p_paddr, ph[0].p_filesz),
		  elf + ph[0].p_offset, ph[0].p_filesz) == 0 &&
	   memcmp(guest_ptr(&m, ph[1].p_paddr, ph[1].p_filesz),
		  elf + ph[1].p_offset, ph[1].p_filesz) == 0,
	   "ELF: PT_LOAD segments at their physical addresses");
	ok(ph[1].p_memsz > ph[1].p_filesz &&
	   *(u8 *)guest_ptr(&m, ph[1].p_paddr + ph[1].p_filesz, 1) == 0 &&
	   *(u8 *)guest_ptr(&m, ph[1].p_paddr + ph[1].p_memsz - 1, 1) == 0,
	   "ELF: the bss part of a segment is zeroed");
	ok(l.image_start == 0x100000 &&
	   l.image_end == ph[1].p_paddr + ph[1].p_memsz,
	   "ELF: layout 0x%x-0x%x", l.image_start, l.image_end);
	check_common(&m, &e, &l, "ELF", "console=ttyS0 panic=-1 hello");
	check_initrd(&m, &l, initrd, ilen, 0x38000000, "ELF");
	guest_mem_free(&m);

	a.kernel = phys;
	a.initrd = NULL;
	load(&m, 2 * MiB, &a, &e, &l);
	ok(e.eip == 0x100000 && l.initrd_end == 0,
	   "ELF with a physical entry (as Linux's phys_startup_32)");
	guest_mem_free(&m);

	/* Corrupt copies, each refused with its reason. */
	bad = malloc(len);
#define BAD(what, edit, needle) do {					\
		memcpy(bad, elf, len);					\
		{ Elf32_Ehdr *h = (Elf32_Ehdr *)bad;			\
		  Elf32_Phdr *p = (Elf32_Phdr *)(bad + h->e_phoff);	\
		  (void)h; (void)p; edit; }				\
		a.kernel = put_file("bad.elf", bad, len);		\
		expect_die(what, &a, 4 * MiB, needle);			\
	} while (0)
	a.initrd = NULL;
	BAD("ELF for x86-64", h->e_machine = EM_X86_64, "not i386");
	BAD("ELF32 headers marked ELF64", bad[EI_CLASS] = ELFCLASS64,
	    "not x86-64");
	BAD("big-endian ELF", bad[EI_DATA] = ELFDATA2MSB, "little-endian");
	BAD("ELF shared object", h->e_type = ET_DYN, "not an executable");
	BAD("ELF with program headers past the end", h->e_phoff = 0x7ffffff0,
	    "program headers end beyond the file");
	/* (Program headers at an odd offset, which tests/fuzz once found
	 * read in place as a misaligned access, are now copied out first,
	 * and so are fine.) */
	BAD("ELF without program headers", h->e_phnum = 0,
	    "no usable program headers");
	BAD("ELF segment beyond RAM", p[1].p_paddr = 0x3ff000,
	    "outside RAM");
	BAD("ELF segment wrapping 4 GiB",
	    (p[1].p_paddr = 0xfffff000, p[1].p_memsz = 0x2000), "outside RAM");
	BAD("ELF segment over boot_params", p[0].p_paddr = 0x7000,
	    "below 0x100000");
	BAD("ELF segment data past the file", p[1].p_offset = 0x7ffff000,
	    "truncated: segment 1");
	BAD("ELF segment filesz > memsz", p[1].p_filesz = p[1].p_memsz + 1,
	    "more file bytes than memory");
	BAD("ELF entry in no segment", h->e_entry = 0x500000,
	    "entry point 0x500000 is in no loaded segment");
	BAD("ELF without PT_LOAD", (p[0].p_type = PT_NOTE,
	    p[1].p_type = PT_NOTE), "no loadable segment");
#undef BAD
	a.kernel = put_file("short.elf", elf, 0x1010);
	expect_die("ELF cut in its first segment", &a, 4 * MiB,
		   "truncated: segment 0");
	a.kernel = put_file("tiny-header.elf", elf, 20);
	expect_die("ELF cut in its header", &a, 4 * MiB, "truncated");
	a.kernel = put_file("ident.elf", elf, 10);
	expect_die("ELF cut in e_ident", &a, 4 * MiB, "truncated");

	a.kernel = path;
	a.initrd = put_file("big.img", initrd, ilen);
	expect_die("an initrd that does not fit", &a, 2 * MiB,
		   "does not fit");
	free(bad);
	free(elf);
	free(initrd);
}

/* A hand-made bzImage: setup_sects 0 (meaning 4), protocol 2.15, not
 * relocatable, no payload, a pattern for protected-mode code. */
#define FAKE_PM 0x3000
static u8 *fake_bzimage(size_t *len)
{
	size_t setup = 5 * 512, i;
	u8 *b = calloc(1, setup + FAKE_PM);

	b[0x1f1] = 0;
	put_le32(b + 0x1f4, FAKE_PM / 16);
	put_le16(b + 0x1fe, 0xaa55);
	b[0x200] = 0xeb;
	b[0x201] = 0x66;
	memcpy(b + 0x202, "HdrS", 4);
	put_le16(b + 0x206, 0x20f);
	b[0x211] = 0x01;
	put_le32(b + 0x214, 0x100000);
	put_le32(b + 0x22c, 0x7fffffff);
	put_le32(b + 0x230, 0x200000);
	put_le32(b + 0x238, 255);
	put_le32(b + 0x258, 0x100000);
	put_le32(b + 0x260, 0x200000);
	b[0x267] = 0x5a;	/* last byte of the header: copied */
	b[0x268] = 0xa5;	/* first byte after it: not copied */
	for (i = 0; i < FAKE_PM; i++)
		b[setup + i] = (u8)(i ^ (i >> 8));
	*len = setup + FAKE_PM;
	return b;
}

static void test_fake_bzimage(void)
{
	struct linux_args a = { .cmdline = "", .unpack = true };
	struct guest_mem m;
	struct boot_entry e;
	struct boot_layout l;
	size_t len;
	u8 *bz = fake_bzimage(&len), *bp;
	char longcmd[300];

	a.kernel = put_file("fake.bz", bz, len);
	load(&m, 4 * MiB, &a, &e, &l);
	bp = guest_ptr(&m, BOOT_PARAMS_ADDR, 4096);
	ok(e.eip == 0x100000 && l.image_start == 0x100000 &&
	   memcmp(guest_ptr(&m, 0x100000, FAKE_PM), bz + 5 * 512, FAKE_PM) == 0,
	   "bzImage with setup_sects 0: 4 sectors skipped, code at 1 MiB");
	ok(l.run_start == 0x100000 && l.run_end == 0x300000,
	   "bzImage: runs at pref_address for init_size");
	ok(bp[0x267] == 0x5a && bp[0x268] == 0,
	   "bzImage: setup header copied up to 0x202 + byte 0x201");
	check_common(&m, &e, &l, "fake bzImage", "console=ttyS0 panic=-1");
	guest_mem_free(&m);

	memset(longcmd, 'x', sizeof(longcmd) - 1);
	longcmd[sizeof(longcmd) - 1] = '\0';
	/* With "console=ttyS0 panic=-1 " in front: 255 bytes. */
	longcmd[255 - 23] = '\0';
	a.cmdline = longcmd;
	load(&m, 4 * MiB, &a, &e, &l);
	ok(l.cmdline_len == 255, "a command line of cmdline_size bytes fits");
	guest_mem_free(&m);
	longcmd[255 - 23] = 'x';
	longcmd[256 - 23] = '\0';
	expect_die("a command line over cmdline_size", &a, 4 * MiB,
		   "command line is 256 bytes");
	a.cmdline = "";
	expect_die("a bzImage that needs more RAM", &a, 2 * MiB,
		   "give at least 3 MiB");
	free(bz);
}

/* Debian's kernel, and corrupted or truncated copies of it. */
static void bz_bad(const u8 *k, size_t len, const char *what,
		   void (*edit)(u8 *b), size_t cut, const char *needle)
{
	struct linux_args a = { .cmdline = "", .unpack = true };
	u8 *b = malloc(len);

	memcpy(b, k, len);
	if (edit)
		edit(b);
	a.kernel = put_file("bad.bz", b, cut ? cut : len);
	expect_die(what, &a, 128 * MiB, needle);
	free(b);
}

static void old_protocol(u8 *b) { put_le16(b + 0x206, 0x201); }
static void zimage(u8 *b) { b[0x211] &= (u8)~1; }
static void no_hdrs(u8 *b) { b[0x203] = 'X'; }
static void no_boot_flag(u8 *b) { put_le16(b + 0x1fe, 0); }
static void huge_payload(u8 *b) { put_le32(b + 0x24c, 0x7fffffff); }

static size_t kernel_setup;	/* for bad_payload() */
static void bad_payload(u8 *b)
{
	u8 *p = b + kernel_setup + get_le32(b + 0x248);

	memset(p + get_le32(b + 0x24c) / 8, 0x55, 4096);
}

static void test_debian(void)
{
	const char *path = getenv("LGUEST_TEST_KERNEL");
	struct linux_args a = { .cmdline = "quiet", .unpack = false };
	struct guest_mem m, m2;
	struct boot_entry e, e2;
	struct boot_layout l, l2;
	size_t len, ilen = 3 * MiB + 5, setup, i;
	u8 *k, *initrd = malloc(ilen), *bp;
	u32 sys;

	if (!path)
		path = "guest/cache/vmlinuz";
	k = slurp(path, &len);
	if (!k) {
		printf("ok - Debian bzImage # SKIP no kernel at %s (run make "
		       "guest)\n", path);
		free(initrd);
		return;
	}
	for (i = 0; i < ilen; i++)
		initrd[i] = (u8)(i * 13 + 1);
	setup = (size_t)((k[0x1f1] ? k[0x1f1] : 4) + 1) * 512;
	kernel_setup = setup;
	sys = get_le32(k + 0x1f4) * 16;
	a.kernel = path;
	a.initrd = put_file("initrd.img", initrd, ilen);

	load(&m, 64 * MiB, &a, &e, &l);
	bp = guest_ptr(&m, BOOT_PARAMS_ADDR, 4096);
	ok(l.protocol >= 0x20a && !strcmp(l.format, "bzImage"),
	   "Debian bzImage: protocol %u.%02u", l.protocol >> 8,
	   l.protocol & 0xff);
	ok(e.eip == 0x100000 && l.image_start == 0x100000 &&
	   l.image_end == 0x100000 + len - setup &&
	   memcmp(guest_ptr(&m, 0x100000, len - setup), k + setup,
		  len - setup) == 0,
	   "Debian bzImage: protected-mode code (%zu bytes) at 1 MiB, "
	   "entered there", len - setup);
	ok(l.run_start == 0x1000000 && l.run_end == 0x1000000 + get_le32(k + 0x260),
	   "Debian bzImage: unpacks at 16 MiB, init_size 0x%x", get_le32(k + 0x260));
	ok(memcmp(bp + 0x1f1, k + 0x1f1, 0x210 - 0x1f1) == 0 &&
	   memcmp(bp + 0x22c, k + 0x22c, 0x202 + k[0x201] - 0x22c) == 0,
	   "Debian bzImage: the rest of the setup header is the file's");
	ok(get_le32(bp + 0x214) == 0x100000, "Debian bzImage: code32_start 1 MiB");
	check_common(&m, &e, &l, "Debian bzImage",
		     "console=ttyS0 panic=-1 quiet");
	check_initrd(&m, &l, initrd, ilen, get_le32(k + 0x22c) + 1,
		     "Debian bzImage");

	a.unpack = true;
	load(&m2, 64 * MiB, &a, &e2, &l2);
	ok(e2.eip == 0x1000000 && l2.image_start == 0x1000000 &&
	   l2.image_end > 0x1400000 && l2.image_end <= 0x1000000 +
	   get_le32(k + 0x260),
	   "Debian bzImage unpacked on the host: vmlinux at 0x%x-0x%x, entry "
	   "0x%x", l2.image_start, l2.image_end, e2.eip);
	ok(*(u8 *)guest_ptr(&m2, 0x100000, 1) == 0xee,
	   "unpacked: nothing written at 1 MiB");
	ok(memcmp(guest_ptr(&m2, BOOT_PARAMS_ADDR, 4096), bp, 4096) == 0,
	   "unpacked: the same boot_params as the bzImage's");
	check_initrd(&m2, &l2, initrd, ilen, get_le32(k + 0x22c) + 1, "unpacked");
	guest_mem_free(&m);
	guest_mem_free(&m2);

	a.initrd = NULL;
	expect_die("Debian bzImage in 32 MiB", &a, 32 * MiB,
		   "give at least 33 MiB");
	a.unpack = false;
	expect_die("Debian bzImage in 32 MiB (--no-unpack)", &a, 32 * MiB,
		   "give at least 33 MiB");
	a.initrd = put_file("initrd.img", initrd, ilen);
	expect_die("an initrd that does not fit beside Debian's kernel", &a,
		   35 * MiB, "does not fit");
	a.unpack = true;

	bz_bad(k, len, "boot protocol 2.01", old_protocol, 0,
	       "boot protocol 2.01 is too old");
	bz_bad(k, len, "a zImage", zimage, 0, "zImage");
	bz_bad(k, len, "no HdrS", no_hdrs, 0, "neither a bzImage nor an ELF32");
	bz_bad(k, len, "no boot flag", no_boot_flag, 0, "0xAA55");
	bz_bad(k, len, "payload length past the end", huge_payload, 0,
	       "truncated");
	bz_bad(k, len, "a corrupt XZ payload", bad_payload, 0, "corrupt");
	bz_bad(k, len, "bzImage cut to 100 bytes", NULL, 100, "truncated");
	bz_bad(k, len, "bzImage cut in its header", NULL, 0x240, "truncated");
	bz_bad(k, len, "bzImage cut in its setup code", NULL, setup - 1,
	       "truncated");
	bz_bad(k, len, "bzImage cut in half", NULL, len / 2, "truncated");
	bz_bad(k, len, "bzImage one byte short of syssize", NULL,
	       setup + sys - 1, "truncated");
	free(k);
	free(initrd);
}

static void test_files(void)
{
	struct linux_args a = { .cmdline = "", .unpack = true };

	a.kernel = "/nonexistent/vmlinuz";
	expect_die("a missing kernel", &a, 4 * MiB,
		   "kernel /nonexistent/vmlinuz: No such file or directory");
	a.kernel = files_dir;
	expect_die("a directory as kernel", &a, 4 * MiB, "is a directory");
	a.kernel = "/dev/null";
	expect_die("a device as kernel", &a, 4 * MiB, "not a regular file");
	a.kernel = put_file("empty", "", 0);
	expect_die("an empty kernel", &a, 4 * MiB, "is empty");
	a.kernel = put_file("text", "hello, world\n", 13);
	expect_die("a text file as kernel", &a, 4 * MiB,
		   "neither a bzImage nor an ELF32 i386 kernel");
	a.kernel = getenv("TINY_ELF");
	a.initrd = "/nonexistent/initrd";
	expect_die("a missing initrd", &a, 4 * MiB,
		   "initrd /nonexistent/initrd: No such file");
	a.initrd = files_dir;
	expect_die("a directory as initrd", &a, 4 * MiB, "is a directory");
}

int main(void)
{
	files_init("boot");
	test_cmdline();
	test_console_hvc0();
	test_elf();
	test_fake_bzimage();
	test_files();
	test_debian();
	files_done();
	return tap_done();
}
