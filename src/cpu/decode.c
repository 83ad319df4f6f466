/*
 * The instruction decoder (decode.h says what it is for).
 *
 * An opcode is a row in a table, written as the SDM's opcode maps write
 * it: a mnemonic and the operands in the manual's notation, "Ev,Gv" or
 * "Gv,Ev,Iz".  The notation says everything the decoder needs to know: a
 * capital letter followed by a size is an addressing method (E, G, M,
 * ... take a ModRM byte; I, J, O, A are immediates that follow it), while
 * fixed operands (AL, eAX, CL, 1) take no bytes.  Each row is read once,
 * when the program starts, into the small form decode() consults.
 * Adding an instruction is adding a row.
 *
 * Opcodes whose ModRM reg field selects the instruction ("groups": 80,
 * F7, FF, 0F 01, ...) have a row of eight beside the main table.
 */
#include <stddef.h>
#include <string.h>

#include "decode.h"
#include "cpu_internal.h"

#define ROW(n, o, f) { n, o, f, 0, 0 }
#define RMW(n, o, f) { n, o, f, 0xff, 0 }	/* LOCK allowed on a memory dest */
#define GRP(n, f) { n, "", (f) | D_GRP, 0, 0 }
#define BAD { NULL, "", D_BAD, 0, 0 }

#define ALU(n, base)						\
	[base + 0] = RMW(n, "Eb,Gb", 0),			\
	[base + 1] = RMW(n, "Ev,Gv", 0),			\
	[base + 2] = ROW(n, "Gb,Eb", 0),			\
	[base + 3] = ROW(n, "Gv,Ev", 0),			\
	[base + 4] = ROW(n, "AL,Ib", 0),			\
	[base + 5] = ROW(n, "rAX,Iz", 0)

#define EIGHT(first, row)					\
	[first + 0] = row, [first + 1] = row, [first + 2] = row,	\
	[first + 3] = row, [first + 4] = row, [first + 5] = row,	\
	[first + 6] = row, [first + 7] = row

/* The one-byte opcode map. */
static const struct opdesc map_1b[256] = {
	ALU("add", 0x00), ALU("or", 0x08), ALU("adc", 0x10), ALU("sbb", 0x18),
	ALU("and", 0x20), ALU("sub", 0x28), ALU("xor", 0x30),
	[0x38] = ROW("cmp", "Eb,Gb", 0), [0x39] = ROW("cmp", "Ev,Gv", 0),
	[0x3a] = ROW("cmp", "Gb,Eb", 0), [0x3b] = ROW("cmp", "Gv,Ev", 0),
	[0x3c] = ROW("cmp", "AL,Ib", 0), [0x3d] = ROW("cmp", "rAX,Iz", 0),
	[0x06] = ROW("push", "ES", D_I64), [0x07] = ROW("pop", "ES", D_I64),
	[0x0e] = ROW("push", "CS", D_I64), [0x0f] = BAD,	/* escape */
	[0x16] = ROW("push", "SS", D_I64), [0x17] = ROW("pop", "SS", D_I64),
	[0x1e] = ROW("push", "DS", D_I64), [0x1f] = ROW("pop", "DS", D_I64),
	[0x26] = BAD, [0x2e] = BAD, [0x36] = BAD, [0x3e] = BAD, /* prefixes */
	[0x27] = ROW("daa", "", D_I64), [0x2f] = ROW("das", "", D_I64),
	[0x37] = ROW("aaa", "", D_I64), [0x3f] = ROW("aas", "", D_I64),
	/* 40-4F: INC and DEC, or REX prefixes in 64-bit mode */
	EIGHT(0x40, ROW("inc", "Zv", D_I64)),
	EIGHT(0x48, ROW("dec", "Zv", D_I64)),
	EIGHT(0x50, ROW("push", "Zv", D_D64)),
	EIGHT(0x58, ROW("pop", "Zv", D_D64)),
	[0x60] = ROW("pusha", "", D_I64), [0x61] = ROW("popa", "", D_I64),
	[0x62] = ROW("bound", "Gv,Ma", D_I64),
	[0x63] = ROW("arpl", "Ew,Gw", 0),	/* MOVSXD Gv,Ed in 64-bit */
	[0x64] = BAD, [0x65] = BAD, [0x66] = BAD, [0x67] = BAD,
	[0x68] = ROW("push", "Iz", D_D64),
	[0x69] = ROW("imul", "Gv,Ev,Iz", 0),
	[0x6a] = ROW("push", "Ib", D_D64),
	[0x6b] = ROW("imul", "Gv,Ev,Ib", 0),
	[0x6c] = ROW("insb", "", 0), [0x6d] = ROW("insw", "", 0),
	[0x6e] = ROW("outsb", "", 0), [0x6f] = ROW("outsw", "", 0),
	EIGHT(0x70, ROW("jcc", "Jb", D_F64)),
	EIGHT(0x78, ROW("jcc", "Jb", D_F64)),
	[0x80] = GRP("grp1", 0), [0x81] = GRP("grp1", 0),
	[0x82] = GRP("grp1", D_I64), [0x83] = GRP("grp1", 0),
	[0x84] = ROW("test", "Eb,Gb", 0), [0x85] = ROW("test", "Ev,Gv", 0),
	[0x86] = RMW("xchg", "Eb,Gb", 0), [0x87] = RMW("xchg", "Ev,Gv", 0),
	[0x88] = ROW("mov", "Eb,Gb", 0), [0x89] = ROW("mov", "Ev,Gv", 0),
	[0x8a] = ROW("mov", "Gb,Eb", 0), [0x8b] = ROW("mov", "Gv,Ev", 0),
	[0x8c] = ROW("mov", "Ev,Sw", 0), [0x8d] = ROW("lea", "Gv,M", 0),
	[0x8e] = ROW("mov", "Sw,Ew", 0), [0x8f] = GRP("grp1a", D_D64),
	[0x90] = ROW("nop", "", 0),
	[0x91] = ROW("xchg", "Zv,rAX", 0), [0x92] = ROW("xchg", "Zv,rAX", 0),
	[0x93] = ROW("xchg", "Zv,rAX", 0), [0x94] = ROW("xchg", "Zv,rAX", 0),
	[0x95] = ROW("xchg", "Zv,rAX", 0), [0x96] = ROW("xchg", "Zv,rAX", 0),
	[0x97] = ROW("xchg", "Zv,rAX", 0),
	[0x98] = ROW("cbw", "", 0), [0x99] = ROW("cwd", "", 0),
	[0x9a] = ROW("callf", "Ap", D_I64), [0x9b] = ROW("fwait", "", 0),
	[0x9c] = ROW("pushf", "", D_D64), [0x9d] = ROW("popf", "", D_D64),
	[0x9e] = ROW("sahf", "", 0), [0x9f] = ROW("lahf", "", 0),
	[0xa0] = ROW("mov", "AL,Ob", 0), [0xa1] = ROW("mov", "rAX,Ov", 0),
	[0xa2] = ROW("mov", "Ob,AL", 0), [0xa3] = ROW("mov", "Ov,rAX", 0),
	[0xa4] = ROW("movsb", "", 0), [0xa5] = ROW("movsw", "", 0),
	[0xa6] = ROW("cmpsb", "", 0), [0xa7] = ROW("cmpsw", "", 0),
	[0xa8] = ROW("test", "AL,Ib", 0), [0xa9] = ROW("test", "rAX,Iz", 0),
	[0xaa] = ROW("stosb", "", 0), [0xab] = ROW("stosw", "", 0),
	[0xac] = ROW("lodsb", "", 0), [0xad] = ROW("lodsw", "", 0),
	[0xae] = ROW("scasb", "", 0), [0xaf] = ROW("scasw", "", 0),
	EIGHT(0xb0, ROW("mov", "Zb,Ib", 0)),
	EIGHT(0xb8, ROW("mov", "Zv,Iv", 0)),
	[0xc0] = GRP("grp2", 0), [0xc1] = GRP("grp2", 0),
	[0xc2] = ROW("ret", "Iw", D_F64), [0xc3] = ROW("ret", "", D_F64),
	[0xc4] = ROW("les", "Gz,Mp", D_I64), [0xc5] = ROW("lds", "Gz,Mp", D_I64),
	[0xc6] = GRP("grp11", 0), [0xc7] = GRP("grp11", 0),
	[0xc8] = ROW("enter", "Iw,Ib", D_D64), [0xc9] = ROW("leave", "", D_D64),
	[0xca] = ROW("retf", "Iw", 0), [0xcb] = ROW("retf", "", 0),
	[0xcc] = ROW("int3", "", 0), [0xcd] = ROW("int", "Ib", 0),
	[0xce] = ROW("into", "", D_I64), [0xcf] = ROW("iret", "", 0),
	[0xd0] = GRP("grp2", 0), [0xd1] = GRP("grp2", 0),
	[0xd2] = GRP("grp2", 0), [0xd3] = GRP("grp2", 0),
	[0xd4] = ROW("aam", "Ib", D_I64), [0xd5] = ROW("aad", "Ib", D_I64),
	[0xd6] = ROW("salc", "", D_I64), [0xd7] = ROW("xlat", "", 0),
	EIGHT(0xd8, ROW("x87", "Ef", 0)),
	[0xe0] = ROW("loopne", "Jb", D_F64), [0xe1] = ROW("loope", "Jb", D_F64),
	[0xe2] = ROW("loop", "Jb", D_F64), [0xe3] = ROW("jcxz", "Jb", D_F64),
	[0xe4] = ROW("in", "AL,Ib", 0), [0xe5] = ROW("in", "eAX,Ib", 0),
	[0xe6] = ROW("out", "Ib,AL", 0), [0xe7] = ROW("out", "Ib,eAX", 0),
	[0xe8] = ROW("call", "Jz", D_F64), [0xe9] = ROW("jmp", "Jz", D_F64),
	[0xea] = ROW("jmpf", "Ap", D_I64), [0xeb] = ROW("jmp", "Jb", D_F64),
	[0xec] = ROW("in", "AL,DX", 0), [0xed] = ROW("in", "eAX,DX", 0),
	[0xee] = ROW("out", "DX,AL", 0), [0xef] = ROW("out", "DX,eAX", 0),
	[0xf0] = BAD, [0xf1] = ROW("icebp", "", 0),
	[0xf2] = BAD, [0xf3] = BAD,
	[0xf4] = ROW("hlt", "", 0), [0xf5] = ROW("cmc", "", 0),
	[0xf6] = GRP("grp3", 0), [0xf7] = GRP("grp3", 0),
	[0xf8] = ROW("clc", "", 0), [0xf9] = ROW("stc", "", 0),
	[0xfa] = ROW("cli", "", 0), [0xfb] = ROW("sti", "", 0),
	[0xfc] = ROW("cld", "", 0), [0xfd] = ROW("std", "", 0),
	[0xfe] = GRP("grp4", 0), [0xff] = GRP("grp5", 0),
};

/*
 * The two-byte map (0F xx).  The MMX, SSE and SSE2 rows are written for
 * their prefix-less form ("Pq,Qq"); with 66, F2 or F3 the same bytes
 * select other instructions of the same shape, which the executor tells
 * apart by struct insn's prefixes.
 */
#define SSE(n, o, p) { n, o, 0, 0, p }

static const struct opdesc map_0f[256] = {
	[0x00] = GRP("grp6", 0), [0x01] = GRP("grp7", 0),
	[0x02] = ROW("lar", "Gv,Ew", 0), [0x03] = ROW("lsl", "Gv,Ew", 0),
	[0x04] = BAD, [0x05] = ROW("syscall", "", D_O64),
	[0x06] = ROW("clts", "", 0), [0x07] = ROW("sysret", "", D_O64),
	[0x08] = ROW("invd", "", 0), [0x09] = ROW("wbinvd", "", 0),
	[0x0a] = BAD, [0x0b] = ROW("ud2", "", 0), [0x0c] = BAD,
	[0x0d] = ROW("prefetchw", "Ev", 0), [0x0e] = BAD, [0x0f] = BAD,
	[0x10] = SSE("movups", "Vx,Wx", P_ALL), [0x11] = SSE("movups", "Wx,Vx", P_ALL),
	[0x12] = SSE("movlps", "Vx,Wx", P_ALL), [0x13] = SSE("movlps", "Mq,Vx", P_NP | P_66),
	[0x14] = SSE("unpcklps", "Vx,Wx", P_NP | P_66), [0x15] = SSE("unpckhps", "Vx,Wx", P_NP | P_66),
	[0x16] = SSE("movhps", "Vx,Wx", P_NP | P_66 | P_F3), [0x17] = SSE("movhps", "Mq,Vx", P_NP | P_66),
	[0x18] = GRP("grp16", 0),
	[0x19] = ROW("nop", "Ev", 0), [0x1a] = ROW("nop", "Ev", 0),
	[0x1b] = ROW("nop", "Ev", 0), [0x1c] = ROW("nop", "Ev", 0),
	[0x1d] = ROW("nop", "Ev", 0), [0x1e] = ROW("nop", "Ev", 0),
	[0x1f] = ROW("nop", "Ev", 0),
	[0x20] = ROW("mov", "Ry,Cy", 0), [0x21] = ROW("mov", "Ry,Dy", 0),
	[0x22] = ROW("mov", "Cy,Ry", 0), [0x23] = ROW("mov", "Dy,Ry", 0),
	[0x24] = BAD, [0x25] = BAD, [0x26] = BAD, [0x27] = BAD,
	[0x28] = SSE("movaps", "Vx,Wx", P_NP | P_66), [0x29] = SSE("movaps", "Wx,Vx", P_NP | P_66),
	[0x2a] = SSE("cvtpi2ps", "Vx,Qq", P_ALL), [0x2b] = SSE("movntps", "Mx,Vx", P_NP | P_66),
	[0x2c] = SSE("cvttps2pi", "Pq,Wx", P_ALL), [0x2d] = SSE("cvtps2pi", "Pq,Wx", P_ALL),
	[0x2e] = SSE("ucomiss", "Vx,Wx", P_NP | P_66), [0x2f] = SSE("comiss", "Vx,Wx", P_NP | P_66),
	[0x30] = ROW("wrmsr", "", 0), [0x31] = ROW("rdtsc", "", 0),
	[0x32] = ROW("rdmsr", "", 0), [0x33] = ROW("rdpmc", "", 0),
	[0x34] = ROW("sysenter", "", 0), [0x35] = ROW("sysexit", "", 0),
	[0x36] = BAD, [0x37] = BAD, [0x38] = BAD, [0x39] = BAD,
	[0x3a] = BAD, [0x3b] = BAD, [0x3c] = BAD, [0x3d] = BAD,
	[0x3e] = BAD, [0x3f] = BAD,
	EIGHT(0x40, ROW("cmovcc", "Gv,Ev", 0)),
	EIGHT(0x48, ROW("cmovcc", "Gv,Ev", 0)),
	[0x50] = SSE("movmskps", "Gy,Ux", P_NP | P_66), [0x51] = SSE("sqrtps", "Vx,Wx", P_ALL),
	[0x52] = SSE("rsqrtps", "Vx,Wx", P_NP | P_F3), [0x53] = SSE("rcpps", "Vx,Wx", P_NP | P_F3),
	[0x54] = SSE("andps", "Vx,Wx", P_NP | P_66), [0x55] = SSE("andnps", "Vx,Wx", P_NP | P_66),
	[0x56] = SSE("orps", "Vx,Wx", P_NP | P_66), [0x57] = SSE("xorps", "Vx,Wx", P_NP | P_66),
	[0x58] = SSE("addps", "Vx,Wx", P_ALL), [0x59] = SSE("mulps", "Vx,Wx", P_ALL),
	[0x5a] = SSE("cvtps2pd", "Vx,Wx", P_ALL), [0x5b] = SSE("cvtdq2ps", "Vx,Wx", P_NP | P_66 | P_F3),
	[0x5c] = SSE("subps", "Vx,Wx", P_ALL), [0x5d] = SSE("minps", "Vx,Wx", P_ALL),
	[0x5e] = SSE("divps", "Vx,Wx", P_ALL), [0x5f] = SSE("maxps", "Vx,Wx", P_ALL),
	[0x60] = SSE("punpcklbw", "Pq,Qd", P_NP | P_66), [0x61] = SSE("punpcklwd", "Pq,Qd", P_NP | P_66),
	[0x62] = SSE("punpckldq", "Pq,Qd", P_NP | P_66), [0x63] = SSE("packsswb", "Pq,Qq", P_NP | P_66),
	[0x64] = SSE("pcmpgtb", "Pq,Qq", P_NP | P_66), [0x65] = SSE("pcmpgtw", "Pq,Qq", P_NP | P_66),
	[0x66] = SSE("pcmpgtd", "Pq,Qq", P_NP | P_66), [0x67] = SSE("packuswb", "Pq,Qq", P_NP | P_66),
	[0x68] = SSE("punpckhbw", "Pq,Qq", P_NP | P_66), [0x69] = SSE("punpckhwd", "Pq,Qq", P_NP | P_66),
	[0x6a] = SSE("punpckhdq", "Pq,Qq", P_NP | P_66), [0x6b] = SSE("packssdw", "Pq,Qq", P_NP | P_66),
	[0x6c] = SSE("punpcklqdq", "Vx,Wx", P_66),
	[0x6d] = SSE("punpckhqdq", "Vx,Wx", P_66),
	[0x6e] = SSE("movd", "Pq,Ey", P_NP | P_66), [0x6f] = SSE("movq", "Pq,Qq", P_NP | P_66 | P_F3),
	[0x70] = SSE("pshufw", "Pq,Qq,Ib", P_ALL),
	[0x71] = GRP("grp12", 0), [0x72] = GRP("grp13", 0),
	[0x73] = GRP("grp14", 0),
	[0x74] = SSE("pcmpeqb", "Pq,Qq", P_NP | P_66), [0x75] = SSE("pcmpeqw", "Pq,Qq", P_NP | P_66),
	[0x76] = SSE("pcmpeqd", "Pq,Qq", P_NP | P_66), [0x77] = ROW("emms", "", 0),
	[0x78] = BAD, [0x79] = BAD, [0x7a] = BAD, [0x7b] = BAD,
	[0x7c] = SSE("haddpd", "Vx,Wx", P_66 | P_F2), [0x7d] = SSE("hsubpd", "Vx,Wx", P_66 | P_F2),
	[0x7e] = SSE("movd", "Ey,Pq", P_NP | P_66 | P_F3), [0x7f] = SSE("movq", "Qq,Pq", P_NP | P_66 | P_F3),
	EIGHT(0x80, ROW("jcc", "Jz", D_F64)),
	EIGHT(0x88, ROW("jcc", "Jz", D_F64)),
	EIGHT(0x90, ROW("setcc", "Eb", 0)),
	EIGHT(0x98, ROW("setcc", "Eb", 0)),
	[0xa0] = ROW("push", "FS", D_D64), [0xa1] = ROW("pop", "FS", D_D64),
	[0xa2] = ROW("cpuid", "", 0), [0xa3] = ROW("bt", "Ev,Gv", 0),
	[0xa4] = ROW("shld", "Ev,Gv,Ib", 0), [0xa5] = ROW("shld", "Ev,Gv,CL", 0),
	[0xa6] = BAD, [0xa7] = BAD,
	[0xa8] = ROW("push", "GS", D_D64), [0xa9] = ROW("pop", "GS", D_D64),
	[0xaa] = ROW("rsm", "", 0), [0xab] = RMW("bts", "Ev,Gv", 0),
	[0xac] = ROW("shrd", "Ev,Gv,Ib", 0), [0xad] = ROW("shrd", "Ev,Gv,CL", 0),
	[0xae] = GRP("grp15", 0), [0xaf] = ROW("imul", "Gv,Ev", 0),
	[0xb0] = RMW("cmpxchg", "Eb,Gb", 0), [0xb1] = RMW("cmpxchg", "Ev,Gv", 0),
	[0xb2] = ROW("lss", "Gv,Mp", 0), [0xb3] = RMW("btr", "Ev,Gv", 0),
	[0xb4] = ROW("lfs", "Gv,Mp", 0), [0xb5] = ROW("lgs", "Gv,Mp", 0),
	[0xb6] = ROW("movzx", "Gv,Eb", 0), [0xb7] = ROW("movzx", "Gv,Ew", 0),
	[0xb8] = { "popcnt", "Gv,Ev", 0, 0, P_F3 }, [0xb9] = BAD,
	[0xba] = GRP("grp8", 0), [0xbb] = RMW("btc", "Ev,Gv", 0),
	[0xbc] = ROW("bsf", "Gv,Ev", 0), [0xbd] = ROW("bsr", "Gv,Ev", 0),
	[0xbe] = ROW("movsx", "Gv,Eb", 0), [0xbf] = ROW("movsx", "Gv,Ew", 0),
	[0xc0] = RMW("xadd", "Eb,Gb", 0), [0xc1] = RMW("xadd", "Ev,Gv", 0),
	[0xc2] = SSE("cmpps", "Vx,Wx,Ib", P_ALL), [0xc3] = SSE("movnti", "My,Gy", P_NP),
	[0xc4] = SSE("pinsrw", "Pq,Ew,Ib", P_NP | P_66), [0xc5] = SSE("pextrw", "Gd,Nq,Ib", P_NP | P_66),
	[0xc6] = SSE("shufps", "Vx,Wx,Ib", P_NP | P_66), [0xc7] = GRP("grp9", 0),
	EIGHT(0xc8, ROW("bswap", "Zv", 0)),
	[0xd0] = SSE("addsubpd", "Vx,Wx", P_66 | P_F2), [0xd1] = SSE("psrlw", "Pq,Qq", P_NP | P_66),
	[0xd2] = SSE("psrld", "Pq,Qq", P_NP | P_66), [0xd3] = SSE("psrlq", "Pq,Qq", P_NP | P_66),
	[0xd4] = SSE("paddq", "Pq,Qq", P_NP | P_66), [0xd5] = SSE("pmullw", "Pq,Qq", P_NP | P_66),
	[0xd6] = SSE("movq", "Wq,Vq", P_66 | P_F3 | P_F2), [0xd7] = SSE("pmovmskb", "Gd,Nq", P_NP | P_66),
	[0xd8] = SSE("psubusb", "Pq,Qq", P_NP | P_66), [0xd9] = SSE("psubusw", "Pq,Qq", P_NP | P_66),
	[0xda] = SSE("pminub", "Pq,Qq", P_NP | P_66), [0xdb] = SSE("pand", "Pq,Qq", P_NP | P_66),
	[0xdc] = SSE("paddusb", "Pq,Qq", P_NP | P_66), [0xdd] = SSE("paddusw", "Pq,Qq", P_NP | P_66),
	[0xde] = SSE("pmaxub", "Pq,Qq", P_NP | P_66), [0xdf] = SSE("pandn", "Pq,Qq", P_NP | P_66),
	[0xe0] = SSE("pavgb", "Pq,Qq", P_NP | P_66), [0xe1] = SSE("psraw", "Pq,Qq", P_NP | P_66),
	[0xe2] = SSE("psrad", "Pq,Qq", P_NP | P_66), [0xe3] = SSE("pavgw", "Pq,Qq", P_NP | P_66),
	[0xe4] = SSE("pmulhuw", "Pq,Qq", P_NP | P_66), [0xe5] = SSE("pmulhw", "Pq,Qq", P_NP | P_66),
	[0xe6] = SSE("cvttpd2dq", "Vx,Wx", P_66 | P_F3 | P_F2), [0xe7] = SSE("movntq", "Mq,Pq", P_NP | P_66),
	[0xe8] = SSE("psubsb", "Pq,Qq", P_NP | P_66), [0xe9] = SSE("psubsw", "Pq,Qq", P_NP | P_66),
	[0xea] = SSE("pminsw", "Pq,Qq", P_NP | P_66), [0xeb] = SSE("por", "Pq,Qq", P_NP | P_66),
	[0xec] = SSE("paddsb", "Pq,Qq", P_NP | P_66), [0xed] = SSE("paddsw", "Pq,Qq", P_NP | P_66),
	[0xee] = SSE("pmaxsw", "Pq,Qq", P_NP | P_66), [0xef] = SSE("pxor", "Pq,Qq", P_NP | P_66),
	[0xf0] = SSE("lddqu", "Vx,Mx", P_F2), [0xf1] = SSE("psllw", "Pq,Qq", P_NP | P_66),
	[0xf2] = SSE("pslld", "Pq,Qq", P_NP | P_66), [0xf3] = SSE("psllq", "Pq,Qq", P_NP | P_66),
	[0xf4] = SSE("pmuludq", "Pq,Qq", P_NP | P_66), [0xf5] = SSE("pmaddwd", "Pq,Qq", P_NP | P_66),
	[0xf6] = SSE("psadbw", "Pq,Qq", P_NP | P_66), [0xf7] = SSE("maskmovq", "Pq,Nq", P_NP | P_66),
	[0xf8] = SSE("psubb", "Pq,Qq", P_NP | P_66), [0xf9] = SSE("psubw", "Pq,Qq", P_NP | P_66),
	[0xfa] = SSE("psubd", "Pq,Qq", P_NP | P_66), [0xfb] = SSE("psubq", "Pq,Qq", P_NP | P_66),
	[0xfc] = SSE("paddb", "Pq,Qq", P_NP | P_66), [0xfd] = SSE("paddw", "Pq,Qq", P_NP | P_66),
	/* UD0: vendors disagree on whether a ModRM follows; it is #UD
	 * either way, so its length never matters. */
	[0xfe] = SSE("paddd", "Pq,Qq", P_NP | P_66), [0xff] = BAD,
};

/*
 * The three-byte maps (0F 38 xx, 0F 3A xx) hold SSSE3 and SSE4, which
 * this CPU does not have: every opcode there takes a ModRM byte (and in
 * 0F 3A an immediate byte), which is all the decoder needs to know, and
 * the executor answers #UD.
 */
static const struct opdesc map_0f38 = ROW("sse4", "Vx,Wx", 0);
static const struct opdesc map_0f3a = ROW("sse4", "Vx,Wx,Ib", 0);

/* 63 is ARPL outside 64-bit mode and MOVSXD in it. */
static const struct opdesc movsxd = ROW("movsxd", "Gv,Ed", 0);

/* The groups: the main row's reg field (0..7) picks one of these. */
struct group {
	u8 map, op;
	struct opdesc reg[8];
};

/* Group 1 (80-83): the eight ALU operations, CMP the one that writes
 * nothing; group 2 (C0 C1 D0-D3): the eight shifts and rotates. */
#define GRP1(op, o, f) { MAP_1B, op, { RMW("add", o, f), RMW("or", o, f),  \
	RMW("adc", o, f), RMW("sbb", o, f), RMW("and", o, f),		\
	RMW("sub", o, f), RMW("xor", o, f), ROW("cmp", o, f) } }
#define GRP2(op, o) { MAP_1B, op, { ROW("rol", o, 0), ROW("ror", o, 0), \
	ROW("rcl", o, 0), ROW("rcr", o, 0), ROW("shl", o, 0),		\
	ROW("shr", o, 0), ROW("sal", o, 0), ROW("sar", o, 0) } }

static const struct group groups[] = {
	GRP1(0x80, "Eb,Ib", 0), GRP1(0x81, "Ev,Iz", 0),
	GRP1(0x82, "Eb,Ib", D_I64), GRP1(0x83, "Ev,Ib", 0),
	{ MAP_1B, 0x8f, { ROW("pop", "Ev", D_D64), BAD, BAD, BAD,
			  BAD, BAD, BAD, BAD } },
	GRP2(0xc0, "Eb,Ib"), GRP2(0xc1, "Ev,Ib"),
	GRP2(0xd0, "Eb,1"), GRP2(0xd1, "Ev,1"),
	GRP2(0xd2, "Eb,CL"), GRP2(0xd3, "Ev,CL"),
	/* C6/C7 /7 with mod 3 are XABORT/XBEGIN (TSX): not ours. */
	{ MAP_1B, 0xc6, { ROW("mov", "Eb,Ib", 0), BAD, BAD, BAD,
			  BAD, BAD, BAD, BAD } },
	{ MAP_1B, 0xc7, { ROW("mov", "Ev,Iz", 0), BAD, BAD, BAD,
			  BAD, BAD, BAD, BAD } },
	{ MAP_1B, 0xf6, { ROW("test", "Eb,Ib", 0), ROW("test", "Eb,Ib", 0),
			  RMW("not", "Eb", 0), RMW("neg", "Eb", 0),
			  ROW("mul", "Eb", 0), ROW("imul", "Eb", 0),
			  ROW("div", "Eb", 0), ROW("idiv", "Eb", 0) } },
	{ MAP_1B, 0xf7, { ROW("test", "Ev,Iz", 0), ROW("test", "Ev,Iz", 0),
			  RMW("not", "Ev", 0), RMW("neg", "Ev", 0),
			  ROW("mul", "Ev", 0), ROW("imul", "Ev", 0),
			  ROW("div", "Ev", 0), ROW("idiv", "Ev", 0) } },
	{ MAP_1B, 0xfe, { RMW("inc", "Eb", 0), RMW("dec", "Eb", 0),
			  BAD, BAD, BAD, BAD, BAD, BAD } },
	{ MAP_1B, 0xff, { RMW("inc", "Ev", 0), RMW("dec", "Ev", 0),
			  ROW("call", "Ev", D_F64), ROW("callf", "Mp", 0),
			  ROW("jmp", "Ev", D_F64), ROW("jmpf", "Mp", 0),
			  ROW("push", "Ev", D_D64), BAD } },
	{ MAP_0F, 0x00, { ROW("sldt", "Ev", 0), ROW("str", "Ev", 0),
			  ROW("lldt", "Ew", 0), ROW("ltr", "Ew", 0),
			  ROW("verr", "Ew", 0), ROW("verw", "Ew", 0),
			  BAD, BAD } },
	/* With mod 3 the rm field names further instructions (MONITOR,
	 * SWAPGS, RDTSCP, ...): the executor reads it. */
	{ MAP_0F, 0x01, { ROW("sgdt", "Ms", D_MOD3), ROW("sidt", "Ms", D_MOD3),
			  ROW("lgdt", "Ms", D_MOD3), ROW("lidt", "Ms", D_MOD3),
			  ROW("smsw", "Ew", 0), BAD,
			  ROW("lmsw", "Ew", 0),
			  ROW("invlpg", "Mb", D_MOD3) } },
	{ MAP_0F, 0x18, { ROW("prefetchnta", "Mb", D_MOD3),
			  ROW("prefetcht0", "Mb", D_MOD3),
			  ROW("prefetcht1", "Mb", D_MOD3),
			  ROW("prefetcht2", "Mb", D_MOD3),
			  ROW("nop", "Ev", 0), ROW("nop", "Ev", 0),
			  ROW("nop", "Ev", 0), ROW("nop", "Ev", 0) } },
	{ MAP_0F, 0x71, { BAD, BAD, SSE("psrlw", "Nq,Ib", P_NP | P_66), BAD,
			  SSE("psraw", "Nq,Ib", P_NP | P_66), BAD,
			  SSE("psllw", "Nq,Ib", P_NP | P_66), BAD } },
	{ MAP_0F, 0x72, { BAD, BAD, SSE("psrld", "Nq,Ib", P_NP | P_66), BAD,
			  SSE("psrad", "Nq,Ib", P_NP | P_66), BAD,
			  SSE("pslld", "Nq,Ib", P_NP | P_66), BAD } },
	{ MAP_0F, 0x73, { BAD, BAD, SSE("psrlq", "Nq,Ib", P_NP | P_66),
			  SSE("psrldq", "Ux,Ib", P_66), BAD, BAD,
			  SSE("psllq", "Nq,Ib", P_NP | P_66), SSE("pslldq", "Ux,Ib", P_66) } },
	/* With mod 3: LFENCE, MFENCE, SFENCE (and RDFSBASE... with F3). */
	{ MAP_0F, 0xae, { ROW("fxsave", "M", 0), ROW("fxrstor", "M", 0),
			  ROW("ldmxcsr", "Md", 0), ROW("stmxcsr", "Md", 0),
			  ROW("xsave", "M", 0), ROW("xrstor", "M", D_MOD3),
			  ROW("xsaveopt", "M", D_MOD3),
			  ROW("clflush", "Mb", D_MOD3) } },
	{ MAP_0F, 0xba, { BAD, BAD, BAD, BAD,
			  ROW("bt", "Ev,Ib", 0), RMW("bts", "Ev,Ib", 0),
			  RMW("btr", "Ev,Ib", 0), RMW("btc", "Ev,Ib", 0) } },
	/* With mod 3: RDRAND (/6) and RDSEED (/7), which we do not have. */
	{ MAP_0F, 0xc7, { BAD, RMW("cmpxchg8b", "Mq", 0), BAD, BAD,
			  BAD, BAD, ROW("rdrand", "Rv", 0),
			  ROW("rdseed", "Rv", 0) } },
};

/* --- The rows, read --- */

/*
 * What decode() keeps of a row: whether a ModRM byte follows the opcode
 * and which immediates follow that.
 */
struct form {
	u8 modrm;	/* a ModRM byte follows */
	u8 imm;		/* IMM_*: the immediates after it */
	u8 mem_only;	/* an M operand: #UD for a register */
	u8 reg_only;	/* a U, N or R operand: #UD for memory */
	u8 force_reg;	/* C or D (MOV CRn/DRn): mod is ignored and the
			 * rm field is always a register */
	u8 sreg;	/* S: the reg field names a segment register */
};

static struct form form_1b[256], form_0f[256];
static struct form form_grp[ARRAY_SIZE(groups)][8];
static struct form form_0f38, form_0f3a, form_movsxd;
static s8 group_of[2][256];	/* index into groups[], or -1 */

static bool is_method(const char *t)
{
	return t[0] >= 'A' && t[0] <= 'Z' &&
	       (t[1] == 0 || t[1] == ',' || (t[1] >= 'a' && t[1] <= 'z'));
}

/* Read one row's operand notation ("Gv,Ev,Iz") into its form. */
static struct form parse(const struct opdesc *o)
{
	struct form f = { 0, IMM_NONE, 0, 0, 0, 0 };
	const char *t = o->operands;

	while (*t) {
		if (is_method(t)) {
			char m = t[0], sz = t[1];

			if (strchr("EGMRSCDVWPQNU", m))
				f.modrm = 1;
			if (m == 'M')
				f.mem_only = 1;
			if (m == 'U' || m == 'N' || m == 'R')
				f.reg_only = 1;
			if (m == 'C' || m == 'D')
				f.force_reg = 1;
			if (m == 'S')
				f.sreg = 1;
			if (m == 'I' && f.imm == IMM_W && sz == 'b')
				f.imm = IMM_WB;
			else if (m == 'I' || m == 'J')
				f.imm = sz == 'b' ? IMM_B : sz == 'w' ? IMM_W :
					sz == 'v' ? IMM_V : IMM_Z;
			else if (m == 'O')
				f.imm = IMM_O;
			else if (m == 'A')
				f.imm = IMM_A;
		}
		while (*t && *t != ',')
			t++;
		if (*t == ',')
			t++;
	}
	return f;
}

/* Runs before main(): the tables are constant from then on, so any thread
 * may decode. */
__attribute__((constructor))
static void decode_init(void)
{
	size_t g;
	int i;

	memset(group_of, -1, sizeof(group_of));
	for (i = 0; i < 256; i++) {
		form_1b[i] = parse(&map_1b[i]);
		form_0f[i] = parse(&map_0f[i]);
	}
	for (g = 0; g < ARRAY_SIZE(groups); g++) {
		group_of[groups[g].map][groups[g].op] = (s8)g;
		for (i = 0; i < 8; i++)
			form_grp[g][i] = parse(&groups[g].reg[i]);
	}
	form_0f38 = parse(&map_0f38);
	form_0f3a = parse(&map_0f3a);
	form_movsxd = parse(&movsxd);
}

const struct opdesc *decode_desc(int map, u8 op, int reg)
{
	const struct opdesc *o;
	int g;

	if (map == MAP_0F38)
		return &map_0f38;
	if (map == MAP_0F3A)
		return &map_0f3a;
	o = map == MAP_1B ? &map_1b[op] : &map_0f[op];
	g = group_of[map][op];
	if (g >= 0 && reg >= 0)
		o = &groups[g].reg[reg & 7];
	return o->flags & D_BAD || !o->name ? NULL : o;
}

/* --- Decoding --- */

/* The bytes being decoded and how far decode() got in them. */
struct cursor {
	const u8 *p;
	u32 avail, pos;
};

static inline bool have(const struct cursor *k, u32 n)
{
	return k->pos + n <= k->avail;
}

static u64 take(struct cursor *k, int n)
{
	u64 v = 0;
	int i;

	for (i = 0; i < n; i++)
		v |= (u64)k->p[k->pos + i] << (8 * i);
	k->pos += n;
	return v;
}

/* ModRM with 16-bit addresses: BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP,
 * BX, with no SIB. */
static bool modrm16(struct cursor *k, struct insn *d)
{
	static const u8 base[8] = { R_EBX, R_EBX, R_EBP, R_EBP,
				    R_ESI, R_EDI, R_EBP, R_EBX };
	static const u8 index[8] = { R_ESI, R_EDI, R_ESI, R_EDI,
				     DR_NONE, DR_NONE, DR_NONE, DR_NONE };
	int n = d->mod == 1 ? 1 : d->mod == 2 ? 2 : 0;

	d->base = base[d->rm];
	d->index = index[d->rm];
	if (d->mod == 0 && d->rm == 6) {
		d->base = DR_NONE;
		n = 2;
	}
	if (!have(k, n))
		return false;
	d->disp = n == 1 ? (s8)take(k, 1) : (s32)(u16)take(k, n);
	d->def_seg = d->base == R_EBP ? S_SS : S_DS;
	return true;
}

/* ModRM with 32- or 64-bit addresses: SIB, disp32 and RIP-relative. */
static bool modrm32(struct cursor *k, struct insn *d)
{
	u8 rex_b = d->rex & 1 ? 8 : 0, rex_x = d->rex & 2 ? 8 : 0;
	int low = d->modrm & 7, n = d->mod == 1 ? 1 : d->mod == 2 ? 4 : 0;

	d->base = d->rm;
	d->index = DR_NONE;
	if (low == 4) {
		u8 sib;

		if (!have(k, 1))
			return false;
		sib = (u8)take(k, 1);
		d->scale = sib >> 6;
		if ((((sib >> 3) & 7) | rex_x) != 4)
			d->index = ((sib >> 3) & 7) | rex_x;
		d->base = (sib & 7) | rex_b;
		if ((sib & 7) == 5 && d->mod == 0) {
			d->base = DR_NONE;
			n = 4;
		}
	} else if (low == 5 && d->mod == 0) {
		d->base = d->mode == 8 ? DR_RIP : DR_NONE;
		n = 4;
	}
	if (!have(k, n))
		return false;
	d->disp = n == 1 ? (s8)take(k, 1) : (s32)(u32)take(k, n);
	d->def_seg = d->base == R_ESP || d->base == R_EBP ? S_SS : S_DS;
	return true;
}

static bool decode_modrm(struct cursor *k, struct insn *d,
			 const struct form *f)
{
	if (!have(k, 1))
		return false;
	d->has_modrm = true;
	d->modrm = (u8)take(k, 1);
	d->mod = f->force_reg ? 3 : d->modrm >> 6;
	d->reg = ((d->modrm >> 3) & 7) | (d->rex & 4 ? 8 : 0);
	d->rm = (d->modrm & 7) | (d->rex & 1 ? 8 : 0);
	if (d->mod == 3)
		return true;
	return d->adsize == 2 ? modrm16(k, d) : modrm32(k, d);
}

static int imm_size(const struct insn *d, int kind)
{
	switch (kind) {
	case IMM_B:
		return 1;
	case IMM_W:
		return 2;
	case IMM_Z:
		return d->opsize == 2 ? 2 : 4;
	case IMM_V:
		return d->opsize;
	case IMM_O:
		return d->adsize;
	case IMM_A:
		return (d->opsize == 2 ? 2 : 4) + 2;
	case IMM_WB:
		return 3;
	}
	return 0;
}

static bool decode_imm(struct cursor *k, struct insn *d, int kind)
{
	int n = imm_size(d, kind);

	if (!have(k, n))
		return false;
	d->imm_kind = kind;
	if (kind == IMM_A) {		/* offset, then selector */
		d->imm = take(k, n - 2);
		d->imm2 = (u16)take(k, 2);
	} else if (kind == IMM_WB) {	/* ENTER: size, then level */
		d->imm = take(k, 2);
		d->imm2 = (u16)take(k, 1);
	} else {
		d->imm = take(k, n);
	}
	return true;
}

/* Prefixes: legacy ones in any order, then (64-bit code) REX, which
 * counts only right before the opcode. */
static bool prefixes(struct cursor *k, struct insn *d)
{
	for (;;) {
		u8 b;

		if (!have(k, 1))
			return false;
		b = k->p[k->pos];
		if (d->mode == 8 && (b & 0xf0) == 0x40) {
			d->rex = b;
			k->pos++;
			continue;
		}
		switch (b) {
		case 0x26: case 0x2e: case 0x36: case 0x3e:
			d->seg_override = d->mode == 8 ? -1 : (b >> 3) & 3;
			break;
		case 0x64: case 0x65:
			d->seg_override = b - 0x64 + S_FS;
			break;
		case 0x66:
			d->opsize_prefix = true;
			break;
		case 0x67:
			d->adsize = d->mode == 4 ? 2 : 4;
			break;
		case 0xf0:
			d->lock = true;
			break;
		case 0xf2: case 0xf3:
			d->rep = b;
			break;
		default:
			return true;
		}
		d->rex = 0;	/* a REX before a legacy prefix is void */
		k->pos++;
	}
}

/* The checks that belong to the form: its mandatory prefix, and whether
 * its operand may be a register or memory. */
static bool form_allowed(const struct insn *d, const struct opdesc *o,
			 const struct form *f)
{
	u8 p = d->rep == 0xf3 ? P_F3 : d->rep == 0xf2 ? P_F2 :
	       d->opsize_prefix ? P_66 : P_NP;

	if (o->pfx && !(o->pfx & p))
		return false;
	if (f->mem_only && d->mod == 3 && !(o->flags & D_MOD3))
		return false;
	if (f->sreg && (d->modrm >> 3 & 7) > S_GS)
		return false;
	return !(f->reg_only && d->mod != 3);
}

static void operand_size(struct insn *d, u16 flags)
{
	if (d->mode != 8) {
		d->opsize = d->opsize_prefix ? 6 - d->mode : d->mode;
		return;
	}
	if ((flags & D_F64) || (d->rex & 8))
		d->opsize = 8;
	else if (d->opsize_prefix)
		d->opsize = 2;
	else
		d->opsize = flags & D_D64 ? 8 : 4;
}

static void start(struct insn *d, int mode)
{
	memset(d, 0, offsetof(struct insn, start));
	d->mode = (u8)mode;
	d->adsize = (u8)mode;
	d->seg_override = -1;
	d->base = d->index = DR_NONE;
}

int decode(const u8 *bytes, u32 avail, int mode, struct insn *d)
{
	struct cursor k = { bytes, avail < MAX_INSN_LEN ? avail : MAX_INSN_LEN,
			    0 };
	const struct opdesc *o;
	const struct form *f;
	int g;

	start(d, mode);
	if (!prefixes(&k, d))
		goto more;
	d->op = (u8)take(&k, 1);
	o = &map_1b[d->op];
	f = &form_1b[d->op];
	if (d->op == 0x0f) {
		if (!have(&k, 1))
			goto more;
		d->map = MAP_0F;
		d->op = (u8)take(&k, 1);
		o = &map_0f[d->op];
		f = &form_0f[d->op];
		if (d->op == 0x38 || d->op == 0x3a) {
			if (!have(&k, 1))
				goto more;
			d->map = d->op == 0x38 ? MAP_0F38 : MAP_0F3A;
			o = d->map == MAP_0F38 ? &map_0f38 : &map_0f3a;
			f = d->map == MAP_0F38 ? &form_0f38 : &form_0f3a;
			d->op = (u8)take(&k, 1);
		}
	}
	if (d->mode == 8 && d->map == MAP_1B && d->op == 0x63) {
		o = &movsxd;
		f = &form_movsxd;
	}
	if (o->flags & D_BAD)
		return DECODE_UD;
	if ((o->flags & D_I64) && d->mode == 8)
		return DECODE_UD;
	if ((o->flags & D_O64) && d->mode != 8)
		return DECODE_UD;
	g = d->map <= MAP_0F ? group_of[d->map][d->op] : -1;
	if (g >= 0) {
		/* The reg field is in the next byte: look, don't take. */
		u8 reg;

		if (!have(&k, 1))
			goto more;
		reg = (k.p[k.pos] >> 3) & 7;
		o = &groups[g].reg[reg];
		f = &form_grp[g][reg];
		if (o->flags & D_BAD)
			return DECODE_UD;
	}
	d->desc = o;
	operand_size(d, o->flags);
	if (f->modrm && !decode_modrm(&k, d, f))
		goto more;
	/* REX.R extends a register operand, not an opcode extension or a
	 * segment register. */
	if (g >= 0 || f->sreg)
		d->reg &= 7;
	if (f->imm != IMM_NONE && !decode_imm(&k, d, f->imm))
		goto more;
	if (!form_allowed(d, o, f))
		return DECODE_UD;
	/* LOCK only on a read-modify-write of memory; else #UD. */
	if (d->lock && (d->mod == 3 || !d->has_modrm ||
			!(o->lock_regs & (1 << (d->reg & 7)))))
		return DECODE_UD;
	d->len = (u8)k.pos;
	return d->len;
more:
	return avail >= MAX_INSN_LEN ? DECODE_LONG : DECODE_MORE;
}
