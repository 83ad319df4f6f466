/*
 * The 64-bit half of the translator's differential test (jitdiff64.c,
 * gen64.c): the guest memory map its programs live in, in long mode, and
 * what the generator hands the driver.
 *
 * One page table (PT) maps the first 2 MiB of physical memory, and four
 * chains of the four levels point at it, so every page is seen at four
 * linear addresses (the aliases): the physical one, just below the top
 * of the lower canonical half, at the very top of the address space and
 * somewhere above 4 GiB.  Code and data use all four, so RIP, bases,
 * FS/GS and branch targets carry real 64-bit values, and addresses a
 * few MiB off an alias are not canonical.
 */
#ifndef JITDIFF64_H
#define JITDIFF64_H

#include "cpu/cpu_internal.h"

/* Physical memory. */
#define RAM_SIZE	0x100000u
#define GDT_ADDR	0x1000u
#define IDT_ADDR	0x2000u		/* 256 16-byte gates */
#define TSS_ADDR	0x3000u
#define IST_TOP		0x5000u		/* every exception's stack */
#define PD_X		0x5000u		/* the alias above 4 GiB */
#define PF_HANDLER	0x6000u
#define GP_HANDLER	0x6100u		/* #GP, #SS: resume at GP_RESUME */
#define DE_HANDLER	0x6200u		/* #DE: the same, no error code */
#define PF_COUNT	0x6f00u		/* u32 counts of each kind */
#define GP_COUNT	0x6f04u
#define DE_COUNT	0x6f08u
#define FAULT_SUM	0x6f10u		/* u64: what the handlers saw, summed */
#define GP_RESUME	0x6f20u		/* u64: where #GP, #SS, #DE go on */
#define STUBS		0x7000u		/* other vectors: HLT at 16 * vec */
#define PML4_ADDR	0x8000u
#define PDPT_LO		0x9000u
#define PD_LO		0xa000u
#define PT_ADDR		0xb000u		/* the one page table */
#define PDPT_MID	0xc000u
#define PD_MID		0xd000u
#define PDPT_HI		0xe000u
#define PD_HI		0xf000u
#define CODE		0x10000u	/* programs: 0x10000..0x13fff */
#define CODE_END	0x14000u
#define DATA		0x20000u	/* two data pages */
#define LAZY		0x22000u	/* two more, not present until used */
#define TABLE		0x24000u	/* self-modifying loops' values */
#define STACK		0x30000u	/* 0x30000..0x31fff */
#define MMIO_PAGE	0x1ff000u	/* PT's last entry: the bus at ... */
#define MMIO_PHYS	0x200000u	/* ... this physical page */

#define NALIAS		4
#define ALIAS_X_PML4	0		/* alias 3: PML4[0], PDPT_LO[72], */
#define ALIAS_X_PDPT	72u		/* PD_X[418] */
#define ALIAS_X_PD	418u

#define MAIN_MAX	0xc00u
#define FN_MAX		0x600u
#define MAX_TAB		256u
#define PRESET		(LAZY + 0x1f00)	/* the lazy pages' last 256 bytes: */
#define MAX_PRESET	16u		/* qwords no store reaches */

/* Where physical address pa is seen through alias a. */
static inline u64 alias_lin(int a, u64 pa)
{
	static const u64 base[NALIAS] = {
		0, 0x00007fffffe00000ull, 0xffffffffffe00000ull,
		(u64)ALIAS_X_PDPT << 30 | (u64)ALIAS_X_PD << 21,
	};

	return base[a] + pa;
}

/* Code being generated: cap bytes at guest linear address lin. */
struct buf64 {
	u8 *code;
	u32 n, cap;
	u64 lin;
};

struct prog64 {
	u64 seed, data_seed;
	bool lazy, want_smc, want_faults;
	int code_alias;
	u64 r[16], rflags, rip;
	u64 fs_base, gs_base;
	u64 hlt;		/* linear address of the final HLT */
	struct buf64 main, fn;
	u8 main_code[MAIN_MAX], fn_code[FN_MAX];
	u8 table[4 * MAX_TAB];
	u32 ntab, smc, faults;	/* self-modifying loops, faults planted */
	/* Qwords put at npreset physical addresses of PRESET before the
	 * program runs (jump targets that its first access there reads). */
	u32 npreset, preset_at[MAX_PRESET];
	u64 preset[MAX_PRESET];
};

u64 rng64(u64 *s);
bool gen_prog64(struct prog64 *p, u64 seed);

#endif
