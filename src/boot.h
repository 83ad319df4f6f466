/*
 * Loading a kernel into guest RAM and saying where the CPU starts.
 *
 * The loader reads the kernel file, puts its pieces where the boot protocol
 * wants them, writes the boot information the kernel reads first (for Linux
 * the "zero page", struct boot_params, with the command line, the initrd and
 * the e820 memory map), and fills a struct boot_entry: the instruction
 * pointer and the registers the protocol passes values in.  main() then puts
 * the CPU in flat 32-bit protected mode at that entry (cpu_reset_flat32)
 * and sets those registers.
 *
 * Everything the loader refuses is the user's mistake and is refused before
 * anything runs: die() with one line that names the file and the reason.
 */
#ifndef LGUEST_BOOT_H
#define LGUEST_BOOT_H

#include "memory.h"
#include "types.h"

/* Where the loader puts its own things, all in the low 640 KiB.  Page 0 is
 * left alone (a real PC keeps its interrupt vectors and BIOS data there). */
#define BOOT_PARAMS_ADDR	0x7000u		/* one page */
#define BOOT_CMDLINE_ADDR	0x20000u
#define BOOT_CMDLINE_MAX	0x10000u	/* bytes, with the NUL */
#define BOOT_KERNEL_ADDR	0x100000u	/* 1 MiB: protected-mode code */
/* For an x86-64 kernel entered in 64-bit mode: a GDT and identity-mapping
 * page tables for the first 4 GiB (PML4, PDPT, four directories of 2 MiB
 * pages). */
#define BOOT_GDT_ADDR		0x8000u
#define BOOT_PML4_ADDR		0x9000u
#define BOOT_PT_END		0xf000u

/* Where the CPU starts, and the registers its boot protocol uses. */
struct boot_entry {
	u32 eip;
	bool long64;	/* enter in 64-bit mode (an x86-64 vmlinux): the
			 * loader built the page tables and GDT below */
	u32 esi;	/* Linux: the address of boot_params */
	u32 eax;	/* Multiboot: the magic 0x2BADB002 */
	u32 ebx;	/* Multiboot: the information block */
};

/* What the loader did, for --verbose and for the tests. */
struct boot_layout {
	const char *format;	/* "bzImage", "ELF vmlinux", ... */
	u16 protocol;		/* Linux boot protocol version, 0 if none */
	u32 image_start;	/* what the loader copied into RAM */
	u32 image_end;		/* exclusive */
	u32 run_start;		/* where the kernel will unpack itself and */
	u32 run_end;		/* run (may equal the image), exclusive */
	u32 initrd_start;	/* 0 if no initrd */
	u32 initrd_end;
	u32 boot_params;
	u32 cmdline;
	u32 cmdline_len;	/* without the NUL */
	int e820_entries;
	bool multiboot;		/* boot_params is the Multiboot info */
	bool panic_mark;	/* the kernel got our reboot=panic_warm */
	int nmodules;		/* Multiboot modules, from initrd_start */
};

struct linux_args {
	const char *kernel;	/* path of a bzImage or ELF vmlinux */
	const char *initrd;	/* path, or NULL */
	const char *cmdline;	/* the user's kernel arguments, maybe "" */
	bool unpack;		/* unpack an XZ bzImage on the host */
	bool mark_panic;	/* add reboot=panic_warm (see M:155) */
};

/* Load a Linux kernel (and initrd, command line, boot_params) into mem.
 * Dies with a one-line reason on anything it cannot boot. */
void boot_linux(struct guest_mem *mem, const struct linux_args *a,
		struct boot_entry *e, struct boot_layout *l);

/* What main() has: any number of --initrd files (a Multiboot kernel takes
 * each as a module; Linux takes one). */
struct boot_args {
	const char *kernel;
	const char *const *initrd;
	int ninitrd;
	const char *cmdline;
	bool unpack;
	bool mark_panic;	/* a Linux gets reboot=panic_warm (M:155) */
};

/* Load whatever kernel a->kernel is: a Multiboot image (recognised first,
 * by its header), else a Linux bzImage or ELF vmlinux. */
void boot_kernel(struct guest_mem *mem, const struct boot_args *a,
		 struct boot_entry *e, struct boot_layout *l);

/* The command line the guest gets: the user's, with console=ttyS0 and
 * panic=-1 put in front unless the user chose a console= or a panic= of
 * their own.  Returns a malloc'd string. */
char *linux_cmdline(const char *user);

/* Whether the guest's own console -- the last console= among the user's
 * kernel arguments, as Linux decides /dev/console -- is hvc0, the virtio
 * console, which then takes the terminal's keys from the UART. */
bool linux_console_is_hvc0(const char *user);

/* The --verbose picture of guest-physical memory. */
void boot_print_layout(const struct guest_mem *mem,
		       const struct boot_layout *l);

/*
 * Shared by the loaders (boot.c, multiboot.c), not by the rest of lguest.
 */
struct kfile {			/* a whole file read into host memory */
	const char *path;
	u8 *data;
	size_t size;
};

struct elf_image {
	u32 lo, hi;		/* physical extent of the PT_LOAD segments */
	u32 entry;		/* physical */
	bool is64;		/* an x86-64 (ELF64) image */
};

/* Open a regular, non-empty file, or die naming what it was for. */
int boot_open(const char *what, const char *path, u64 *size);
void boot_read(const char *what, const char *path, int fd, u8 *buf,
	       u64 size);
/* Load an ELF32 i386 executable's PT_LOAD segments at their physical
 * addresses, none below min; dies naming name on anything wrong. */
void boot_load_elf(struct guest_mem *mem, const char *name, const u8 *d,
		   size_t n, u32 min, struct elf_image *img);

#endif
