/*
 * Where a REP MOVS or STOS that tests/jit's generators (gen.c for 32-bit
 * code, gen64.c for 64-bit) make reaches: a count of 0 to a page's worth
 * of elements of size bytes, and a destination and a source within the
 * span bytes of data at base (across its pages' middle at times), the
 * source overlapping the destination now and then, either way.  Going
 * down, both name the top element.  rnd(g, n) is the generator's own
 * random number below n, so that each keeps one sequence per seed.
 */
#ifndef LGUEST_TESTS_JIT_REP_RANGE_H
#define LGUEST_TESTS_JIT_REP_RANGE_H

struct rep_range {
	u32 n, dst, src;
};

static inline struct rep_range rep_range_pick(u32 (*rnd)(void *, u32),
					       void *g, u32 size, bool down,
					       u32 base, u32 span)
{
	struct rep_range r;
	u32 bytes;
	s32 d;

	r.n = rnd(g, 100) < 8 ? 0 : rnd(g, 100) < 60 ? 1 + rnd(g, 24) :
	      1 + rnd(g, 0x1000 / size);
	bytes = r.n * size;
	r.dst = base + rnd(g, span - bytes + 1);
	r.src = base + rnd(g, span - bytes + 1);
	if (rnd(g, 100) < 20) {	/* overlapping, either way */
		d = (s32)rnd(g, 33) - 16;
		if ((s64)r.dst + d >= base && r.dst + d + bytes <= base + span)
			r.src = r.dst + (u32)d;
	}
	if (down && bytes) {	/* from the top element down */
		r.dst += bytes - size;
		r.src += bytes - size;
	}
	return r;
}

#endif
