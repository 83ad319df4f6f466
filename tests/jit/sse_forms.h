/*
 * The SSE forms that both generators (gen.c, gen64.c) make, as prefix
 * and opcode pairs (a prefix of 0 is none), and the MXCSR states they
 * load: one list, so that the 32-bit and the 64-bit translator are tried
 * on the same forms.  Each generator includes it after its own types.
 */
#ifndef LGUEST_TESTS_JIT_SSE_FORMS_H
#define LGUEST_TESTS_JIT_SSE_FORMS_H

/* 16-byte loads and stores: MOVDQU, MOVUPS, MOVUPD. */
static const u8 sse_ld16[3][2] = {
	{ 0xf3, 0x6f }, { 0, 0x10 }, { 0x66, 0x10 },
};
static const u8 sse_st16[3][2] = {
	{ 0xf3, 0x7f }, { 0, 0x11 }, { 0x66, 0x11 },
};
/* Integer forms (66 0F op), the commonest and then more of them. */
static const u8 sse_intop[6] = { 0xef, 0xd4, 0x74, 0x60, 0xfc, 0xfa };
static const u8 sse_intop2[10] = {
	0xdb, 0xeb, 0xdf, 0x75, 0x76, 0xfe, 0xf8, 0xfb, 0xd5, 0xe4,
};
/* Floating-point forms, the same. */
static const u8 sse_fpop[4][2] = {
	{ 0xf2, 0x58 }, { 0x66, 0x59 }, { 0, 0x5c }, { 0xf3, 0x5e },
};
static const u8 sse_fpop2[8][2] = {
	{ 0xf2, 0x5c }, { 0xf2, 0x59 }, { 0xf2, 0x5e }, { 0xf3, 0x58 },
	{ 0xf2, 0x10 }, { 0xf3, 0x10 }, { 0, 0x57 }, { 0x66, 0x57 },
};
/* Forms whose 16-byte memory operand must be aligned. */
static const u8 sse_al16[5][2] = {
	{ 0x66, 0x6f }, { 0, 0x28 }, { 0x66, 0xef }, { 0x66, 0x74 },
	{ 0x66, 0xdb },
};
/* Stores written register to register (the ModRM's rm the target). */
static const u8 sse_st_rr[4][2] = {
	{ 0, 0x29 }, { 0xf3, 0x7f }, { 0x66, 0xd6 }, { 0xf2, 0x11 },
};
/* MXCSR states loaded around the forms, and the forms tried in them. */
static const u32 mxcsr_states[] = {
	0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x9fc0, 0x1fbf, 0x1fa0,
};
static const u8 mxcsr_fp[4][2] = {
	{ 0xf2, 0x58 }, { 0xf2, 0x59 }, { 0xf3, 0x5c }, { 0x66, 0x58 },
};

#endif
