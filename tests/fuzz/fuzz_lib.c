/*
 * The fuzz targets' shared helpers: see fuzz.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

char fuzz_kill_reason[256];
char fuzz_die_msg[256];
jmp_buf *fuzz_die_jmp;

u8 in_u8(struct fuzz_in *in)
{
	u8 v;

	if (!in->n)
		return 0;
	v = *in->p++;
	in->n--;
	return v;
}

u16 in_u16(struct fuzz_in *in)
{
	return in_u8(in) | (u16)in_u8(in) << 8;
}

u32 in_u32(struct fuzz_in *in)
{
	return in_u16(in) | (u32)in_u16(in) << 16;
}

u64 in_u64(struct fuzz_in *in)
{
	return in_u32(in) | (u64)in_u32(in) << 32;
}

size_t in_bytes(struct fuzz_in *in, void *buf, size_t max)
{
	size_t n = max < in->n ? max : in->n;

	memcpy(buf, in->p, n);
	in->p += n;
	in->n -= n;
	return n;
}

int in_size(struct fuzz_in *in)
{
	static const int sizes[] = { 1, 2, 4, 4 };

	return sizes[in_u8(in) & 3];
}

void fuzz_kill_clear(void)
{
	fuzz_kill_reason[0] = 0;
}

void fuzz_note(const char *fmt, ...)
{
	static int verbose = -1;
	va_list ap;

	if (verbose < 0)
		verbose = getenv("FUZZ_VERBOSE") != NULL;
	if (!verbose)
		return;
	fputs("fuzz: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz: property broken: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

struct machine;
void __real_guest_kill(struct machine *m, const char *fmt, ...);

void __wrap_guest_kill(struct machine *m, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (!fuzz_kill_reason[0])
		memcpy(fuzz_kill_reason, reason, sizeof(reason));
	__real_guest_kill(m, "%s", reason);
}

/* die()'s message is in fuzz_die_msg: back to fuzz_catch_die(). */
static noreturn void caught(void)
{
	if (!fuzz_die_jmp)
		fuzz_fail("die() outside a load: %s", fuzz_die_msg);
	if (!fuzz_die_msg[0])
		fuzz_fail("die() without a reason");
	longjmp(*fuzz_die_jmp, 1);
}

noreturn void __wrap_die(const char *fmt, ...);
noreturn void __wrap_die_errno(const char *fmt, ...);

noreturn void __wrap_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fuzz_die_msg, sizeof(fuzz_die_msg), fmt, ap);
	va_end(ap);
	caught();
}

noreturn void __wrap_die_errno(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fuzz_die_msg, sizeof(fuzz_die_msg), fmt, ap);
	va_end(ap);
	caught();
}

/* No target runs guest code: the translator's arena (tens of MiB, made
 * and cleared with every machine) would only slow each input down. */
__attribute__((constructor)) static void no_translator(void)
{
	setenv("LGUEST_JIT", "0", 1);
}
