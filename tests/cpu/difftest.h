/*
 * The differential CPU test: what the 64-bit harness (difftest.c, forms.c,
 * native.c) and the 32-bit reference executor (ref32.c, run under
 * qemu-i386) share.
 *
 * A test case is one instruction with the registers, flags and memory it
 * starts from.  Memory is an 8 KiB window at the same address everywhere:
 * natively (mapped low, so a 32-bit register holds a valid pointer even in
 * 64-bit mode), under qemu-i386, and in the guest RAM of our CPU.  Its
 * contents come from a seed and up to two patched dwords, so a case is a
 * small fixed-size record that can be piped to the 32-bit executor.
 *
 * A result is the registers and flags afterwards, the exception vector if
 * the instruction faulted, and the bytes of the window that changed.
 */
#ifndef DIFFTEST_H
#define DIFFTEST_H

#include <string.h>

#include "types.h"

#define DT_WIN_BASE	0x01000000u	/* the memory window */
#define DT_WIN_SIZE	0x2000u
#define DT_WIN_MID	(DT_WIN_BASE + 0x1000u)
#define DT_STACK	(DT_WIN_BASE + 0x1800u)	/* default ESP */
/* A second window below 64 KiB, for 16-bit addressing (qemu set only). */
#define DT_LOW_BASE	0x00008000u
#define DT_LOW_SIZE	0x2000u
/* Where the instruction under test sits, natively under qemu-i386 and in
 * our guest, so that near branches, calls and returns agree: each case has
 * a 32-byte slot of its own, so ref32 can write a whole batch of code
 * before running any (qemu-i386 pays dearly for code that changes after it
 * was translated).  The prologue and epilogue live on DT_CODE_PAGE. */
#define DT_CODE_PAGE	0x00300000u
#define DT_SLOT_BASE	0x00400000u
#define DT_SLOT_SIZE	32u
#define DT_NSLOTS	131072u
#define DT_MAXCHG	64
/* GS base for GS-override cases on the host (arch_prctl) and in our CPU;
 * DS, ES, SS are flat (and ignored in 64-bit mode). */
#define DT_GS_BASE	0x00800000u
/* The "sled" after a branch: natively, a store of 1 to a byte of the
 * stub's state, 8 bytes long.  A branch of +8 that is not taken runs it;
 * one that is taken skips it.  Our CPU runs only the branch, so its EIP
 * says which. */
#define DT_SLED_LEN	8

/* Native signal numbers, reported in dt_result.sig. */
#define DT_SIGFPE	8
#define DT_SIGILL	4
#define DT_SIGSEGV	11
#define DT_SIGBUS	7
#define DT_SIGTRAP	5

struct dt_case {
	u8 code[15];
	u8 len;
	u8 sled;		/* append the sled natively */
	u8 npatch;
	u8 low;			/* use the low window as well */
	u8 pad;
	u32 eip;		/* where the instruction sits: a slot */
	u32 seed;		/* window contents */
	u32 r[8];
	u32 eflags;
	u32 patch_off[2];	/* offsets into the window */
	u32 patch_val[2];
};

struct dt_result {
	u32 r[8];
	u32 eflags;
	s32 sig;		/* native signal, 0 if none */
	s32 trapno;		/* from the signal context, -1 if unknown */
	u32 sled_ran;		/* the sled after a branch ran: not taken */
	u32 nchg;		/* changed bytes (may exceed DT_MAXCHG) */
	u16 chg_off[DT_MAXCHG];	/* low window: offset + DT_WIN_SIZE */
	u8 chg_val[DT_MAXCHG];
};

/*
 * The window contents of a case: a fixed pseudo-random pattern (xorshift32)
 * rotated by an amount the seed gives, then the patches.  Rotating rather
 * than generating keeps ref32 fast under qemu.  The low window gets the
 * pattern rotated the other way.
 */
static inline const u8 *dt_pattern(void)
{
	static u32 pat[DT_WIN_SIZE / 4];
	u32 x = 0x9e3779b9u, i;

	if (pat[0])
		return (const u8 *)pat;
	for (i = 0; i < DT_WIN_SIZE / 4; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		pat[i] = x;
	}
	pat[0] |= 1;
	return (const u8 *)pat;
}

static inline void dt_rotate(u8 *dst, u32 size, u32 rot)
{
	const u8 *pat = dt_pattern();

	rot %= size;
	memcpy(dst, pat + rot, size - rot);
	memcpy(dst + size - rot, pat, rot);
}

static inline void dt_fill(u8 *win, u8 *low, const struct dt_case *k)
{
	u32 i;

	dt_rotate(win, DT_WIN_SIZE, k->seed);
	for (i = 0; i < k->npatch && i < 2; i++)
		if (k->patch_off[i] <= DT_WIN_SIZE - 4)
			memcpy(win + k->patch_off[i], &k->patch_val[i], 4);
	if (low)
		dt_rotate(low, DT_LOW_SIZE, ~k->seed);
}

static inline void dt_diff_one(const u8 *was, const u8 *now, u32 size,
			       u32 base, struct dt_result *res)
{
	u32 i;

	for (i = 0; i < size; i++) {
		if (!(i & 255) && i + 256 <= size &&
		    !memcmp(was + i, now + i, 256)) {
			i += 255;
			continue;
		}
		if (was[i] == now[i])
			continue;
		if (res->nchg < DT_MAXCHG) {
			res->chg_off[res->nchg] = (u16)(base + i);
			res->chg_val[res->nchg] = now[i];
		}
		res->nchg++;
	}
}

#endif
