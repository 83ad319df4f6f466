/*
 * The translator's differential test: the guest memory map the generated
 * programs live in, and what gen.c hands jitdiff.c.
 */
#ifndef JITDIFF_H
#define JITDIFF_H

#include "cpu/cpu_internal.h"

/* Guest physical (= linear: paging maps it 1:1) memory map. */
#define RAM_SIZE	0x100000u
#define GDT_ADDR	0x1000u
#define GDT_DS_1000	0x20u	/* data at 0x1000: programs' DS */
#define GDT_DS_OTHER	0x28u	/* data at DS_OTHER_BASE: gen_segs() */
#define DS_OTHER_BASE	0x800u
#define IDT_ADDR	0x2000u
#define PF_HANDLER	0x3000u
#define PF_COUNT	0x3f00u		/* #PF handler: faults so far */
#define PF_FLAGS	0x3f04u		/* ... and the flags they saw */
#define PD_ADDR		0x4000u
#define PT_ADDR		0x5000u		/* maps 0..4 MiB */
#define STUBS		0x6000u		/* other vectors: HLT at 16 * vec */
#define CODE		0x10000u	/* programs: 0x10000..0x13fff */
#define CODE_END	0x14000u
#define CODE_ALIAS	0x40000u	/* with paging, CODE again: 0x40000..
					 * 0x43fff map 0x10000..0x13fff */
#define DATA		0x20000u	/* two data pages */
#define LAZY		0x22000u	/* two more, not present until used */
#define TABLE		0x24000u	/* self-modifying loops' values */
#define STACK		0x30000u	/* 0x30000..0x31fff */
#define MMIO		0x200000u	/* a page past RAM: the bus */

#define MAIN_MAX	0xc00u
#define FN_MAX		0x400u
#define MAX_TAB		256u
#define PRESET		(LAZY + 0x1f00)	/* the lazy pages' last 256 bytes: */
#define MAX_PRESET	32u		/* dwords no store reaches */

/* Code being generated: cap bytes at guest address addr.  n may pass
 * cap, which makes the program unusable. */
struct buf {
	u8 *code;
	u32 n, cap, addr;
};

struct prog {
	u64 seed, data_seed;
	bool paging, want_smc;
	u32 r[8], eflags;
	u32 seg_base[6];
	u32 base, hlt;		/* first instruction; the final HLT */
	struct buf main, fn;
	u8 main_code[MAIN_MAX], fn_code[FN_MAX];
	u8 table[4 * MAX_TAB];
	u32 ntab, smc;
	/* Dwords put at npreset addresses of PRESET before the program runs
	 * (jump targets that the program's first access there reads). */
	u32 npreset, preset_at[MAX_PRESET], preset[MAX_PRESET];
};

u64 rng_next(u64 *s);
bool gen_prog(struct prog *p, u64 seed);

#endif
