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
#include "decode.h"

/*
 * The instruction being run is a struct insn, decoded by decode.c before
 * its first handler runs: its ModRM fields, immediates and prefixes are
 * there.  Only the address of a memory operand waits for
 * insn_address(), because it depends on registers at the moment the
 * handler asks (POP to memory uses ESP after the pop).
 */
void insn_address(struct cpu *c, struct insn *d);

static inline u64 size_mask(int size)
{
	return size == 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

/* v sign-extended from size bytes to 64 bits: truncated to 32 bits, the
 * same as sign-extending to 32. */
static inline u64 sext(u64 v, int size)
{
	return size == 1 ? (u64)(s64)(s8)v :
	       size == 2 ? (u64)(s64)(s16)v :
	       size == 4 ? (u64)(s64)(s32)v : v;
}

static inline u64 get_reg(const struct cpu *c, int r, int size)
{
	if (size == 1)
		return get_reg8(c, r);
	return size == 2 ? c->r[r].w : size == 4 ? c->r[r].d : c->r[r].q;
}

/* A 32-bit write clears the upper half, as 64-bit mode demands (outside
 * it the upper half is undefined, so clearing it is as good as any). */
static inline void set_reg(struct cpu *c, int r, u64 v, int size)
{
	if (size == 1)
		set_reg8(c, r, (u8)v);
	else if (size == 2)
		set_reg16(c, r, (u16)v);
	else if (size == 4)
		c->r[r].q = (u32)v;
	else
		c->r[r].q = v;
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

/* Register r as an operand of size bytes: a byte register is named
 * differently when a REX prefix came (REG8_REX, cpu_internal.h). */
static inline int reg_for(const struct insn *d, int r, int size)
{
	return size == 1 && d->rex ? r | REG8_REX : r;
}

/* The ModRM reg operand. */
static inline u64 reg_read(struct cpu *c, const struct insn *d, int size)
{
	return get_reg(c, reg_for(d, d->reg, size), size);
}

static inline void reg_write(struct cpu *c, const struct insn *d, u64 v,
			     int size)
{
	set_reg(c, reg_for(d, d->reg, size), v, size);
}

/* The register an opcode names in its low three bits (50+r, B8+r, ...),
 * REX.B extending it. */
static inline int op_reg(const struct insn *d)
{
	return (d->op & 7) | (d->rex & 1 ? 8 : 0);
}

/* The immediate of a "z" operand (Iz): 32 bits sign-extended for a
 * 64-bit operand size. */
static inline u64 imm_z(const struct insn *d)
{
	return d->opsize == 8 ? sext(d->imm, 4) : d->imm;
}

/* The offset of a Jz branch: 16 bits, or 32 sign-extended. */
static inline u64 rel_z(const struct insn *d)
{
	return d->opsize == 2 ? d->imm : sext(d->imm, 4);
}

static inline u64 rm_read(struct cpu *c, struct insn *d, int size)
{
	if (d->mod == 3)
		return get_reg(c, reg_for(d, d->rm, size), size);
	return mem_read_fast(c, d->seg, d->ea, size);
}

static inline u64 rm_read_rmw(struct cpu *c, struct insn *d, int size)
{
	if (d->mod == 3)
		return get_reg(c, reg_for(d, d->rm, size), size);
	return mem_read_rmw(c, d->seg, d->ea, size);
}

static inline void rm_write(struct cpu *c, struct insn *d, u64 v, int size)
{
	if (d->mod == 3)
		set_reg(c, reg_for(d, d->rm, size), v, size);
	else
		mem_write_fast(c, d->seg, d->ea, v, size);
}

/* RIP after a near branch: truncated to 16 bits for a 16-bit operand, to
 * 32 outside 64-bit code; checked against CS's limit, or for being
 * canonical in 64-bit code. */
void jump_near(struct cpu *c, struct insn *d, u64 target);

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

/* IMUL reg, a * b (two- and three-operand forms). */
void exec_imul(struct cpu *c, struct insn *d, u64 a, u64 b);

/* LDS LES LFS LGS LSS: the ModRM operand is a far pointer. */
void exec_load_far(struct cpu *c, struct insn *d, int sreg);

/* Port I/O with the permission check, for IN/OUT and INS/OUTS. */
u32 exec_in(struct cpu *c, u16 port, int size);
void exec_out(struct cpu *c, u16 port, u32 v, int size);

/* --- exec_0f.c, exec_string.c --- */

void exec_0f(struct cpu *c, struct insn *d);
void exec_string(struct cpu *c, struct insn *d, u8 op);
bool exec_rep_quick(struct cpu *c, u8 op, u32 size, int src);
void exec_cli_sti(struct cpu *c, bool sti);

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
	LF_HOST,	/* all six as the host's LAHF (bits 8-15 of lf_res)
			 * and SETO (bit 0) saved them: the translator's */
};

/* lf_op = kind << 2 | log2(size) */
#define LF(kind, size) ((kind) << 2 | __builtin_ctz(size))
#define LF_KIND(op) ((op) >> 2)
#define LF_SIZE(op) (1 << ((op) & 3))

/*
 * A rotate on top of any of the above (the translator's, jit.c): its
 * second byte says a ROL or ROR of which size came last, whose CF and OF
 * replace the recorded operation's and come from its result in lf_rot.
 * The kind then reads as none of LF_*, so whoever answers from the kind
 * alone takes the long way, through lazy_flags().
 */
#define LF_ROT(right, size) \
	((1u + (right)) << 8 | (u32)__builtin_ctz(size) << 10)
#define LF_BASE(op) ((op) & 0xff)

/*
 * A BT, BTS, BTR or BTC on top of any of those, a rotate included (the
 * translator's too): the third byte says one came last (LF_BT_ON) and
 * holds the CF it left (LF_BT_CF); the other five flags are the ones
 * below it.  A rotate after it clears that byte, for its CF wins.
 */
#define LF_BT_ON (1u << 16)
#define LF_BT_CF (1u << 17)

/* ADD OR ADC SBB AND SUB XOR CMP, by the 3-bit group-1 index. */
u64 alu_arith(struct cpu *c, int op, u64 a, u64 b, int size);
u64 alu_inc(struct cpu *c, u64 a, int size);
u64 alu_dec(struct cpu *c, u64 a, int size);
u64 alu_neg(struct cpu *c, u64 a, int size);
/* ZF/SF/PF from res, CF/OF/AF cleared (TEST, AND, ...). */
void alu_logic_flags(struct cpu *c, u64 res, int size);
/* Group 2: ROL ROR RCL RCR SHL SHR SAL SAR; count already masked. */
u64 alu_shift(struct cpu *c, int op, u64 a, u32 count, int size);
u64 alu_shld(struct cpu *c, u64 a, u64 b, u32 count, int size);
u64 alu_shrd(struct cpu *c, u64 a, u64 b, u32 count, int size);
/* ZF/SF/PF from res; CF, OF and AF as in the F_* bits of cf_of_af. */
void alu_set_res(struct cpu *c, u64 res, int size, u32 cf_of_af);
void alu_mul(struct cpu *c, int size, u64 b, bool sign);
void alu_div(struct cpu *c, int size, u64 b, bool sign);
/* Read and set single flags (folds lazy flags as needed). */
bool alu_cf(struct cpu *c);
void alu_set_flag(struct cpu *c, u32 flag, bool on);

#endif
