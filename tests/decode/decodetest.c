/*
 * The decoder against a decoder we did not write: Capstone (Debian's
 * libcapstone), which descends from LLVM's x86 disassembler.
 *
 * Byte strings, some enumerated (every opcode of the one- and two-byte
 * maps under a spread of ModRM, SIB and prefixes) and many random (random
 * prefixes, REX, opcode map and tail), go to both decoders in 16-, 32- and
 * 64-bit mode.  Where both accept the bytes they must agree on the length,
 * the ModRM byte, the displacement and the immediate; where only one
 * accepts them, the opcode must be one on a short list of known
 * differences (forms this CPU does not have, or that Capstone does not
 * know), else it counts as a mismatch too.
 *
 *   decodetest [cases per mode]      prints TAP lines, exits 1 on mismatch
 */
#include <capstone/capstone.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/decode.h"

static u64 rng = 0x9e3779b97f4a7c15ull;

static u32 rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (u32)(rng >> 16);
}

struct tally {
	long cases, both, ours_only, cs_only, neither, bad;
};

static const char *mode_name(int mode)
{
	return mode == 2 ? "16-bit" : mode == 4 ? "32-bit" : "64-bit";
}

static void show(const char *why, int mode, const u8 *b, int ours,
		 const cs_insn *ci)
{
	int i;

	printf("#   %s (%s):", why, mode_name(mode));
	for (i = 0; i < 15; i++)
		printf(" %02x", b[i]);
	printf("\n#     ours %d, capstone %d %s %s\n", ours, ci ? ci->size : 0,
	       ci ? ci->mnemonic : "-", ci ? ci->op_str : "");
}

/*
 * Where the two may disagree about whether bytes are an instruction at all
 * (never about a length both give): what this CPU refuses on purpose and
 * what Capstone 4 gets wrong.  One-byte opcodes first, then 0F xx.
 */
static const u8 differ_1b[] = {
	0xc4, 0xc5, 0x62, 0x8f,	/* VEX, EVEX, XOP: extensions we lack */
	0xc6, 0xc7,		/* XABORT, XBEGIN (TSX): we lack it */
	0xd6, 0xf1,		/* SALC, ICEBP: undocumented but real */
	0xd8, 0xd9, 0xda, 0xdb,	/* x87 reserved forms: fpu.c says #UD */
	0xdc, 0xdd, 0xde, 0xdf,
	0x0f,			/* then see differ_0f */
};
static const u8 differ_0f[] = {
	0x38, 0x3a,		/* SSSE3, SSE4: ours are generic rows */
	0x05, 0x07,		/* SYSCALL, SYSRET outside 64-bit: AMD only */
	0x37, 0x78, 0x79,	/* GETSEC, VMREAD, VMWRITE: no SMX, VMX */
	0x01, 0xae, 0xc7,	/* groups whose mod 3 forms we lack */
	0x18, 0x0d,		/* hint forms Capstone decodes differently */
	0x1e,			/* F3 0F 1E: ENDBR (CET) */
	0xb9, 0xff,		/* UD1, UD0: #UD whatever their length */
	0xd6,			/* F2/F3 forms are register-only */
	0xbc, 0xbd, 0xb8,	/* TZCNT, LZCNT, POPCNT (F3) */
	0x77,			/* EMMS with a 66 prefix */
	0x0e, 0x0f,		/* FEMMS, 3DNow!: we lack them */
	0xa6, 0xa7,		/* VIA PadLock: we lack it */
	0x19, 0x1a, 0x1b, 0x1c,	/* reserved NOPs (Capstone: MPX forms) */
	0x1d, 0x1f,
};

static bool has_prefix(const u8 *b, int i, u8 p)
{
	return memchr(b, p, i) != NULL;
}

/* An MMX/SSE form given a prefix that may change which instruction it is:
 * Capstone 4 often ignores a 66, F2 or F3 that makes the form undefined. */
static bool sse_prefix_question(const u8 *b, int i)
{
	const struct opdesc *o;
	bool pfx = false;
	int k;

	for (k = 0; k < i; k++)
		pfx |= b[k] == 0x66 || b[k] == 0xf2 || b[k] == 0xf3;
	/* Capstone 4 in 64-bit code with 67 and REX takes some 66-only
	 * forms without their 66. */
	pfx |= has_prefix(b, i, 0x67);
	if (!pfx || b[i] != 0x0f)
		return false;
	o = decode_desc(MAP_0F, b[i + 1], (b[i + 2] >> 3) & 7);
	return o && o->pfx;
}

/* Where the opcode starts, after legacy prefixes and REX. */
static int opcode_at(const u8 *b, int mode)
{
	int i = 0;

	while (i < 14 && (memchr("\x26\x2e\x36\x3e\x64\x65\x66\x67\xf0\xf2\xf3",
				 b[i], 11) ||
			  (mode == 8 && (b[i] & 0xf0) == 0x40)))
		i++;
	return i;
}

/*
 * The one place lengths may differ: near branches (E8, E9, 0F 80-8F) in
 * 64-bit code with 66 or 67.  Intel's processors ignore both there (the
 * offset stays 32 bits); Capstone decodes AMD's reading (66: a 16-bit
 * offset).  We are an Intel CPU (CPUID says GenuineIntel).
 */
static bool near_branch(const u8 *b, int i)
{
	return b[i] == 0xe8 || b[i] == 0xe9 ||
	       (b[i] == 0x0f && (b[i + 1] & 0xf0) == 0x80);
}

static bool known_length_difference(const u8 *b, int mode)
{
	int i = opcode_at(b, mode);

	/* Capstone lets F2 or F3 cancel a 66 even where they are not a
	 * mandatory prefix (F2 JMP is MPX's BND, PUSH Iz has none):
	 * processors honour the 66 there. */
	if (b[i] != 0x0f && has_prefix(b, i, 0x66) &&
	    (has_prefix(b, i, 0xf2) || has_prefix(b, i, 0xf3)))
		return true;
	/* RET Iw in 64-bit code with 66 or 67 and REX: Capstone 4
	 * miscounts its immediate, which is two bytes always. */
	if (mode == 8 && b[i] == 0xc2 &&
	    (has_prefix(b, i, 0x66) || has_prefix(b, i, 0x67)))
		return true;
	if (mode != 8 || !(has_prefix(b, i, 0x66) || has_prefix(b, i, 0x67)))
		return false;
	return near_branch(b, i);
}

static bool known_validity_difference(const u8 *b, int mode)
{
	int i = opcode_at(b, mode);

	if (sse_prefix_question(b, i))
		return true;
	/* Capstone accepts LOCK on any form; the SDM says #UD but for a
	 * read-modify-write of memory. */
	if (has_prefix(b, i, 0xf0))
		return true;
	/* MOV with a moffs and F2/F3: Capstone refuses it, processors
	 * ignore a REP prefix there. */
	if (b[i] >= 0xa0 && b[i] <= 0xa3)
		return true;
	/* MOV to or from a segment register with REX.R: Capstone refuses
	 * it, processors ignore REX.R there. */
	if (mode == 8 && (b[i] == 0x8c || b[i] == 0x8e))
		return true;
	if (b[i] != 0x0f)
		return memchr(differ_1b, b[i], sizeof(differ_1b));
	return memchr(differ_0f, b[i + 1], sizeof(differ_0f));
}

static void check(csh cs, int mode, const u8 *b, struct tally *t)
{
	struct insn d;
	cs_insn *ci = NULL;
	int ours = decode(b, 15, mode, &d);
	size_t n = cs_disasm(cs, b, 15, 0x1000, 1, &ci);
	bool ok = true;

	t->cases++;
	if (ours > 0 && n == 1) {
		const cs_x86 *x = &ci->detail->x86;

		t->both++;
		if ((int)ci->size != ours &&
		    !known_length_difference(b, mode)) {
			show("length differs", mode, b, ours, ci);
			ok = false;
		} else if (d.has_modrm && x->modrm != d.modrm &&
			   !(d.map == MAP_0F && d.op == 0x1e)) {
			/* (F3 0F 1E FA is ENDBR, whose ModRM Capstone
			 * reports as none) */
			show("ModRM differs", mode, b, ours, ci);
			ok = false;
		} else if (d.has_modrm && d.mod != 3 && x->disp != d.disp &&
			   !(d.adsize == 2 && (u16)x->disp == (u16)d.disp)) {
			show("displacement differs", mode, b, ours, ci);
			ok = false;
		}
	} else if (ours > 0) {
		t->ours_only++;
		ok = known_validity_difference(b, mode);
		if (!ok)
			show("only ours decodes it", mode, b, ours, NULL);
	} else if (n == 1) {
		t->cs_only++;
		ok = known_validity_difference(b, mode);
		if (!ok)
			show("only capstone decodes it", mode, b, ours, ci);
	} else {
		t->neither++;
	}
	if (!ok)
		t->bad++;
	if (n)
		cs_free(ci, n);
}

static const u8 prefix_set[] = {
	0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x3e, 0x26, 0x64, 0x65, 0x36,
};

static void random_bytes(int mode, u8 *b)
{
	int i = 0, np = rnd() % 4, k;

	for (k = 0; k < np; k++)
		b[i++] = prefix_set[rnd() % sizeof(prefix_set)];
	if (mode == 8 && rnd() % 2)
		b[i++] = 0x40 | (rnd() & 15);
	switch (rnd() % 10) {
	case 0:
		b[i++] = 0x0f;
		b[i++] = rnd() % 2 ? 0x38 : 0x3a;
		break;
	case 1: case 2: case 3: case 4:
		b[i++] = 0x0f;
		break;
	}
	while (i < 15)
		b[i++] = (u8)rnd();
}

/* Every opcode with a spread of ModRM bytes (all 256) and a few
 * prefix combinations; the tail random. */
static void enumerate(csh cs, int mode, struct tally *t)
{
	static const u8 pre[][2] = {
		{ 0 }, { 0x66 }, { 0x67 }, { 0xf3 }, { 0xf2 }, { 0x66, 0x67 },
	};
	int map, op, m, p, i;
	u8 b[16];

	for (map = 0; map < 2; map++)
		for (op = 0; op < 256; op++)
			for (p = 0; p < 6; p++)
				for (m = 0; m < 256; m += 1 + (p > 0) * 6) {
					i = 0;
					if (pre[p][0])
						b[i++] = pre[p][0];
					if (pre[p][1])
						b[i++] = pre[p][1];
					if (map)
						b[i++] = 0x0f;
					b[i++] = (u8)op;
					b[i++] = (u8)m;
					while (i < 16)
						b[i++] = (u8)rnd();
					check(cs, mode, b, t);
				}
}

int main(int argc, char **argv)
{
	long cases = argc > 1 ? atol(argv[1]) : 200000, k;
	static const int modes[3] = { 2, 4, 8 };
	int failed = 0, i;

	for (i = 0; i < 3; i++) {
		struct tally t = { 0 };
		csh cs;
		u8 b[16];

		if (cs_open(CS_ARCH_X86, modes[i] == 2 ? CS_MODE_16 :
			    modes[i] == 4 ? CS_MODE_32 : CS_MODE_64,
			    &cs) != CS_ERR_OK) {
			printf("not ok - capstone does not open\n");
			return 1;
		}
		cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
		enumerate(cs, modes[i], &t);
		for (k = 0; k < cases; k++) {
			random_bytes(modes[i], b);
			check(cs, modes[i], b, &t);
		}
		cs_close(&cs);
		printf("%s - decoder vs capstone, %s: %ld cases, %ld decoded "
		       "by both, %ld only by ours, %ld only by capstone, "
		       "%ld by neither, %ld mismatches\n",
		       t.bad ? "not ok" : "ok", mode_name(modes[i]), t.cases,
		       t.both, t.ours_only, t.cs_only, t.neither, t.bad);
		failed |= t.bad != 0;
	}
	return failed;
}
