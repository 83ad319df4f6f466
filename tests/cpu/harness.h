/*
 * Inside the 64-bit differential test harness: the form table (forms.c),
 * the oracles (native.c) and the driver that runs our CPU and compares
 * (difftest.c).
 */
#ifndef DIFFTEST_HARNESS_H
#define DIFFTEST_HARNESS_H

#include <stdio.h>

#include "difftest.h"

enum oracle { OR_HOST, OR_QEMU };

/*
 * One instruction form: an opcode with its operand shape and size.  kind
 * names the generator and flag rules in forms.c that go beyond the static
 * fields.
 */
struct form {
	const char *group;	/* TAP line: "alu", "shift", ... */
	char name[48];		/* "add r/m32,r32" */
	u8 op[3];
	u8 oplen;
	s8 ext;			/* ModRM: -1 none, 0..7 /digit, 8 /r */
	u8 rm;			/* RM_ANY, RM_REG, RM_MEM */
	u8 imm;			/* immediate bytes: 0, 1, 2, 4, 3 = 2 then 1 */
	u8 osz;			/* operand size: 1, 2 or 4 */
	u8 kind;
	u8 oracle;
	u8 prefix;		/* a prefix the form carries (F3, F2, F0) */
	u8 asz16;		/* 0x67: 16-bit addressing (qemu only) */
	u8 trap;		/* an exception it raises is a trap */
	u8 wrap;		/* addresses wrap past 4 GiB (qemu only) */
	u8 cons;		/* K_PAIR: the flag consumer */
	const char *pgroup;	/* K_PAIR: the producers' group */
	u32 undef;		/* flags the SDM leaves undefined */
	int segv_vec;		/* vector a native SIGSEGV means here */
	/* results */
	unsigned cases, bad, skipped;
	unsigned faults, writes;	/* cases that faulted, wrote memory */
	unsigned fast;		/* cases exec_fast.c has a handler for */
	unsigned nomap;		/* cases not run: no low window (skipped) */
};

enum { RM_ANY, RM_REG, RM_MEM };

/* A generated case and what of its result is defined. */
struct gcase {
	struct dt_case k;
	u32 reg_mask[8];	/* register bits to compare */
	u32 flag_mask;		/* EFLAGS bits to compare */
	u32 next_eip;		/* EIP after the instruction */
};

extern struct form *forms;
extern unsigned nforms;
/* Give host forms GS overrides (not under qemu-i386, whose GS is TLS). */
extern bool gen_gs;

void forms_init(void);
/* Make case number i of form f from the harness's random stream. */
void gen_case(struct form *f, struct gcase *g);
void rng_seed(u64 seed);

int native_init(void);
void native_run(const struct dt_case *k, struct dt_result *res);
int qemu_run(const char *ref32, const struct dt_case *k, size_t n,
	     struct dt_result *res);

#endif
