/*
 * An i386 program that leans on MMX, SSE and SSE2 the way real userland
 * does, for tests/e2e/test_sse.sh: glibc's string functions (which pick
 * their SSE2 versions once CPUID offers SSE2), floating point compiled to
 * SSE2 (-mfpmath=sse) under each rounding mode, integer SIMD through the
 * intrinsics, MMX, the kernel keeping XMM registers across a process
 * switch (FXSAVE/FXRSTOR), and an unmasked SIMD exception becoming
 * SIGFPE.  It prints what it computed; the test compares that line by
 * line with the same binary under qemu-i386, except the "xm:" line, which
 * QEMU's user mode cannot produce (it raises no #XM) and the test checks
 * on its own.
 */
#include <emmintrin.h>
#include <fenv.h>
#include <math.h>
#include <sched.h>
#include <mmintrin.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static uint32_t seed = 12345;

static uint32_t rnd(void)
{
	seed = seed * 1103515245u + 12345u;
	return seed >> 8;
}

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		h = (h ^ *b++) * 16777619u;
	return h;
}

/* glibc's memcpy, memmove, memset, strlen, memchr, strcmp, memcmp at
 * every small size and alignment. */
static void strings(void)
{
	static char a[600], b[600];
	uint32_t h = 2166136261u;
	int i, off, len;

	for (i = 0; i < 600; i++)
		a[i] = (char)(rnd() % 255 + 1);
	for (off = 0; off < 17; off++) {
		for (len = 0; len < 300; len += 7) {
			memset(b, 0x5a, sizeof(b));
			memcpy(b + off, a + 3, len);
			memmove(b + off + 1, b + off, len);
			b[off + len] = 0;
			h = fnv(h, b, sizeof(b));
			h += (uint32_t)strlen(b + off);
			h += (uint32_t)(memchr(a, a[len + off], 600) ?
					(char *)memchr(a, a[len + off], 600) - a
					: 0);
			h += (uint32_t)(strcmp(b + off + 1, a + 3) > 0);
			h += (uint32_t)(memcmp(b, a, (size_t)len) < 0);
		}
	}
	printf("strings: %08x\n", h);
}

/* Doubles and floats through SSE2 arithmetic and conversions. */
static void fp_mode(int mode, const char *name)
{
	volatile double d = 1.0;
	volatile float f = 1.0f;
	double acc = 0;
	uint32_t h = 2166136261u;
	int i;

	fesetround(mode);
	for (i = 1; i < 2000; i++) {
		d = d * 1.0009765625 + 1.0 / i;
		f = f / 1.5f + sqrtf((float)i) - (float)d * 1e-3f;
		acc += sqrt(d) / (i + 0.5) - (double)(int)(d * 3.7);
		h = fnv(h, (const void *)&d, 8);
		h = fnv(h, (const void *)&f, 4);
		h += (uint32_t)lrint(acc) + (uint32_t)(long long)(f * 1e6f);
	}
	fesetround(FE_TONEAREST);
	printf("fp %s: %08x %.17g %.9g\n", name, h, acc, (double)f);
}

/* Packed integer and floating point through the intrinsics. */
static void packed(void)
{
	uint32_t h = 2166136261u;
	int i, r;
	static const unsigned modes[] = { _MM_ROUND_NEAREST, _MM_ROUND_DOWN,
					  _MM_ROUND_UP, _MM_ROUND_TOWARD_ZERO };

	for (i = 0; i < 4000; i++) {
		__m128i a = _mm_set_epi32((int)rnd() << 1, (int)rnd(),
					  (int)(rnd() * 77), (int)rnd() << 9);
		__m128i b = _mm_set_epi32((int)rnd(), (int)rnd() << 3,
					  (int)rnd(), (int)(rnd() * 13));
		__m128 fa = _mm_set_ps((float)(rnd() % 1000) / 7.f,
				       -(float)rnd() / 3.f, 1e30f, 1e-40f);
		__m128d da = _mm_set_pd((double)rnd() / 9.0,
					-(double)(rnd() % 100) / 3.0);
		__m128i v[12];
		int k;

		_MM_SET_ROUNDING_MODE(modes[i & 3]);
		v[0] = _mm_sad_epu8(a, b);
		v[1] = _mm_madd_epi16(a, b);
		v[2] = _mm_packs_epi32(a, b);
		v[3] = _mm_packus_epi16(a, b);
		v[4] = _mm_shuffle_epi32(_mm_unpackhi_epi8(a, b), 0x1b);
		v[5] = _mm_srai_epi16(_mm_adds_epi16(a, b), (int)(i % 17));
		v[6] = _mm_mulhi_epu16(_mm_avg_epu8(a, b), b);
		v[7] = _mm_cvtps_epi32(_mm_div_ps(fa, _mm_set1_ps(3.f)));
		v[8] = _mm_cvttps_epi32(_mm_sqrt_ps(_mm_add_ps(fa, fa)));
		v[9] = _mm_castpd_si128(_mm_min_pd(_mm_mul_pd(da, da),
						   _mm_set1_pd(1e9)));
		v[10] = _mm_cvtpd_epi32(_mm_sub_pd(da, _mm_set1_pd(0.5)));
		v[11] = _mm_castps_si128(_mm_cvtpd_ps(_mm_div_pd(da,
						      _mm_set1_pd(7.0))));
		for (k = 0; k < 12; k++)
			h = fnv(h, &v[k], 16);
		r = _mm_movemask_epi8(_mm_cmpgt_epi8(a, b));
		h += (uint32_t)r + (uint32_t)_mm_extract_epi16(a, 5);
		h += (uint32_t)_mm_comilt_sd(da, _mm_set1_pd(0.0));
	}
	_MM_SET_ROUNDING_MODE(_MM_ROUND_NEAREST);
	printf("packed: %08x mxcsr %04x\n", h, _mm_getcsr() & 0xffc0);
}

static void mmx(void)
{
	uint32_t h = 2166136261u;
	int i;

	for (i = 0; i < 2000; i++) {
		__m64 a = _mm_set_pi32((int)rnd(), (int)rnd() << 5);
		__m64 b = _mm_set_pi32((int)(rnd() * 3), (int)rnd());
		__m64 v[5];

		v[0] = _mm_adds_pu8(a, b);
		v[1] = _mm_madd_pi16(a, b);
		v[2] = _mm_packs_pi32(a, b);
		v[3] = _mm_unpackhi_pi16(a, b);
		v[4] = _mm_srl_pi32(a, _mm_cvtsi32_si64(i % 40));
		h = fnv(h, v, sizeof(v));
	}
	_mm_empty();
	printf("mmx: %08x\n", h);
}

/* XMM7 survives another process running with its own XMM7. */
static void switch_keeps_xmm(void)
{
	static const uint32_t pat[4] = { 0x01234567, 0x89abcdef,
					 0xdeadbeef, 0x5a5aa5a5 };
	uint32_t out[4];
	int i, st;

	for (i = 0; i < 20; i++) {
		pid_t p;

		asm volatile("movdqu %0, %%xmm7" : : "m"(pat) : "xmm7");
		p = fork();
		if (p == 0) {
			asm volatile("pcmpeqd %%xmm7, %%xmm7\n\t"
				     "movdqu %%xmm7, %0" : "=m"(out) : :
				     "xmm7");
			sched_yield();
			_exit(out[0] == 0xffffffffu ? 0 : 1);
		}
		waitpid(p, &st, 0);
		asm volatile("movdqu %%xmm7, %0" : "=m"(out));
		if (memcmp(out, pat, 16) || !WIFEXITED(st) ||
		    WEXITSTATUS(st)) {
			printf("switch: XMM7 lost\n");
			return;
		}
	}
	printf("switch: XMM7 kept across 20 forks\n");
}

static sigjmp_buf jb;
static volatile int fpe_code;

static void on_fpe(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
	fpe_code = si->si_code;
	siglongjmp(jb, 1);
}

/* DIVSS by zero with ZE unmasked: the kernel's #XM handler sends
 * SIGFPE with FPE_FLTDIV. */
static void unmasked(void)
{
	struct sigaction sa;
	volatile float one = 1.0f, zero = 0.0f, q = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fpe;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGFPE, &sa, NULL);
	fpe_code = -1;
	if (!sigsetjmp(jb, 1)) {
		_mm_setcsr(_mm_getcsr() & ~_MM_MASK_DIV_ZERO);
		q = one / zero;
	}
	_mm_setcsr(0x1f80);
	if (fpe_code == FPE_FLTDIV)
		printf("xm: SIGFPE FPE_FLTDIV\n");
	else
		printf("xm: no SIGFPE (code %d, q %g)\n", fpe_code, (double)q);
}

int main(void)
{
	strings();
	fp_mode(FE_TONEAREST, "nearest");
	fp_mode(FE_DOWNWARD, "down");
	fp_mode(FE_UPWARD, "up");
	fp_mode(FE_TOWARDZERO, "zero");
	packed();
	mmx();
	switch_keeps_xmm();
	unmasked();
	return 0;
}
