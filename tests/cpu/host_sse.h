/*
 * What the host's SSE unit does that the SDM leaves to the CPU, for the
 * two differential tests that take the host as their oracle (diff64.c,
 * simddiff.c).  Our CPU is an Intel one in these things; an AMD host
 * differs in two that the tests meet:
 *  - MXCSR: its FXSAVE reports a mask with bit 17 (MM, the misaligned
 *    exception mask) besides the SDM's 16 bits, and LDMXCSR and FXRSTOR
 *    take that bit where ours raise #GP.  A "reserved" bit the tests set
 *    to see the #GP must be reserved on both, and the mask FXSAVE stores
 *    is compared only where the two agree.
 *  - FXSAVE stores FOP, FIP and FDP only while an unmasked x87 exception
 *    is pending (what Linux calls X86_BUG_FXSAVE_LEAK), zeroes otherwise.
 */
#ifndef HOST_SSE_H
#define HOST_SSE_H

#include <cpuid.h>
#include <stdbool.h>
#include <string.h>

#include "types.h"

/* The MXCSR bits the host takes (0 in FXSAVE's image: the SDM's 0xffbf). */
static inline u32 host_mxcsr_mask(void)
{
	static u8 img[512] __attribute__((aligned(16)));
	static u32 mask;

	if (!mask) {
		__asm__ volatile("fxsave %0" : "=m"(img));
		memcpy(&mask, img + 28, 4);
		if (!mask)
			mask = 0xffbf;
	}
	return mask;
}

/* One bit of MXCSR's upper half that neither the host nor ours takes,
 * chosen by r. */
static inline u32 mxcsr_reserved_bit(u64 r)
{
	u32 b;

	do
		b = 16 + (u32)(r++ % 16);
	while (host_mxcsr_mask() >> b & 1);
	return 1u << b;
}

static inline bool host_is_amd(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(0, &a, &b, &c, &d))
		return false;
	return b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163;
}

#endif
