/*
 * Private to the instruction executor (exec.c, exec_*.c) and the
 * arithmetic unit (alu.c): the decoded form of an instruction, the operand
 * helpers every exec_*.c file uses, and the arithmetic that sets flags.
 *
 * The rest of the CPU (seg.c, fpu.c, ...) never sees this: it reaches the
 * flags only through cpu_get_eflags(), cpu_set_eflags() and cpu_cond().
 */
#ifndef LGUEST_CPU_EXEC_H
#define LGUEST_CPU_EXEC_H

#include <string.h>

#include "cpu_internal.h"

/*
 * One instruction as decoded so far.  Operand sizes are in bytes (1, 2 or
 * 4).  The ModRM fields are valid once decode_modrm() ran; for a memory
 * operand, seg:ea is its address.
 */
struct insn {
	u32 start;		/* EIP of the first prefix */
	u32 next;		/* EIP of the next byte to fetch */
	int opsize;		/* 2 or 4 */
	int adsize;		/* 2 or 4 */
	int seg;		/* S_*: override, else the ModRM default */
	int seg_override;	/* -1 if none */
	int rep;		/* 0, 0xf2 or 0xf3 */
	bool pfx66;		/* a 66 prefix came (SSE: a mandatory one) */
	bool lock;
	u8 modrm;
	u8 mod, reg, rm;
	u32 ea;
	/* The instruction bytes straight from guest RAM, for EIPs in
	 * [start, start + win_len): at most 15 bytes, within the page and
	 * CS's limit.  win_len is 0 when the code is not in RAM. */
	const u8 *win;
	u32 win_len;
};

/* --- exec.c: fetching and operands --- */

#define MAX_INSN_LEN 15

static inline bool in_window(const struct insn *d, u32 n)
{
	return d->next - d->start + n <= d->win_len;
}

static inline void check_len(struct cpu *c, const struct insn *d, u32 n)
{
	if (unlikely(d->next - d->start + n > MAX_INSN_LEN))
		cpu_gp(c, 0);
}

static inline u8 fetch8(struct cpu *c, struct insn *d)
{
	u8 v;

	if (likely(in_window(d, 1))) {
		v = d->win[d->next - d->start];
	} else {
		check_len(c, d, 1);
		v = code_read8(c, d->next);
	}
	d->next++;
	return v;
}

static inline u16 fetch16(struct cpu *c, struct insn *d)
{
	u16 v;

	if (likely(in_window(d, 2))) {
		memcpy(&v, d->win + (d->next - d->start), 2);
	} else {
		check_len(c, d, 2);
		v = code_read16(c, d->next);
	}
	d->next += 2;
	return v;
}

static inline u32 fetch32(struct cpu *c, struct insn *d)
{
	u32 v;

	if (likely(in_window(d, 4))) {
		memcpy(&v, d->win + (d->next - d->start), 4);
	} else {
		check_len(c, d, 4);
		v = code_read32(c, d->next);
	}
	d->next += 4;
	return v;
}

/* An immediate of the operand size (2 or 4 bytes), or of size bytes. */
u32 fetch_imm(struct cpu *c, struct insn *d, int size);
void decode_modrm(struct cpu *c, struct insn *d);

static inline u32 size_mask(int size)
{
	return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

static inline u32 sext(u32 v, int size)
{
	return size == 1 ? (u32)(s32)(s8)v :
	       size == 2 ? (u32)(s32)(s16)v : v;
}

static inline u32 get_reg(const struct cpu *c, int r, int size)
{
	if (size == 1)
		return get_reg8(c, r);
	return size == 2 ? (u16)c->r[r] : c->r[r];
}

static inline void set_reg(struct cpu *c, int r, u32 v, int size)
{
	if (size == 1)
		set_reg8(c, r, (u8)v);
	else if (size == 2)
		set_reg16(c, r, (u16)v);
	else
		c->r[r] = v;
}

/* The segment for a memory operand without ModRM (moffs, XLAT, string
 * sources): DS unless overridden. */
static inline int data_seg(const struct insn *d)
{
	return d->seg_override >= 0 ? d->seg_override : S_DS;
}

/* A memory-only operand (LEA, LDS, BOUND, ...): #UD for a register. */
static inline void need_mem(struct cpu *c, struct insn *d)
{
	if (d->mod == 3)
		cpu_ud(c);
}

static inline u32 rm_read(struct cpu *c, struct insn *d, int size)
{
	if (d->mod == 3)
		return get_reg(c, d->rm, size);
	return mem_read_fast(c, d->seg, d->ea, size);
}

static inline u32 rm_read_rmw(struct cpu *c, struct insn *d, int size)
{
	if (d->mod == 3)
		return get_reg(c, d->rm, size);
	return mem_read_rmw(c, d->seg, d->ea, size);
}

static inline void rm_write(struct cpu *c, struct insn *d, u32 v, int size)
{
	if (d->mod == 3)
		set_reg(c, d->rm, v, size);
	else
		mem_write_fast(c, d->seg, d->ea, v, size);
}

/* EIP after a near branch: truncated to 16 bits for a 16-bit operand. */
void jump_near(struct cpu *c, struct insn *d, u32 target);

static inline int iopl(struct cpu *c)
{
	return (c->eflags >> 12) & 3;
}

/* #GP(0) unless CPL is 0 (privileged instructions). */
void need_cpl0(struct cpu *c);
/* #UD unless in protected mode outside virtual-8086 mode. */
void need_pmode(struct cpu *c);
/* #UD if a LOCK prefix came with this instruction. */
void no_lock(struct cpu *c, struct insn *d);

/* LDS LES LFS LGS LSS: the ModRM operand is a far pointer. */
void exec_load_far(struct cpu *c, struct insn *d, int sreg);

/* Port I/O with the permission check, for IN/OUT and INS/OUTS. */
u32 exec_in(struct cpu *c, u16 port, int size);
void exec_out(struct cpu *c, u16 port, u32 v, int size);

/* --- exec_0f.c, exec_string.c --- */

void exec_0f(struct cpu *c, struct insn *d);
void exec_string(struct cpu *c, struct insn *d, u8 op);

/* --- alu.c --- */

/*
 * The lazy flags' format (see alu.c): lf_op says which operation last set
 * the flags and at what size.  alu.c interprets it; the translator (jit.c)
 * writes it too, for the forms it runs as host code.
 */
enum {
	LF_NONE,	/* all flags in c->eflags */
	LF_ADD,		/* src1 + src2 */
	LF_ADC,		/* src1 + src2 + 1 (ADC with CF set) */
	LF_SUB,		/* src1 - src2 (SUB, CMP, NEG) */
	LF_SBB,		/* src1 - src2 - 1 (SBB with CF set) */
	LF_LOGIC,	/* CF = OF = AF = 0 */
	LF_RES,		/* CF, OF, AF in c->eflags */
};

/* lf_op = kind << 2 | log2(size) */
#define LF(kind, size) ((kind) << 2 | ((size) >> 1))
#define LF_KIND(op) ((op) >> 2)
#define LF_SIZE(op) (1 << ((op) & 3))

/* ADD OR ADC SBB AND SUB XOR CMP, by the 3-bit group-1 index. */
u32 alu_arith(struct cpu *c, int op, u32 a, u32 b, int size);
u32 alu_inc(struct cpu *c, u32 a, int size);
u32 alu_dec(struct cpu *c, u32 a, int size);
u32 alu_neg(struct cpu *c, u32 a, int size);
/* ZF/SF/PF from res, CF/OF/AF cleared (TEST, AND, ...). */
void alu_logic_flags(struct cpu *c, u32 res, int size);
/* Group 2: ROL ROR RCL RCR SHL SHR SAL SAR; count already masked. */
u32 alu_shift(struct cpu *c, int op, u32 a, u32 count, int size);
u32 alu_shld(struct cpu *c, u32 a, u32 b, u32 count, int size);
u32 alu_shrd(struct cpu *c, u32 a, u32 b, u32 count, int size);
/* ZF/SF/PF from res; CF, OF and AF as in the F_* bits of cf_of_af. */
void alu_set_res(struct cpu *c, u32 res, int size, u32 cf_of_af);
void alu_mul(struct cpu *c, int size, u32 b, bool sign);
void alu_div(struct cpu *c, int size, u32 b, bool sign);
/* Read and set single flags (folds lazy flags as needed). */
bool alu_cf(struct cpu *c);
void alu_set_flag(struct cpu *c, u32 flag, bool on);

#endif
