/*
 * The CPU-bound guest benchmark of bench/run.sh: integer, memory and x87
 * work that a guest does without touching a device.  bench/run.sh builds it
 * twice: as a static i386 program (gcc -m32 -march=i686 -mfpmath=387, so
 * doubles go through the x87, as on the CPU we emulate) that runs inside
 * each guest, and as a native x86-64 program that gives the physical limit
 * of this host.
 *
 *   cpubench [SCALE]
 *
 * Three kernels, each sized by SCALE: a table-driven CRC-32 over a buffer
 * (loads, shifts, xors), a quicksort of pseudo-random words (branches,
 * memory), and a matrix multiply of doubles (x87).  The matrices hold small
 * integers so that every product and sum is exact: the checksum is then the
 * same on the x87 and on SSE2, and a guest's result can be compared with the
 * host's.  Prints one line per kernel and a final "cpubench checksum" line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef unsigned int u32;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift32: the same pseudo-random words on every machine. */
static u32 rng_state = 2463534242u;

static u32 rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static u32 crc_table[256];

static void crc_init(void)
{
	for (u32 i = 0; i < 256; i++) {
		u32 c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static u32 crc32_buf(u32 crc, const unsigned char *p, size_t len)
{
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static u32 bench_crc(int scale)
{
	size_t len = 256 * 1024;
	unsigned char *buf = malloc(len);
	u32 crc = 0;

	if (!buf)
		abort();
	for (size_t i = 0; i < len; i++)
		buf[i] = rng();
	crc_init();
	for (int r = 0; r < 32 * scale; r++)
		crc = crc32_buf(crc, buf, len);
	free(buf);
	return crc;
}

static void insertion_sort(u32 *a, long n)
{
	for (long i = 1; i < n; i++) {
		u32 v = a[i];
		long j = i - 1;

		while (j >= 0 && a[j] > v) {
			a[j + 1] = a[j];
			j--;
		}
		a[j + 1] = v;
	}
}

/* Quicksort, median of three, recursing into the smaller half. */
static void quick_sort(u32 *a, long n)
{
	while (n > 16) {
		u32 x = a[0], y = a[n / 2], z = a[n - 1];
		u32 pivot = x < y ? (y < z ? y : (x < z ? z : x))
				  : (x < z ? x : (y < z ? z : y));
		long i = 0, j = n - 1;

		while (i <= j) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j) {
				u32 t = a[i];

				a[i++] = a[j];
				a[j--] = t;
			}
		}
		if (j + 1 < n - i) {
			quick_sort(a, j + 1);
			a += i;
			n -= i;
		} else {
			quick_sort(a + i, n - i);
			n = j + 1;
		}
	}
	insertion_sort(a, n);
}

static u32 bench_sort(int scale)
{
	long n = 300000L * scale;
	u32 *a = malloc(n * sizeof(*a));
	u32 sum = 0;

	if (!a)
		abort();
	for (long i = 0; i < n; i++)
		a[i] = rng();
	quick_sort(a, n);
	for (long i = 0; i < n; i++) {
		if (i && a[i - 1] > a[i])
			return 0;	/* not sorted: a wrong checksum */
		sum = sum * 31 + a[i];
	}
	free(a);
	return sum;
}

static u32 bench_matmul(int scale)
{
	int n = 100;
	double *a = malloc(sizeof(double) * n * n);
	double *b = malloc(sizeof(double) * n * n);
	double *c = malloc(sizeof(double) * n * n);
	double total = 0;

	if (!a || !b || !c)
		abort();
	for (int i = 0; i < n * n; i++) {
		a[i] = (double)(rng() % 7) - 3;
		b[i] = (double)(rng() % 5) - 2;
	}
	for (int r = 0; r < 8 * scale; r++) {
		for (int i = 0; i < n; i++)
			for (int j = 0; j < n; j++) {
				double s = 0;

				for (int k = 0; k < n; k++)
					s += a[i * n + k] * b[k * n + j];
				c[i * n + j] = s;
			}
		for (int i = 0; i < n * n; i++) {
			total += c[i];
			/* Small integers again, so the next round is exact. */
			a[i] = (double)((long)c[i] % 5);
		}
	}
	free(a);
	free(b);
	free(c);
	return (u32)(long long)total;
}

int main(int argc, char **argv)
{
	int scale = argc > 1 ? atoi(argv[1]) : 1;
	double t0, t1, t2, t3;
	u32 crc, srt, mat;

	if (scale < 1 || scale > 1000) {
		fprintf(stderr, "cpubench: SCALE must be 1..1000\n");
		return 2;
	}
	t0 = now();
	crc = bench_crc(scale);
	t1 = now();
	srt = bench_sort(scale);
	t2 = now();
	mat = bench_matmul(scale);
	t3 = now();
	printf("cpubench crc32 %08x %.3f s\n", crc, t1 - t0);
	printf("cpubench sort %08x %.3f s\n", srt, t2 - t1);
	printf("cpubench matmul %08x %.3f s\n", mat, t3 - t2);
	printf("cpubench checksum %08x total %.3f s\n", crc ^ srt ^ mat,
	       t3 - t0);
	return 0;
}
