/*
 * Decoded instructions, shared by the two fast paths: the interpreter's
 * decoded-instruction cache (exec_fast.c) and the translator (jit.c).
 *
 * An entry is what one instruction of 32-bit or 64-bit code decodes to: a
 * handler for its exact form and its operands.  The same bytes mean
 * different things in the two modes, so the entry says which it was
 * decoded for (mode) and is used only in that one.  Handlers run the instruction
 * under exec.c's rules: every read and every check before the first change
 * of state, and EIP moves last, so that a fault leaves EIP and ESP where
 * the instruction began.  Only the common forms have handlers; for the
 * rest dc_decode() says no and the interpreter (exec.c) runs them.
 * Both start from the one decoder's struct insn (decode.c).
 */
#ifndef LGUEST_CPU_FAST_H
#define LGUEST_CPU_FAST_H

#include "cpu_internal.h"

/*
 * Register numbers are 0..15; a byte register named with a REX prefix has
 * REG8_REX added (cpu_internal.h), so these two lie above both.
 */
#define DC_NONE 0x20	/* no base or index register; rm: a memory form */
#define DC_RIP 0x21	/* base: the next instruction (64-bit code) */

struct dinsn {
	const u8 *host;		/* where the bytes were, NULL when empty */
	u64 raw[2];		/* the instruction's bytes, zero-padded */
	void (*fn)(struct cpu *c, const struct dinsn *di);
	u32 disp;		/* displacement (signed in 64-bit code), moffs */
	u64 imm;		/* immediate, or rel for branches, extended to
				 * 64 bits as the form says (sign or zero) */
	u8 len;			/* 0: slow entry (raw[0] holds the first byte) */
	u8 mode;		/* 4: 32-bit code, 8: 64-bit code */
	u8 op;			/* ALU op, condition code, shift op */
	u8 size;		/* operand size in bytes */
	u8 osize;		/* the instruction's own operand size (MOVZX's
				 * destination, where size is the source's) */
	u8 reg, rm;		/* ModRM reg; rm register for mod 3 */
	u8 base, index, scale;	/* memory operand; DC_NONE if absent */
	u8 seg;
	u8 flow;		/* DF_*: how the instruction leaves EIP */
	u8 kind;		/* DK_*: for the translator */
	u8 mem;			/* touches memory (may reach a device) */
};

typedef void (*dc_fn)(struct cpu *c, const struct dinsn *di);

/* What an instruction does to EIP, for the translator's block ends. */
enum {
	DF_NEXT,	/* falls through */
	DF_JCC,		/* EIP + len, or that + imm */
	DF_JMP,		/* EIP + len + imm */
	DF_CALL,	/* EIP + len + imm, pushing EIP + len */
	DF_RET,		/* popped from the stack */
	DF_INDIRECT,	/* target computed at run time (CALL, JMP r/m) */
	DF_LEAVE,	/* EIP from the handler, which may have changed what
			 * translated code takes as given (a segment, the
			 * CPL, EFLAGS.TF): back to the dispatcher */
};

/*
 * Forms the translator turns into host code of its own, with 32-bit
 * operands (64-bit ones in 64-bit code) but for MOV, the ALU, TEST, INC
 * and DEC, which come at every size (dc_kind()); for DK_CALL (every other
 * form) it calls di->fn.
 */
enum {
	DK_CALL,
	DK_MOV_RM_R,	/* r[rm] = r[reg] */
	DK_MOV_R_RM,	/* r[reg] = r[rm] */
	DK_MOV_RI,	/* r[rm] = imm */
	DK_LOAD,	/* r[reg] = [ea] */
	DK_STORE,	/* [ea] = r[reg] */
	DK_LEA,		/* r[reg] = ea */
	DK_ALU_RM_R,	/* r[rm] = r[rm] op r[reg]; op 7 (CMP): flags only */
	DK_ALU_R_RM,	/* r[reg] = r[reg] op r[rm] */
	DK_ALU_RI,	/* r[rm] = r[rm] op imm */
	DK_ALU_R_M,	/* r[reg] = r[reg] op [ea] */
	DK_TEST_RR,	/* flags of r[rm] & r[reg] */
	DK_TEST_RI,	/* flags of r[rm] & imm */
	DK_INC,		/* r[reg] + 1 */
	DK_DEC,		/* r[reg] - 1 */
	DK_PUSH,	/* push r[reg] */
	DK_PUSH_I,	/* push imm */
	DK_PUSH_M,	/* push [ea] */
	DK_X87,		/* an x87 instruction: op, ModRM in imm */
	DK_POP,		/* pop r[reg] */
	DK_JCC,		/* flow DF_JCC, condition op */
	DK_JMP,		/* flow DF_JMP */
	DK_CALLREL,	/* flow DF_CALL */
	DK_RET,		/* near RET */
	DK_SHIFT_RI,	/* r[rm] = r[rm] shifted (op) by imm (0..31) */
	DK_SHIFT_CL,	/* r[rm] = r[rm] shifted (op) by CL */
	DK_SHIFT_M,	/* memory shifted (op) by imm */
	DK_MOVX_R,	/* r[reg] = reg8/16 rm, zero- (op 0) or sign-extended */
	DK_LOADX,	/* r[reg] = byte/word [ea], the same */
	DK_STORE_I,	/* [ea] = imm */
	DK_ALU_M_R,	/* [ea] = [ea] op r[reg]; op 7 (CMP): flags only */
	DK_ALU_M_I,	/* [ea] = [ea] op imm */
	DK_TEST_M_R,	/* flags of [ea] & r[reg] */
	DK_TEST_M_I,	/* flags of [ea] & imm */
	DK_IMUL,	/* r[reg] = r[reg] * r/m, signed, low half */
	DK_IMUL3,	/* r[reg] = r/m * imm, the same */
	DK_SETCC_R,	/* rm8 = condition op */
	DK_CMOV_RR,	/* r[reg] = condition op ? r[rm] : r[reg] */
	DK_CMOV_RM,	/* r[reg] = condition op ? [ea] : r[reg] */
	DK_MUL,		/* eDX:eAX = eAX * r/m, unsigned (op 0), signed (1) */
	DK_INCDEC_M,	/* [ea] + 1 (op 0) or - 1 (op 1) */
	DK_NOT,		/* r/m = ~r/m */
	DK_NEG,		/* r/m = 0 - r/m */
	DK_SSE,		/* an XMM form sse_jit_form() describes */
	DK_NOP,		/* nothing but EIP: NOP, PAUSE, the hint NOPs */
	DK_FENCE,	/* LFENCE, MFENCE, SFENCE: op is ModRM.reg 5, 6, 7 */
	DK_BSWAP,	/* r[rm] byte-reversed, 4 or 8 bytes */
	DK_CLD_STD,	/* DF cleared (op 0xfc) or set (0xfd) */
	DK_CLI_STI,	/* IF cleared (op 0xfa) or set (0xfb) */
	DK_PUSHF,	/* push EFLAGS, of the stack's width */
	DK_SHXD,	/* r[rm] = SHLD (op 0), SHRD (1) of r[rm], r[reg] by
			 * imm, or by CL with op | 2; 4 or 8 bytes */
	DK_JMP_IND,	/* JMP r/m of the mode's width (flow DF_INDIRECT) */
	DK_CALL_IND,	/* CALL r/m, the same */
	DK_LEAVE,	/* ESP = EBP + width, EBP = [EBP] (the mode's width) */
	DK_XCHG_M,	/* XCHG [ea], r[reg], 4 or 8 bytes */
	DK_CMPXCHG_M,	/* CMPXCHG [ea], r[reg], 4 or 8 bytes */
	DK_BITSCAN,	/* r[reg] = BSF (op 0) or BSR (1) of r[rm], 4 or 8 */
	DK_MOVS,	/* MOVS, STOS, LODS without REP, of 32-bit code */
	DK_STOS,
	DK_LODS,
	DK_REP_STR,	/* REP MOVS or STOS (op the opcode) of 32-bit
			 * code and addresses, or 64-bit code and
			 * addresses; the flow is the handler's
			 * (DF_INDIRECT: it may stop part way) */
	DK_BT,		/* BT (op 0), BTS, BTR, BTC (1-3) of r/m by
			 * r[reg], or by imm with op | 4; 4 or 8 bytes */
};

/*
 * The operands of an entry, for the handlers in exec_fast.c and sse.c.
 * The same handlers serve 32-bit and 64-bit code; di->mode says which the
 * entry was decoded for.  In 32-bit code addresses and EIP wrap at 32
 * bits; in 64-bit code they are 64 bits wide, a displacement is signed
 * and RIP-relative addresses count from the next instruction.
 */
static inline u64 dc_ea(const struct cpu *c, const struct dinsn *di)
{
	u64 ea = (u64)(s64)(s32)di->disp;

	if (di->base == DC_RIP)
		ea += c->rip + di->len;
	else if (di->base != DC_NONE)
		ea += c->r[di->base].q;
	if (di->index != DC_NONE)
		ea += c->r[di->index].q << di->scale;
	return di->mode == 8 ? ea : (u32)ea;
}

static inline u64 dc_next(const struct cpu *c, const struct dinsn *di)
{
	return di->mode == 8 ? c->rip + di->len : (u32)(c->eip + di->len);
}

/* EIP (RIP) past the instruction: how most handlers end. */
static inline void dc_advance(struct cpu *c, const struct dinsn *di)
{
	if (di->mode == 8)
		c->rip += di->len;
	else
		c->eip += di->len;
}

/*
 * MMX, SSE and SSE2 forms decoded once (sse.c): the handler for the
 * decoded instruction d, its operands already in di (reg, rm, the memory
 * operand and seg as for every entry, osize 8 for REX.W), or NULL for the
 * forms sse_exec() is left to run from a fresh decode: 0F AE (but the
 * fences), EMMS, and any form that is #UD whatever the machine's state.  It sets di->op (the
 * opcode), di->size (the mandatory prefix, sse.c's PX_*) and di->imm.
 */
struct insn;
dc_fn sse_form(const struct insn *d, struct dinsn *di);

/*
 * How the translator (jit.c) may run an XMM form of an entry as the very
 * same instruction on the host, with its operands moved to host ones:
 * the shapes of h_sse_x(), h_sse_x_store() and h_sse_g() (sse.c), by
 * which ModRM operand is the XMM register, the general one or memory.
 */
enum {
	SJ_XX,		/* xmm[reg] = xmm[reg] op xmm/m */
	SJ_XSTORE,	/* xmm/m = xmm[reg] (MOVAPS, MOVSD... to r/m) */
	SJ_GIN,		/* xmm[reg] = from r/m32 or r/m64 (MOVD, CVTSI2SD) */
	SJ_GOUT,	/* r[reg] = from xmm/m (PMOVMSKB, CVTTSD2SI) */
	SJ_EOUT,	/* r/m32 or r/m64 = from xmm[reg] (MOVD) */
};

struct sse_jit {
	u8 shape;	/* SJ_* */
	u8 prefix;	/* the mandatory prefix byte, or 0 */
	u8 msize;	/* bytes of the memory operand */
	bool align;	/* ... which must be 16-byte aligned */
	bool write;	/* ... which is written, not read */
	bool fp;	/* may raise a SIMD exception: needs the guest's MXCSR */
	bool imm;	/* an immediate byte follows the ModRM */
	bool rex_w;	/* REX.W: a 64-bit general operand */
};

/* Whether entry di (an MMX/SSE one, sse_form()) fits one of those
 * shapes; f (if not NULL) says how. */
bool sse_jit_form(const struct dinsn *di, struct sse_jit *f);

/*
 * Decode the instruction at h (code of the given mode: 4 for 32-bit, 8 for
 * 64-bit; avail bytes readable) into di, handler included.  Returns its length, or 0 if it has no handler here.
 * Besides the fast forms, x87 instructions get a handler that runs them
 * through the interpreter (they change nothing a translated block
 * depends on, so blocks need not end at them).
 */
u32 dc_decode(const u8 *h, u32 avail, int mode, struct dinsn *di);
void h_straddle(struct cpu *c, const struct dinsn *di);

#endif
