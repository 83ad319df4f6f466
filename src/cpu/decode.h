/*
 * The instruction decoder: x86 bytes in, one decoded form out.
 *
 * Every part of the CPU that needs to know what an instruction's bytes
 * mean asks decode(): the interpreter (exec.c) before it runs an
 * instruction, the decoded-instruction cache and through it the
 * translator (exec_fast.c, jit.c).  Prefixes, REX, the opcode maps, ModRM
 * and SIB, displacements and immediates are read here and nowhere else,
 * so a new instruction form, or a whole new mode (64-bit code), is
 * taught to the CPU once.
 *
 * The decoder knows the structure of every instruction an x86-64 of the
 * SSE2 era defines, in 16-, 32- and 64-bit code, including forms the CPU
 * does not run yet: their length is still right, and whoever executes
 * the decoded form refuses them with #UD.  It touches no CPU state: the
 * bytes come in a buffer, so the same code decodes from guest RAM, from
 * a test's array or from a fuzzer.
 */
#ifndef LGUEST_CPU_DECODE_H
#define LGUEST_CPU_DECODE_H

#include "../types.h"

#define MAX_INSN_LEN 15

/* Register numbers in base/index: 0..15, or one of these. */
#define DR_NONE 0xff	/* no base or index register */
#define DR_RIP  0x10	/* 64-bit code: relative to the next instruction */

/* Opcode maps. */
enum { MAP_1B, MAP_0F, MAP_0F38, MAP_0F3A };

/* Immediate kinds (struct insn's imm_kind), as the SDM's operand notation
 * names them; the decoder has already read the bytes. */
enum {
	IMM_NONE,
	IMM_B,		/* Ib, Jb: one byte */
	IMM_W,		/* Iw: two bytes */
	IMM_Z,		/* Iz, Jz: two bytes for 16-bit operands, else four */
	IMM_V,		/* Iv: the operand size (MOV r, imm: eight with REX.W) */
	IMM_O,		/* Ob, Ov: an offset of the address size */
	IMM_A,		/* Ap: offset (Iz) and a 16-bit selector in imm2 */
	IMM_WB,		/* ENTER Iw, Ib: imm and imm2 */
};

/*
 * One decoded instruction.  Sizes are in bytes.  opsize is the size of the
 * opcode's "v" operands (2, 4 or 8); byte forms use 1 whatever it says.
 * reg and rm include REX.R and REX.B; for a memory operand (mod != 3)
 * base, index, scale and disp describe the address (index is never
 * a stack pointer, base may be DR_RIP in 64-bit code).
 *
 * The fields after "execution" belong to whoever runs the instruction:
 * the interpreter keeps the address it computed and the EIP a branch
 * goes to there.
 */
struct insn {
	u8 len;
	u8 mode;		/* code size: 2, 4 or 8 (64-bit mode) */
	u8 opsize;
	u8 adsize;
	s8 seg_override;	/* S_*, or -1 (and always -1 for ES, CS,
				 * SS, DS overrides in 64-bit mode) */
	u8 rep;			/* 0, 0xf2 or 0xf3: the last one given */
	bool lock;
	bool opsize_prefix;	/* 66 was given (SSE: a mandatory prefix) */
	u8 rex;			/* 0x40..0x4f, or 0 */
	u8 map;			/* MAP_* */
	u8 op;			/* the opcode byte within its map */
	bool has_modrm;
	u8 modrm, mod, reg, rm;
	u8 base, index, scale;	/* scale is the shift count, 0..3 */
	u8 def_seg;		/* S_SS for a stack-based address, else S_DS */
	u8 imm_kind;		/* IMM_* */
	s32 disp;
	u64 imm;		/* the first immediate, zero-extended */
	u16 imm2;		/* ENTER's level, a far pointer's selector */
	const struct opdesc *desc;

	/* Execution. */
	u64 start;		/* RIP of the first byte */
	u64 next;		/* RIP after it; branches change it */
	int seg;		/* segment of the memory operand */
	u64 ea;			/* its offset, once insn_address() ran */
};

/*
 * What the tables say of an opcode: its mnemonic and operands in the
 * SDM's notation ("Ev,Gv", "Gv,Ev,Iz") and properties the decoder and the
 * executor both need (the D_* flags).
 */
struct opdesc {
	const char *name;
	const char *operands;
	u16 flags;
	u8 lock_regs;		/* LOCK allowed with a memory operand and a
				 * ModRM reg field whose bit is set here */
	u8 pfx;			/* P_*: the prefixes this form exists with
				 * (MMX/SSE rows); 0 for any */
};

/* The mandatory prefix of an MMX/SSE form: none, 66, F3 or F2 (the last
 * F2/F3 given wins; 66 counts only without them). */
#define P_NP  0x01
#define P_66  0x02
#define P_F3  0x04
#define P_F2  0x08
#define P_ALL 0x0f

#define D_I64   0x01	/* invalid in 64-bit mode */
#define D_O64   0x02	/* valid only in 64-bit mode */
#define D_D64   0x04	/* 64-bit mode: operand size 64 unless 66 */
#define D_F64   0x08	/* 64-bit mode: operand size always 64 */
#define D_BAD   0x10	/* undefined opcode: #UD */
#define D_GRP   0x20	/* the ModRM reg field picks the instruction */
#define D_MOD3  0x40	/* with mod 3, other instructions (the rm field
			 * names them): no memory-only check */

/* Results of decode() besides a length. */
#define DECODE_MORE  0	/* the bytes ran out: give more (up to 15) */
#define DECODE_UD   -1	/* an undefined opcode: #UD */
#define DECODE_LONG -2	/* longer than 15 bytes: #GP(0) */

/*
 * Decode the instruction at bytes[0..avail) for code of the given size
 * (2, 4 or 8).  Returns its length, or one of DECODE_*.  With avail = 15
 * the answer is never DECODE_MORE.
 */
int decode(const u8 *bytes, u32 avail, int mode, struct insn *d);

/* The descriptions, for tests and coverage tables: map, opcode and (for
 * group opcodes) the ModRM reg field; NULL where nothing is defined. */
const struct opdesc *decode_desc(int map, u8 op, int reg);

#endif
