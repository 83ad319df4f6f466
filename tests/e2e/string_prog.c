/*
 * An i386 program for the guest (tests/e2e/test_string.sh): REP MOVS and
 * REP STOS of every element size, up and down, short and long, within a
 * page and across pages, overlapping both ways, as memcpy(), memset() and
 * Linux's copy_to_user() run them.  After each it folds ESI, EDI and ECX
 * (as offsets into its buffer) and the whole buffer into a hash, and
 * prints the hash of each group.  Under qemu-i386 that is what a real CPU
 * does; test_string.sh wants the guest's output to be the same.  The
 * translator gives each such instruction its own short way when it stays
 * within one page (src/cpu/exec_string.c), which this compares with the
 * CPU's.
 */
#include <stdio.h>
#include <string.h>

typedef unsigned char u8;
typedef unsigned int u32;

#define PAGES 3
#define SIZE (PAGES * 4096)

/* Page-aligned, so that offsets say where pages end. */
static u8 buf[SIZE] __attribute__((aligned(4096)));
static u32 hash = 2166136261u;

static void fold(u32 v)
{
	int i;

	for (i = 0; i < 4; i++) {
		hash ^= (v >> (8 * i)) & 0xff;
		hash *= 16777619u;
	}
}

static void fold_buf(void)
{
	u32 i;

	for (i = 0; i < SIZE; i += 4) {
		u32 v;

		memcpy(&v, buf + i, 4);
		fold(v);
	}
}

static void fill_buf(u32 seed)
{
	u32 i;

	for (i = 0; i < SIZE; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (u8)(seed >> 16);
	}
}

/* One REP form: kind 0-2 MOVS of 1, 2, 4 bytes, 3-5 STOS; down sets DF. */
static void rep(int kind, int down, u32 dst, u32 src, u32 n, u32 eax)
{
	u8 *d = buf + dst, *s = buf + src;

	if (down)
		asm volatile("std" ::: "cc");
	switch (kind) {
	case 0:
		asm volatile("rep movsb" : "+S"(s), "+D"(d), "+c"(n)
			     :: "memory");
		break;
	case 1:
		asm volatile("rep movsw" : "+S"(s), "+D"(d), "+c"(n)
			     :: "memory");
		break;
	case 2:
		asm volatile("rep movsl" : "+S"(s), "+D"(d), "+c"(n)
			     :: "memory");
		break;
	case 3:
		asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(eax)
			     : "memory");
		break;
	case 4:
		asm volatile("rep stosw" : "+D"(d), "+c"(n) : "a"(eax)
			     : "memory");
		break;
	default:
		asm volatile("rep stosl" : "+D"(d), "+c"(n) : "a"(eax)
			     : "memory");
		break;
	}
	asm volatile("cld" ::: "cc");
	fold((u32)(s - buf));
	fold((u32)(d - buf));
	fold(n);
}

static u32 rng = 12345;

static u32 rnd(u32 n)
{
	rng = rng * 1103515245u + 12345u;
	return (rng >> 8) % n;
}

/* A count of elements of size that keeps both ends inside buf, going
 * the way DF says from offsets dst and src. */
static u32 fit(u32 want, u32 size, int down, u32 dst, u32 src)
{
	u32 room_d = down ? dst + size : SIZE - dst;
	u32 room_s = down ? src + size : SIZE - src;
	u32 room = room_d < room_s ? room_d : room_s;

	return want < room / size ? want : room / size;
}

int main(void)
{
	static const u32 counts[] = { 0, 1, 2, 3, 7, 16, 64, 100, 255, 256,
				      1000, 1024, 4095, 4096, 5000 };
	static const char *const names[] = { "movsb", "movsw", "movsl",
					     "stosb", "stosw", "stosl" };
	u32 size, dst, src, n, k, i;
	int kind, down;

	for (kind = 0; kind < 6; kind++) {
		size = 1u << (kind % 3);
		for (down = 0; down < 2; down++) {
			fill_buf(kind * 2 + (u32)down);
			hash = 2166136261u;
			for (k = 0; k < 400; k++) {
				/* Near a page's end a third of the time. */
				dst = rnd(3) ? rnd(SIZE - 8) :
				      4096 * (1 + rnd(PAGES - 1)) - rnd(80);
				src = rnd(4) ? rnd(SIZE - 8) :
				      rnd(2) ? dst + rnd(16) : dst - rnd(16);
				if (src >= SIZE - 8)
					src = rnd(SIZE - 8);
				dst &= ~(rnd(2) ? size - 1 : 0);
				n = counts[rnd(sizeof(counts) /
					       sizeof(counts[0]))];
				n = fit(n, size, down, dst, src);
				rep(kind, down, dst, src, n,
				    0x5a5a5a5au ^ (rnd(2) ? 0 : rng));
				if (k % 16 == 0)
					fold_buf();
			}
			fold_buf();
			printf("string: %s %s %08x\n", names[kind],
			       down ? "down" : "up", hash);
		}
	}
	/* The 64-byte copies of copy_to_user(), many times over. */
	hash = 2166136261u;
	for (i = 0; i < 20000; i++) {
		dst = (i * 68) % (SIZE - 64);
		src = (i * 36 + 4096) % (SIZE - 64);
		if (dst < src + 64 && src < dst + 64)
			continue;
		rep(2, 0, dst, src, 16, 0);
	}
	fold_buf();
	printf("string: 64-byte copies %08x\n", hash);
	return 0;
}
